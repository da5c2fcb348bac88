// surgectl: what operators use. Every call to the origin's admin API is signed (admin_auth.h).
//
//   surgectl [--config FILE] [--origin URL] [--admin-keys FILE] COMMAND ...
//     catalog import FILE            CSV or JSON (by extension); nothing imported on any bad row
//     catalog generate [--clinics N] [--days N] [--seed N] [--first-date YYYY-MM-DD|today]
//                                    writes a generated catalog as CSV to stdout (no origin)
//     publish [--no-wait]            re-publish every snapshot; waits and prints what it did
//     snapshot push NAME FILE [--content-type TYPE]
//     snapshot ls | snapshot rm NAME
//     stats
//     purge TAG...                   CDNs drop what carries these tags (snap.clinic.7,
//     region.11110,
//                                    a deploy tag), through origin's --cdn-purge endpoints, at once
//     queue status | open | close | pause | resume | rate N | factor F | revoke | opening TIME
//     queue verify EDGE_URL|FILE [--commitment HEX] [--save FILE]
//                                    the waiting room (rate 0: follow the store)
//     keys new ID                    prints a new keyring line "ID <64 hex>" (no origin)
//
// Where it finds the origin and the keys, first match wins: --origin / --admin-keys, then
// $SURGE_ORIGIN / $SURGE_ADMIN_KEYS, then a config file - --config, $SURGE_CONFIG,
// /etc/surge/surgectl.conf, or the demo's var/surgectl.conf beside the build this surgectl
// belongs to - whose relative paths are relative to the file itself, never to the directory
// surgectl is run from. Config lines: "origin URL", "admin_keys PATH"; '#' starts a comment.
#include <openssl/rand.h>
#include <unistd.h>

#include <ctime>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "surge/base/file.h"
#include "surge/cache/cache_tags.h"
#include "surge/cache/keyring.h"
#include "surge/cache/queue_draw.h"
#include "surge/cache/snapshot_names.h"
#include "surge/http/client.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/calendar.h"
#include "surge/origin/catalog_generator.h"
#include "surge/origin/catalog_import.h"
#include "surge/origin/open_store.h"
#include "surge/origin/postgres_connection.h"
#include "surge/origin/postgres_schema.h"
#include "surge/origin/time_zone.h"

namespace {

using namespace surge;
namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: surgectl [--config FILE] [--origin URL] [--admin-keys FILE] COMMAND\n"
    "  catalog import FILE\n"
    "  catalog generate [--clinics N] [--days N] [--seed N] [--first-date DATE|today]\n"
    "  publish [--no-wait]\n"
    "  snapshot push NAME FILE [--content-type TYPE] | snapshot ls | snapshot rm NAME\n"
    "  queue status | open | close | pause | resume | rate N (0: auto) | revoke\n"
    "  queue factor F   (admitted people per seat left, 1..100; 0: seats are not counted)\n"
    "  queue attack on [BITS] | off   (a new ticket needs a proof of work of BITS, default 18)\n"
    "  queue verify EDGE_URL|FILE [--commitment HEX] [--save FILE]   (the pre-queue draw, from\n"
    "                   what is published: exit 0 verified, 1 not, 2 not published yet)\n"
    "  queue opening TIME | +SECONDS   (pre-queue until then, shuffled at it; TIME is RFC 3339\n"
    "                                  like 2026-12-06T09:00:00+09:00, or Unix seconds)\n"
    "  stats\n"
    "  keys new ID\n"
    "  store migrate --store postgresql://...|PATH   (create or upgrade the store's schema;\n"
    "                                  run before origins start on a new release)\n"
    "Config: --config FILE, $SURGE_CONFIG, /etc/surge/surgectl.conf or the demo's\n"
    "var/surgectl.conf; lines \"origin URL\" and \"admin_keys PATH\" (relative to the file).\n";

[[noreturn]] void die(const std::string& message, int code = 1) {
  std::fprintf(stderr, "surgectl: %s\n", message.c_str());
  std::exit(code);
}

// A mistake on the command line: said with the usage, exit 2.
[[noreturn]] void usage(const std::string& problem = "") {
  if (!problem.empty()) std::fprintf(stderr, "surgectl: %s\n", problem.c_str());
  std::fputs(kUsage, stderr);
  std::exit(2);
}

std::string readFile(const std::string& path) {
  std::optional<std::string> text = base::readFile(path);
  if (!text) die("cannot read " + path);
  return std::move(*text);
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    die("no randomness available");
  }
  return cache::encodeHex(raw);
}

