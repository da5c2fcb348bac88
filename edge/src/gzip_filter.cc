#include "surge/edge/gzip_filter.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <list>
#include <unordered_map>

#include "surge/edge/static_files.h"
#include "surge/http/request_parser.h"

namespace surge::edge {
namespace {

using http::headerValue;

bool typeListed(const GzipSettings& gzip, std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  if (http::equalsIgnoreCase(type, "text/html")) return true;
  for (const std::string& t : gzip.types) {
    if (t == "*" || http::equalsIgnoreCase(type, t)) return true;
  }
  return false;
}

// The largest answer compressed on the fly (see gzipAnswer).
constexpr uint64_t kMaxCompressed = 4 << 20;

// A worker's compressed files, by the file's identity, the part sent and the level: least
// recently used first out past kBudget bytes. One per worker thread (no lock).
class CompressedFiles {
 public:
  std::shared_ptr<const std::string> find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  void add(std::string key, std::shared_ptr<const std::string> gz) {
    if (gz->size() > kBudget / 4) return;  // never worth evicting everything for
    bytes_ += gz->size();
    order_.emplace_front(key, std::move(gz));
    index_[std::move(key)] = order_.begin();
    while (bytes_ > kBudget) {
      bytes_ -= order_.back().second->size();
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  static constexpr size_t kBudget = 16 << 20;
  using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
  std::list<Entry> order_;
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
};

// The gzip of the file part `r` sends (nullptr when it cannot be read).
std::shared_ptr<const std::string> compressedFile(const http::Response& r, int level) {
  thread_local CompressedFiles cache;
  struct stat st {};
  if (fstat(r.file->fd, &st) != 0) return nullptr;
  std::string key = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                    ":" + std::to_string(st.st_size) + ":" + std::to_string(r.file_offset) + "+" +
                    std::to_string(r.file_length) + "@" + std::to_string(level);
  if (auto found = cache.find(key)) return found;
  std::string raw(r.file_length, '\0');
  size_t done = 0;
  while (done < raw.size()) {
    ssize_t n = pread(r.file->fd, raw.data() + done, raw.size() - done,
                      static_cast<off_t>(r.file_offset + done));
    if (n <= 0) return nullptr;
    done += static_cast<size_t>(n);
  }
  std::string gz = gzipCompress(raw, level);
  if (gz.empty()) return nullptr;
  auto shared = std::make_shared<const std::string>(std::move(gz));
  cache.add(std::move(key), shared);
  return shared;
}

}  // namespace

std::string gzipCompress(std::string_view raw, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer.
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, raw.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  size_t n = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return {};
  out.resize(n);
  return out;
}

bool readGzipDirective(ConfigReader& r, const Directive& d, GzipSettings& gzip, bool& handled) {
  const std::string& n = d.name;
  handled = true;
  if (n == "gzip") return r.onOff(d, gzip.on);
  if (n == "gzip_vary") return r.onOff(d, gzip.vary);
  if (n == "gzip_comp_level") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t level = 0;
    if (!r.number(d, d.args[0], 1, 9, level)) return false;
    gzip.level = static_cast<int>(level);
    return true;
  }
  if (n == "gzip_min_length") return r.size(d, gzip.min_length);
  if (n == "gzip_types") {
    if (!r.args(d, 1, 64)) return false;
    gzip.types.clear();
    for (const std::string& t : d.args) {
      if (t != "text/html") gzip.types.push_back(t);  // nginx: text/html is always there
    }
    return true;
  }
  if (n == "gzip_http_version") {
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0] != "1.0" && d.args[0] != "1.1") {
      return r.fail(d, "invalid value \"" + d.args[0] + "\" in \"gzip_http_version\"");
    }
    gzip.http_1_0 = d.args[0] == "1.0";
    return true;
  }
  if (n == "gzip_proxied") {
    // nginx also decides by the answer's Cache-Control, Expires, Last-Modified and ETag for
    // requests through a proxy (expired, no-cache, ...): surge knows only off and any.
    if (!r.args(d, 1, 9)) return false;
    if (d.args.size() != 1 || (d.args[0] != "off" && d.args[0] != "any")) {
      return r.fail(d, "\"gzip_proxied\" takes off or any in surge (not \"" + d.args.back() +
                           "\"); see nginx-compat/DIFFERENCES.md");
    }
    gzip.proxied_any = d.args[0] == "any";
    return true;
  }
  if (n == "gzip_disable") {
    if (!r.args(d, 1, 16)) return false;
    for (const std::string& a : d.args) {
      if (a == "msie6") {
        gzip.disable_msie6 = true;
        continue;
      }
      auto regex = nginx_compat::Regex::compile(a, true);
      if (!regex) return r.fail(d, regex.error());
      gzip.disable.push_back(*regex);
    }
    return true;
  }
  if (n == "gzip_buffers") {
    // nginx's output buffers for streamed compression: surge compresses whole answers.
    return r.args(d, 2, 2);
  }
  handled = false;
  return true;
}

