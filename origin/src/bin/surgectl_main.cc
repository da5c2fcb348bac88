// surgectl: what operators use. Every call to the origin's admin API is signed (admin_auth.h).
//
//   surgectl [--origin URL] [--admin-keys FILE] COMMAND ...
//     catalog import FILE            CSV or JSON (by extension); nothing imported on any bad row
//     catalog generate [--clinics N] [--days N] [--seed N] [--first-date YYYY-MM-DD]
//                                    writes a generated catalog as CSV to stdout (no origin)
//     publish                        re-publish every snapshot now
//     snapshot push NAME FILE [--content-type TYPE]
//     snapshot ls | snapshot rm NAME
//     stats
//     queue status | open | close | pause | resume | rate N | revoke | opening TIME
//                                    the waiting room (rate 0: follow the store)
//     keys new ID                    prints a new keyring line "ID <64 hex>" (no origin)
//
// Defaults: --origin $SURGE_ORIGIN or http://127.0.0.1:8081,
//           --admin-keys $SURGE_ADMIN_KEYS or var/admin-keys.conf
#include <openssl/rand.h>

#include <ctime>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "surge/cache/keyring.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/catalog_generator.h"
#include "surge/origin/catalog_import.h"
#include "surge/origin/http_client.h"

namespace {

using namespace surge;

[[noreturn]] void die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "surgectl: %s\n", message.c_str());
  std::exit(code);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: surgectl [--origin URL] [--admin-keys FILE] COMMAND\n"
               "  catalog import FILE\n"
               "  catalog generate [--clinics N] [--days N] [--seed N] [--first-date DATE]\n"
               "  publish\n"
               "  snapshot push NAME FILE [--content-type TYPE] | snapshot ls | snapshot rm NAME\n"
               "  queue status | open | close | pause | resume | rate N (0: auto) | revoke\n"
               "  queue opening UNIX_SECONDS | +SECONDS   (pre-queue until then, shuffled at it)\n"
               "  stats\n"
               "  keys new ID\n");
  std::exit(2);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) die("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    die("no randomness available");
  }
  return cache::encodeHex(raw);
}

struct Admin {
  std::string origin;
  std::string keys_path;

  // Sends a signed request; prints the answer body; exits non-zero on a non-2xx answer.
  int call(const std::string& method, const std::string& target, const std::string& body = "",
           const std::string& content_type = "") {
    auto keys = cache::Keyring::load(keys_path);
    if (!keys) die(keys.error() + " (set --admin-keys or SURGE_ADMIN_KEYS)");
    auto where = origin::HttpClient::parseOrigin(origin);
    if (!where) die(where.error());
    origin::HttpClient client(where->first, where->second, std::chrono::seconds(600));
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    origin::SignedHeaders h =
        origin::signAdminRequest(keys->signingKey(), method, target, body, now, randomHex(16));
    std::vector<std::pair<std::string, std::string>> headers = {{"X-Surge-Key", h.key_id},
                                                                {"X-Surge-Timestamp", h.timestamp},
                                                                {"X-Surge-Nonce", h.nonce},
                                                                {"X-Surge-Signature", h.signature},
                                                                {"Connection", "close"}};
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    auto r = client.request(method, target, headers, body);
    if (!r) die(origin + ": " + r.error());
    if (!r->body.empty()) std::printf("%s\n", r->body.c_str());
    if (r->status / 100 != 2) {
      std::fprintf(stderr, "surgectl: %s %s: HTTP %d\n", method.c_str(), target.c_str(), r->status);
      return 1;
    }
    return 0;
  }
};