// Where surgectl talks to, and with which keys.
struct Settings {
  std::string origin;
  std::string keys_path;
  std::string config_path;  // the config file read, if any
};

// The demo's config: var/surgectl.conf of the checkout this binary was built in
// (build/origin/surgectl -> ../../var/surgectl.conf).
std::string demoConfig() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  return (self.parent_path().parent_path().parent_path() / "var" / "surgectl.conf").string();
}

// Reads "origin URL" and "admin_keys PATH" lines; a relative path is taken from the file's own
// directory. Errors name the file and line.
void readConfig(const std::string& path, Settings& s) {
  std::ifstream in(path);
  if (!in) die("cannot read the config " + path);
  s.config_path = path;
  const fs::path dir = fs::absolute(fs::path(path)).parent_path();
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string key, value, extra;
    if (!(words >> key)) continue;
    if (!(words >> value) || (words >> extra)) {
      die(path + ":" + std::to_string(n) + ": expected \"" + key + " VALUE\"", 2);
    }
    if (key == "origin") {
      if (s.origin.empty()) s.origin = value;
    } else if (key == "admin_keys") {
      if (s.keys_path.empty()) {
        s.keys_path = fs::path(value).is_absolute() ? value : (dir / value).string();
      }
    } else {
      die(path + ":" + std::to_string(n) + ": unknown setting \"" + key + "\" (origin, admin_keys)",
          2);
    }
  }
}

struct Admin {
  Settings settings;

  // Sends a signed request; returns the answer; exits non-zero on a failure to reach origin.
  http::HttpResponse send(const std::string& method, const std::string& target,
                          const std::string& body = "", const std::string& content_type = "") {
    if (settings.keys_path.empty()) {
      die("no admin keys: give --admin-keys FILE, SURGE_ADMIN_KEYS, or admin_keys in a config "
          "(--config, SURGE_CONFIG, /etc/surge/surgectl.conf)");
    }
    auto keys = cache::Keyring::load(settings.keys_path);
    if (!keys) {
      die(keys.error() +
          (settings.config_path.empty() ? "" : " (from " + settings.config_path + ")"));
    }
    auto where = http::HttpClient::parseOrigin(settings.origin);
    if (!where) die(where.error());
    http::HttpClient client(where->first, where->second, std::chrono::seconds(600));
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
    if (!r) die(settings.origin + ": " + r.error());
    return r.value();
  }

  // Prints the answer body; exits non-zero on a non-2xx answer.
  int call(const std::string& method, const std::string& target, const std::string& body = "",
           const std::string& content_type = "") {
    http::HttpResponse r = send(method, target, body, content_type);
    if (!r.body.empty()) std::printf("%s\n", r.body.c_str());
    return failed(method, target, r);
  }

  static int failed(const std::string& method, const std::string& target,
                    const http::HttpResponse& r) {
    if (r.status / 100 == 2) return 0;
    std::fprintf(stderr, "surgectl: %s %s: HTTP %d\n", method.c_str(), target.c_str(), r.status);
    return 1;
  }

  // A full publish, waited for: what it did, as a sentence.
  int publish(bool wait) {
    if (!wait) return call("POST", "/admin/v1/publish");
    http::HttpResponse r = send("POST", "/admin/v1/publish?wait=1");
    auto json = nlohmann::json::parse(r.body, nullptr, false);
    if (json.is_discarded() || !json.contains("published")) {
      if (!r.body.empty()) std::printf("%s\n", r.body.c_str());
      return failed("POST", "/admin/v1/publish", r);
    }
    const auto& p = json["published"];
    std::printf(
        "published %llu regions, %llu clinics and %llu operator snapshots in %.1f s; %llu with "
        "new content, %llu not written%s\n",
        p.value("regions", 0ull), p.value("clinics", 0ull), p.value("named", 0ull),
        p.value("seconds", 0.0), p.value("changed", 0ull), p.value("failed", 0ull),
        p.value("failed", 0ull) > 0 ? " (memcached unreachable: origin retries them)" : "");
    return failed("POST", "/admin/v1/publish", r);
  }
};