void gzipAnswer(const GzipSettings& gzip, const http::Request& request, http::Response& r) {
  // nginx's header filter (HEAD included: its answer says what the GET's would, and carries the
  // compressed length here): what the answer is decides first, then (with "Vary" owed to any
  // answer that passed so far) what the client takes.
  if (!gzip.on || (r.status != 200 && r.status != 403 && r.status != 404)) return;
  if (headerValue(r.headers, "Content-Encoding")) return;
  uint64_t length = r.file ? r.file_length : r.shared_owner ? r.shared_body.size() : r.body.size();
  if (length < gzip.min_length) return;
  // surge compresses whole answers on the worker's loop: past kMaxCompressed bytes the answer
  // goes as it is (nginx would stream it; DIFFERENCES.md) rather than stall every connection
  // of the worker while a large file is read and deflated.
  if (length > kMaxCompressed) return;
  std::optional<std::string_view> type = headerValue(r.headers, "Content-Type");
  if (!type || !typeListed(gzip, *type)) return;
  if (gzip.vary) {
    // One "Vary: Accept-Encoding" however many reasons there are (nginx keeps one flag).
    std::optional<std::string_view> vary = headerValue(r.headers, "Vary");
    if (!vary || vary->find("Accept-Encoding") == std::string_view::npos)
      r.headers += "Vary: Accept-Encoding\r\n";
  }
  if (chooseCoding(request.header("Accept-Encoding"), false, false, true) != Coding::kGzip) return;
  std::string_view agent = request.header("User-Agent");
  if (gzip.disable_msie6) {
    // nginx's msie6: MSIE 4, 5 and 6, unless SV1.
    size_t at = agent.find("MSIE ");
    if (at != std::string_view::npos && at + 5 < agent.size() && agent[at + 5] >= '4' &&
        agent[at + 5] <= '6' && agent.find("SV1") == std::string_view::npos) {
      return;
    }
  }
  for (const auto& regex : gzip.disable) {
    if (regex->match(agent)) return;
  }
  if (request.version_major == 1 && request.version_minor == 0 && !gzip.http_1_0) return;
  if (!request.header("Via").empty() && !gzip.proxied_any) return;
  std::shared_ptr<const std::string> gz;
  if (r.file) {
    gz = compressedFile(r, gzip.level);
  } else {
    std::string out =
        gzipCompress(r.shared_owner ? r.shared_body : std::string_view(r.body), gzip.level);
    if (!out.empty()) gz = std::make_shared<const std::string>(std::move(out));
  }
  if (!gz) return;  // answered as it is
  r.file.reset();
  r.file_offset = r.file_length = 0;
  r.body.clear();
  r.shared_owner = gz;
  r.shared_body = *gz;
  r.headers += "Content-Encoding: gzip\r\n";
  http::removeHeader(r, "Accept-Ranges");
  if (std::optional<std::string_view> etag = headerValue(r.headers, "ETag");
      etag && !etag->starts_with("W/")) {
    std::string weak = "W/" + std::string(*etag);
    http::setHeader(r, "ETag", weak);
  }
}

}  // namespace surge::edge