int generate(const std::vector<std::string>& args) {
  origin::CatalogGeneratorOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage();
      return args[++i];
    };
    if (args[i] == "--clinics") {
      o.clinics = std::strtoul(value().c_str(), nullptr, 10);
    } else if (args[i] == "--days") {
      o.days = std::atoi(value().c_str());
    } else if (args[i] == "--seed") {
      o.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (args[i] == "--first-date") {
      o.first_date = value();
    } else {
      usage();
    }
  }
  if (auto problem = origin::checkGeneratorOptions(o)) die(*problem);
  std::string csv =
      origin::generatedCatalogComment(o) + origin::writeCatalogCsv(origin::generateCatalog(o));
  std::fwrite(csv.data(), 1, csv.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Admin admin;
  const char* env_origin = std::getenv("SURGE_ORIGIN");
  const char* env_keys = std::getenv("SURGE_ADMIN_KEYS");
  admin.origin = env_origin ? env_origin : "http://127.0.0.1:8081";
  admin.keys_path = env_keys ? env_keys : "var/admin-keys.conf";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--origin" && i + 1 < argc) {
      admin.origin = argv[++i];
    } else if (a == "--admin-keys" && i + 1 < argc) {
      admin.keys_path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
    } else {
      args.push_back(a);
    }
  }
  if (args.empty()) usage();
  const std::string& cmd = args[0];
  auto arg = [&](size_t i) -> const std::string& {
    if (i >= args.size()) usage();
    return args[i];
  };

  if (cmd == "catalog" && arg(1) == "import") {
    const std::string& file = arg(2);
    std::string text = readFile(file);
    bool json = origin::catalogFormatFor(file) == origin::CatalogFormat::kJson;
    // Check locally first: the operator sees every problem with its line without a round trip.
    auto parsed = origin::parseCatalog(
        text, json ? origin::CatalogFormat::kJson : origin::CatalogFormat::kCsv, file);
    if (!parsed) {
      for (const auto& p : parsed.error())
        std::fprintf(stderr, "%s\n", p.toString().c_str());
      die("nothing imported: " + std::to_string(parsed.error().size()) + " problem(s)");
    }
    return admin.call("POST", std::string("/admin/v1/catalog?format=") + (json ? "json" : "csv"),
                      text, json ? "application/json" : "text/csv");
  }
  if (cmd == "catalog" && arg(1) == "generate") {
    return generate(std::vector<std::string>(args.begin() + 2, args.end()));
  }
  if (cmd == "publish") return admin.call("POST", "/admin/v1/publish");
  if (cmd == "stats") return admin.call("GET", "/admin/v1/stats");
  if (cmd == "snapshot" && arg(1) == "ls") return admin.call("GET", "/admin/v1/snapshots");
  if (cmd == "snapshot" && arg(1) == "rm") {
    return admin.call("DELETE", "/admin/v1/snapshots/" + arg(2));
  }
  if (cmd == "snapshot" && arg(1) == "push") {
    std::string name = arg(2);
    std::string body = readFile(arg(3));
    std::string type = "application/json";
    if (args.size() == 6 && args[4] == "--content-type")
      type = args[5];
    else if (args.size() != 4)
      usage();
    return admin.call("PUT", "/admin/v1/snapshots/" + name, body, type);
  }
  if (cmd == "queue") {
    const std::string& action = arg(1);
    if (action == "status") return admin.call("GET", "/admin/v1/queue");
    if (action == "rate") return admin.call("POST", "/admin/v1/queue/rate?value=" + arg(2));
    if (action == "opening") {
      // UNIX seconds, or +N: N seconds from now
      std::string at = arg(2);
      if (!at.empty() && at[0] == '+') {
        at = std::to_string(std::time(nullptr) + std::strtoll(at.c_str() + 1, nullptr, 10));
      }
      return admin.call("POST", "/admin/v1/queue/opening?at=" + at);
    }
    if (action == "open" || action == "close" || action == "pause" || action == "resume" ||
        action == "revoke") {
      return admin.call("POST", "/admin/v1/queue/" + action);
    }
    usage();
  }
  if (cmd == "keys" && arg(1) == "new") {
    if (!cache::isValidKeyId(arg(2))) die("invalid key id (1-32 characters of A-Z a-z 0-9 . _ -)");
    std::printf("%s %s\n", arg(2).c_str(), randomHex(32).c_str());
    return 0;
  }
  usage();
}