int generate(const std::vector<std::string>& args) {
  origin::CatalogGeneratorOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage(args[i] + " needs a value");
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
      if (o.first_date == "today") {
        // Today where the slots are (the catalog's default zone), not where surgectl runs.
        auto zone = origin::TimeZone::load(origin::kDefaultTimeZone);
        if (!zone) die(zone.error());
        o.first_date = origin::formatDate(zone->localTime(origin::unixNowMs()).day);
      }
    } else {
      usage("unknown option " + args[i] + " for catalog generate");
    }
  }
  if (auto problem = origin::checkGeneratorOptions(o)) die(*problem);
  std::string csv =
      origin::generatedCatalogComment(o) + origin::writeCatalogCsv(origin::generateCatalog(o));
  std::fwrite(csv.data(), 1, csv.size(), stdout);
  return 0;
}

// A snapshot name from the command line, refused before anything is sent.
const std::string& snapshotName(const std::string& name) {
  if (!cache::isValidNamedSnapshot(name)) {
    usage("invalid snapshot name \"" + name +
          "\": 1-64 characters of a-z 0-9 . _ -, not starting with a dot");
  }
  return name;
}

// "opening" TIME: RFC 3339, Unix seconds, or +SECONDS from now.
std::string openingSeconds(const std::string& at) {
  if (!at.empty() && at[0] == '+' && at.size() > 1 &&
      at.find_first_not_of("0123456789", 1) == std::string::npos) {
    return std::to_string(std::time(nullptr) + std::strtoll(at.c_str() + 1, nullptr, 10));
  }
  if (!at.empty() && at.find_first_not_of("0123456789") == std::string::npos) return at;
  if (auto ms = origin::parseTimestamp(at); ms && *ms >= 0) return std::to_string(*ms / 1000);
  usage("invalid opening time \"" + at +
        "\": RFC 3339 (2026-12-06T09:00:00+09:00), Unix seconds, or +SECONDS");
}

}  // namespace

// Applies the migrations a PostgreSQL store lacks; a SQLite file is upgraded by opening it (its
// layout changes are small and run at open).
int migrateStore(const std::string& spec) {
  if (origin::isPostgresConnectionString(spec)) {
    auto db = origin::PostgresConnection::connect(spec, "surgectl");
    if (!db) die(db.error());
    auto migrated = origin::migratePostgresSchema(db.value());
    if (!migrated) die("nothing changed: " + migrated.error());
    if (migrated->from == migrated->to) {
      std::printf("store: schema is current (version %d)\n", migrated->to);
    } else {
      std::printf("store: schema migrated from version %d to %d\n", migrated->from, migrated->to);
    }
    return 0;
  }
  auto store = origin::openBookingStore(spec);
  if (!store) die(store.error());
  std::printf("store: %s is current\n", spec.c_str());
  return 0;
}

// queue verify SOURCE [--commitment HEX] [--save FILE]: the pre-queue draw checked from what was
// published (surge/cache/queue_draw.h). SOURCE is an edge (http://HOST:PORT: every page of
// /api/v1/queue/draw) or a file of the same fields with every entry (what --save writes).
// --commitment: the one saved before the opening (else the draw's own is taken). Exit 0 when it
// holds, 1 when it does not, 2 when nothing is published yet.
int verifyDraw(const std::vector<std::string>& args) {
  std::string source, committed, save;
  for (size_t i = 2; i < args.size(); ++i) {
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage(args[i] + " needs a value");
      return args[++i];
    };
    if (args[i] == "--commitment")
      committed = value();
    else if (args[i] == "--save")
      save = value();
    else if (source.empty())
      source = args[i];
    else
      usage("unexpected argument \"" + args[i] + "\"");
  }
  if (source.empty()) usage("queue verify EDGE_URL|FILE [--commitment HEX] [--save FILE]");
  nlohmann::json doc;
  if (source.rfind("http://", 0) == 0) {
    auto where = http::HttpClient::parseOrigin(source);
    if (!where) die(where.error());
    http::HttpClient client(where->first, where->second, std::chrono::seconds(30));
    for (uint64_t from = 1;;) {
      auto r = client.request("GET", "/api/v1/queue/draw?from=" + std::to_string(from) +
                                         "&count=" + std::to_string(cache::kDrawPage));
      if (!r) die(source + ": " + r.error());
      if (r->status != 200) die(source + ": " + std::to_string(r->status) + " " + r->body);
      auto page = nlohmann::json::parse(r->body, nullptr, false);
      if (page.is_discarded()) die(source + ": not JSON");
      if (doc.is_null()) {
        doc = page;
        doc.erase("from");
        doc.erase("next");
      } else {
        for (auto& e : page["entries"])
          doc["entries"].push_back(e);
      }
      if (!page["next"].is_number_unsigned()) break;
      from = page["next"].get<uint64_t>();
    }
  } else {
    doc = nlohmann::json::parse(readFile(source), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) die(source + ": not a JSON object");
  }
  if (!save.empty()) {
    std::ofstream out(save);
    out << doc.dump() << '\n';
    if (!out) die("cannot write " + save);
  }
  auto text = [&](const char* name) {
    return doc.contains(name) && doc[name].is_string() ? doc[name].get<std::string>() : "";
  };
  cache::QueueDraw draw;
  draw.commitment = text("commitment");
  draw.seed = text("seed");
  if (draw.seed.empty()) {
    std::printf("nothing to verify yet: the seed is published at the opening; commitment %s\n",
                draw.commitment.empty() ? "(none: no opening time set)" : draw.commitment.c_str());
    return 2;
  }
  if (text("function") != cache::kDrawFunction)
    die("unknown draw function \"" + text("function") + "\"");
  if (!doc["prequeue"].is_number_unsigned() || !doc["entries"].is_array()) {
    die("the draw needs \"prequeue\" and \"entries\"");
  }
  draw.prequeue = doc["prequeue"].get<uint64_t>();
  for (const auto& e : doc["entries"]) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() ||
        !e[1].is_number_unsigned()) {
      die("an entry is not [number, place]: " + e.dump());
    }
    draw.entries.emplace_back(e[0].get<uint64_t>(), e[1].get<uint64_t>());
  }
  auto ok = cache::verifyQueueDraw(draw, committed);
  if (!ok) {
    std::printf("NOT verified: %s\n", ok.error().c_str());
    return 1;
  }
  std::printf("verified: %llu pre-queue tickets in the order seed %s gives; its commitment %s%s\n",
              static_cast<unsigned long long>(draw.prequeue), draw.seed.c_str(),
              draw.commitment.c_str(),
              committed.empty() ? " (the draw's own: give --commitment with the one saved before "
                                  "the opening)"
                                : " is the one saved before the opening");
  return 0;
}

int main(int argc, char** argv) {
  Admin admin;
  std::string config;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--origin") {
      admin.settings.origin = value();
    } else if (a == "--admin-keys") {
      admin.settings.keys_path = value();
    } else if (a == "--config") {
      config = value();
    } else if (a == "-h" || a == "--help" || (args.empty() && a == "help")) {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (const char* env = std::getenv("SURGE_ORIGIN"); env && admin.settings.origin.empty()) {
    admin.settings.origin = env;
  }
  if (const char* env = std::getenv("SURGE_ADMIN_KEYS"); env && admin.settings.keys_path.empty()) {
    admin.settings.keys_path = env;
  }
  if (config.empty()) {
    if (const char* env = std::getenv("SURGE_CONFIG")) config = env;
  }
  if (config.empty()) {
    std::error_code ec;
    for (const std::string& candidate : {std::string("/etc/surge/surgectl.conf"), demoConfig()}) {
      if (!candidate.empty() && fs::exists(candidate, ec)) {
        config = candidate;
        break;
      }
    }
  }
  if (!config.empty()) readConfig(config, admin.settings);
  if (admin.settings.origin.empty()) admin.settings.origin = "http://127.0.0.1:8081";

  if (args.empty()) usage();
  const std::string& cmd = args[0];
  auto arg = [&](size_t i) -> const std::string& {
    if (i >= args.size()) usage(cmd + ": missing argument");
    return args[i];
  };
  auto noMore = [&](size_t n) {
    if (args.size() > n) usage("unexpected argument \"" + args[n] + "\"");
  };

  if (cmd == "catalog" && arg(1) == "import") {
    noMore(3);
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
  if (cmd == "publish") {
    bool wait = true;
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] != "--no-wait") usage("unknown option " + args[i] + " for publish");
      wait = false;
    }
    return admin.publish(wait);
  }
  if (cmd == "purge") {
    if (args.size() < 2) usage("purge TAG...");
    nlohmann::json body = {{"tags", nlohmann::json::array()}};
    for (size_t i = 1; i < args.size(); ++i) {
      if (!cache::isValidCacheTag(args[i])) {
        usage("invalid tag \"" + args[i] + "\" (1-128 characters of A-Z a-z 0-9 . _ -)");
      }
      body["tags"].push_back(args[i]);
    }
    return admin.call("POST", "/admin/v1/purge", body.dump(), "application/json");
  }
  if (cmd == "stats") {
    noMore(1);
    return admin.call("GET", "/admin/v1/stats");
  }
  if (cmd == "snapshot" && arg(1) == "ls") {
    noMore(2);
    return admin.call("GET", "/admin/v1/snapshots");
  }
  if (cmd == "snapshot" && arg(1) == "rm") {
    noMore(3);
    return admin.call("DELETE", "/admin/v1/snapshots/" + snapshotName(arg(2)));
  }
  if (cmd == "snapshot" && arg(1) == "push") {
    const std::string& name = snapshotName(arg(2));
    std::string type = "application/json";
    if (args.size() == 6 && args[4] == "--content-type") {
      type = args[5];
    } else if (args.size() != 4) {
      usage("snapshot push NAME FILE [--content-type TYPE]");
    }
    if (type.empty() || type.find_first_of("\r\n") != std::string::npos) {
      usage("invalid content type");
    }
    std::string body = readFile(arg(3));
    return admin.call("PUT", "/admin/v1/snapshots/" + name, body, type);
  }
  if (cmd == "queue") {
    const std::string& action = arg(1);
    if (action == "status") return admin.call("GET", "/admin/v1/queue");
    if (action == "verify") return verifyDraw(args);
    if (action == "rate") {
      const std::string& rate = arg(2);
      if (rate.empty() || rate.find_first_not_of("0123456789.") != std::string::npos) {
        usage("the rate is a number of tickets per second (0: auto)");
      }
      return admin.call("POST", "/admin/v1/queue/rate?value=" + rate);
    }
    if (action == "attack") {
      // on [BITS] (default 18: 2^18 hashes, about a second in a mid-range phone's page) | off
      const std::string& mode = arg(2);
      std::string bits = mode == "off" ? "0" : args.size() > 3 ? args[3] : "18";
      if ((mode != "on" && mode != "off") || bits.empty() ||
          bits.find_first_not_of("0123456789") != std::string::npos || bits.size() > 2) {
        usage("queue attack on [BITS] | off");
      }
      noMore(mode == "on" ? 4 : 3);
      return admin.call("POST", "/admin/v1/queue/attack?bits=" + bits);
    }
    if (action == "factor") {
      const std::string& factor = arg(2);
      if (factor.empty() || factor.find_first_not_of("0123456789.") != std::string::npos) {
        usage("the factor is admitted people per seat left, 1..100 (0: seats are not counted)");
      }
      return admin.call("POST", "/admin/v1/queue/factor?value=" + factor);
    }
    if (action == "opening")
      return admin.call("POST", "/admin/v1/queue/opening?at=" + openingSeconds(arg(2)));
    if (action == "open" || action == "close" || action == "pause" || action == "resume" ||
        action == "revoke") {
      noMore(2);
      return admin.call("POST", "/admin/v1/queue/" + action);
    }
    usage("unknown queue action \"" + action + "\"");
  }
  if (cmd == "store" && arg(1) == "migrate") {
    std::string spec;
    if (const char* env = std::getenv("SURGE_STORE")) spec = env;
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "--store" && i + 1 < args.size()) {
        spec = args[++i];
      } else {
        usage("store migrate --store postgresql://...|PATH");
      }
    }
    if (spec.empty()) usage("store migrate needs --store (or $SURGE_STORE)");
    return migrateStore(spec);
  }
  if (cmd == "keys" && arg(1) == "new") {
    if (!cache::isValidKeyId(arg(2))) die("invalid key id (1-32 characters of A-Z a-z 0-9 . _ -)");
    std::printf("%s %s\n", arg(2).c_str(), randomHex(32).c_str());
    return 0;
  }
  usage("unknown command \"" + cmd + "\"");
}
