#include "surge/edge/static_files.h"

#include "surge/nginx_compat/config_parser.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace surge::edge {
namespace {

using Clock = std::chrono::steady_clock;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// q-value of `coding` in Accept-Encoding: -1 when not listed (and no "*").
double qualityOf(std::string_view header, std::string_view coding) {
  double star = -1;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view item = http::trimOws(
        header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
    if (item.empty()) continue;
    std::string_view name = item, params;
    if (size_t semi = item.find(';'); semi != std::string_view::npos) {
      name = http::trimOws(item.substr(0, semi));
      params = http::trimOws(item.substr(semi + 1));
    }
    double q = 1;
    // The q parameter wherever it is among the parameters ("gzip;level=1;q=0").
    while (!params.empty()) {
      size_t semi = params.find(';');
      std::string_view param = http::trimOws(params.substr(0, semi));
      params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string value(http::trimOws(param.substr(2)));
        char* end = nullptr;
        q = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || q < 0 || q > 1) q = 0;
      }
    }
    if (http::equalsIgnoreCase(name, coding)) return q;
    if (name == "*") star = q;
  }
  return star;
}

// Where the file for `path` is under `location`: a directory (what the open-file cache roots at)
// and the path below it, starting with '/'.
std::pair<std::string, std::string> fileFor(const StaticLocation& location,
                                            const std::string& path) {
  if (location.alias.empty()) return {location.root.empty() ? "/" : location.root, path};
  std::string full =
      location.alias_whole
          ? location.alias
          : location.alias + path.substr(std::min(location.alias_prefix, path.size()));
  // Rooted at the alias itself when the rest of the path is below it; else at its parent (nginx
  // concatenates: "alias /srv/x" for "/i/" and "/i/y" is "/srv/xy").
  const std::string& a = location.alias;
  std::string root = a.size() > 1 && a.back() == '/' ? a.substr(0, a.size() - 1) : a;
  // A regex location's alias names the file; so does a prefix location's alias without a
  // trailing '/' that the path adds nothing to ("location /f { alias /srv/file; }").
  const bool names_a_file = a.back() != '/' && (location.alias_whole || full == a);
  if (!names_a_file && full.size() >= root.size() && full.compare(0, root.size(), root) == 0 &&
      (full.size() == root.size() || full[root.size()] == '/')) {
    std::string rel = full.substr(root.size());
    if (rel.empty()) rel = "/";
    return {root.empty() ? "/" : root, rel};
  }
  size_t slash = root.rfind('/');
  std::string parent = slash == 0 || slash == std::string::npos ? "/" : root.substr(0, slash);
  return {parent, full.substr(parent == "/" ? 0 : parent.size())};
}

}  // namespace

// A decoded path as a URI path again: bytes other than unreserved, sub-delims, ':', '@' and '/'
// become %XX, so that "%", spaces, non-ASCII and control bytes in a name survive a round trip.
std::string percentEncode(std::string_view bytes, std::string_view plain) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c != '\0' && plain.find(static_cast<char>(c)) != std::string_view::npos);
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int hi = -1, lo = -1;
    if (text[i] == '%' && i + 2 < text.size()) {
      hi = hexValue(text[i + 1]);
      lo = hexValue(text[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string encodeUri(std::string_view path) {
  return percentEncode(path, "-._~!$&'()*+,;=:@/");
}

std::optional<std::string> normalizePath(std::string_view raw) {
  if (raw.empty() || raw[0] != '/') return std::nullopt;
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      int hi = hexValue(raw[i + 1]), lo = hexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    decoded.push_back(c);
  }
  std::vector<std::string_view> parts;
  size_t pos = 1;
  while (pos <= decoded.size()) {
    size_t slash = decoded.find('/', pos);
    if (slash == std::string::npos) slash = decoded.size();
    std::string_view seg(decoded.data() + pos, slash - pos);
    pos = slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
      continue;
    }
    parts.push_back(seg);
  }
  std::string out;
  out.reserve(decoded.size());
  for (std::string_view seg : parts) {
    out += '/';
    out += seg;
  }
  bool trailing = decoded.back() == '/' || decoded.ends_with("/.") || decoded.ends_with("/..");
  if (out.empty() || trailing) out += '/';
  return out;
}

RangeOutcome parseRange(std::string_view header, uint64_t size, std::vector<ByteRange>& ranges) {
  ranges.clear();
  header = http::trimOws(header);
  if (header.size() < 7 || !http::equalsIgnoreCase(header.substr(0, 6), "bytes=")) {
    return RangeOutcome::kNone;
  }
  const std::string_view spec = header.substr(6);
  size_t i = 0;
  auto spaces = [&] {
    while (i < spec.size() && spec[i] == ' ')
      ++i;
  };
  auto number = [&](uint64_t& out) {
    if (i >= spec.size() || spec[i] < '0' || spec[i] > '9') return false;
    out = 0;
    for (; i < spec.size() && spec[i] >= '0' && spec[i] <= '9'; ++i) {
      const auto digit = static_cast<uint64_t>(spec[i] - '0');
      if (out > (UINT64_MAX - digit) / 10) return false;
      out = out * 10 + digit;
    }
    return true;
  };
  auto malformed = [&ranges] {
    ranges.clear();
    return RangeOutcome::kUnsatisfiable;
  };
  uint64_t total = 0;
  while (true) {
    // One part: "first-last", "first-" or "-suffix", spaces around; [start, end) below.
    spaces();
    uint64_t start = 0, end = 0, n = 0;
    bool open_ended = false;
    if (i < spec.size() && spec[i] == '-') {
      ++i;
      if (!number(n)) return malformed();
      start = n < size ? size - n : 0;
      end = size;
    } else {
      if (!number(start)) return malformed();
      spaces();
      if (i >= spec.size() || spec[i] != '-') return malformed();
      ++i;
      spaces();
      open_ended = i == spec.size() || spec[i] == ',';
      if (open_ended) {
        end = size;
      } else {
        if (!number(n)) return malformed();
        end = n >= size ? size : n + 1;
      }
    }
    spaces();
    if (i < spec.size() && spec[i] != ',') return malformed();
    if (start < end) {
      ranges.push_back({start, end - 1});
      total += end - start;
    } else if (start == 0) {
      // Nothing to cut from (an empty file): the whole of it, as nginx answers.
      ranges.clear();
      return RangeOutcome::kNone;
    }  // else a part beyond the end, or backwards ("5-3"): left out
    if (i >= spec.size()) break;
    ++i;  // the comma
  }
  if (ranges.empty()) return malformed();
  // Ranges adding up to more than the file (overlaps), or so many that the part headers outweigh
  // the parts (Apache's CVE-2011-3192 amplification): the whole file once is the cheaper answer.
  if (total > size || ranges.size() > kMaxRanges) {
    ranges.clear();
    return RangeOutcome::kWholeFile;
  }
  return RangeOutcome::kRanges;
}

Coding chooseCoding(std::string_view accept, bool have_zstd, bool have_br, bool have_gzip) {
  if (accept.empty()) return Coding::kIdentity;
  Coding best = Coding::kIdentity;
  double best_q = 0;
  auto consider = [&](bool have, Coding coding, const char* name) {
    if (!have) return;
    double q = qualityOf(accept, name);
    if (q > best_q) {
      best_q = q;
      best = coding;
    }
  };
  consider(have_zstd, Coding::kZstd, "zstd");
  consider(have_br, Coding::kBrotli, "br");
  consider(have_gzip, Coding::kGzip, "gzip");
  return best;
}

const char* codingName(Coding coding) {
  switch (coding) {
    case Coding::kZstd:
      return "zstd";
    case Coding::kBrotli:
      return "br";
    case Coding::kGzip:
      return "gzip";
    case Coding::kIdentity:
      break;
  }
  return "identity";
}

std::string_view mimeType(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},
      {"xml", "application/xml"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"avif", "image/avif"},
      {"ico", "image/x-icon"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"ttf", "font/ttf"},
      {"wasm", "application/wasm"},
      {"pdf", "application/pdf"},
      {"mp4", "video/mp4"},
      {"webm", "video/webm"},
      {"zip", "application/zip"},
      {"webmanifest", "application/manifest+json"},
  };
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string_view ext = path.substr(dot + 1);
  for (const auto& [e, type] : kTypes) {
    if (http::equalsIgnoreCase(e, ext)) return type;
  }
  return "application/octet-stream";
}

std::string_view mimeType(std::string_view path, const MimeTypes* types,
                          std::string_view default_type) {
  if (types == nullptr) {
    std::string_view own = mimeType(path);
    if (own == "application/octet-stream" && !default_type.empty()) return default_type;
    return own;
  }
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
    std::string ext(path.substr(dot + 1));
    for (char& c : ext)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = types->find(ext); it != types->end()) return it->second;
  }
  return default_type.empty() ? std::string_view("application/octet-stream") : default_type;
}

bool isHashedAssetName(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  // A run of 8+ hex digits between two separators ('.' or '-'), before the extension, with at
  // least one letter: "report-20231201.pdf" is a date, not a hash, and must not be cached for a
  // year (a real hash that happens to be all digits just gets the location's Cache-Control).
  size_t run = 0;
  bool letter = false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (hexValue(c) >= 0) {
      ++run;
      letter = letter || c > '9';
      continue;
    }
    if (c == '.' && run >= 8 && letter && i > run) {
      char before = name[i - run - 1];
      if (before == '.' || before == '-') return true;
    }
    run = 0;
    letter = false;
  }
  return false;
}

std::string httpDate(time_t t) {
  tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm_utc);
  return std::string(buf, n);
}

std::optional<time_t> parseHttpDate(std::string_view text) {
  std::string s(http::trimOws(text));
  // IMF-fixdate, then the obsolete RFC 850 and asctime forms, which RFC 9110 5.6.7 says a
  // recipient must accept too.
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    tm tm_utc{};
    const char* end = strptime(s.c_str(), format, &tm_utc);
    if (end != nullptr && *end == '\0') return timegm(&tm_utc);
  }
  return std::nullopt;
}

bool etagMatchesStrongly(std::string_view if_match, std::string_view etag) {
  etag = http::trimOws(etag);
  if (etag.substr(0, 2) == "W/") return false;  // a weak validator never matches strongly
  size_t pos = 0;
  while (pos <= if_match.size()) {
    size_t comma = if_match.find(',', pos);
    std::string_view item = http::trimOws(if_match.substr(
        pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? if_match.size() + 1 : comma + 1;
    if (item == "*" || (!item.empty() && item == etag)) return true;
  }
  return false;
}

bool etagMatches(std::string_view header, std::string_view etag) {
  auto strip = [](std::string_view e) {
    e = http::trimOws(e);
    if (e.substr(0, 2) == "W/") e.remove_prefix(2);
    return e;
  };
  std::string_view want = strip(etag);
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view item = strip(
        header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
    if (item == "*" || (!item.empty() && item == want)) return true;
  }
  return false;
}

int StaticFiles::rootFd(const std::string& root) {
  auto now = Clock::now();
  auto it = roots_.find(root);
  if (it != roots_.end()) {
    Root& r = it->second;
    if (now - r.checked < options_.revalidate) return r.fd;
    // Once per revalidate interval: is the path still that directory? A deploy that swaps a
    // `current -> releases/N` symlink must be served without a restart.
    r.checked = now;
    struct stat by_path, held;
    if (r.fd >= 0 && ::stat(root.c_str(), &by_path) == 0 && ::fstat(r.fd, &held) == 0 &&
        by_path.st_dev == held.st_dev && by_path.st_ino == held.st_ino) {
      return r.fd;
    }
    if (r.fd >= 0) ::close(r.fd);
    r.fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    // Files cached under the old directory must not be served from it any more.
    std::erase_if(files_, [&](const auto& kv) { return kv.first.rfind(root, 0) == 0; });
    return r.fd;
  }
  if (roots_.size() >= 64) {  // roots change only on reload; keep the map bounded anyway
    for (auto& [path, r] : roots_)
      if (r.fd >= 0) ::close(r.fd);
    roots_.clear();
  }
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  roots_[root] = Root{fd, now};  // a missing root (-1) is tried again after `revalidate`
  return fd;
}

StaticFiles::~StaticFiles() {
  for (auto& [path, r] : roots_)
    if (r.fd >= 0) ::close(r.fd);
}

namespace {

using Symlinks = StaticLocation::Symlinks;

// May a symlink at `path` (already lstat'ed as `link`) be followed under `mode`? kIfNotOwner
// follows one whose target has the link's owner, as nginx's if_not_owner does.
bool linkAllowed(Symlinks mode, const struct stat& link, const struct stat* target) {
  if (mode == Symlinks::kFollow) return true;
  if (mode == Symlinks::kRefuse || target == nullptr) return false;
  return link.st_uid == target->st_uid;
}

// The end of the first component of `path` past its first `from` bytes that `mode` refuses (a
// link; under kIfNotOwner a link to another owner's file), or npos: nginx checks every component
// of a file's path this way. `path` is absolute (`dir_fd` AT_FDCWD: the root's own path) or
// relative to `dir_fd` (the path beneath the root). A component that is not there ends the walk:
// the open that follows says what is missing. `last_link_uid` (when given): the owner of the last
// component when it is a link, for the caller to check the file it opened (-1 otherwise).
size_t refusedComponent(int dir_fd, const std::string& path, size_t from, Symlinks mode,
                        int64_t* last_link_uid = nullptr) {
  if (last_link_uid) *last_link_uid = -1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    if (i <= from) continue;
    const std::string prefix = path.substr(0, i);
    struct stat link, target;
    if (::fstatat(dir_fd, prefix.c_str(), &link, AT_SYMLINK_NOFOLLOW) != 0) break;
    if (!S_ISLNK(link.st_mode)) continue;
    const bool resolves = ::fstatat(dir_fd, prefix.c_str(), &target, 0) == 0;
    if (!linkAllowed(mode, link, resolves ? &target : nullptr)) return i;
    if (i == path.size() && last_link_uid) *last_link_uid = link.st_uid;
  }
  return std::string::npos;
}

// The root's own path past its first `from` bytes. Its components all lead to a directory: with
// symlinks refused, nginx fails to open them as directories and answers 404; a link if_not_owner
// refuses is a 403.
StaticFiles::Found rootCheck(const std::string& root, size_t from, Symlinks mode) {
  using Found = StaticFiles::Found;
  if (mode == Symlinks::kFollow) return Found::kFile;
  if (refusedComponent(AT_FDCWD, root, from, mode) == std::string::npos) return Found::kFile;
  return mode == Symlinks::kRefuse ? Found::kMissing : Found::kForbidden;
}

}  // namespace

namespace {

// How many leading bytes of `path` disable_symlinks leaves unchecked (nginx's from=, measured as
// nginx measures it: the length of $document_root, the root or alias, or of the literal).
size_t uncheckedPrefix(const StaticLocation& location, const std::string& path) {
  const std::string& from = location.symlinks_from;
  if (from == "$document_root")
    return (location.alias.empty() ? location.root : location.alias).size();
  if (!from.empty() && path.compare(0, from.size(), from) == 0) return from.size();
  return 0;
}

}  // namespace

StaticFiles::SymlinkRule StaticFiles::symlinkRule(const StaticLocation& location,
                                                  const std::string& root, const std::string& rel) {
  SymlinkRule rule{location.symlinks, 0};
  if (rule.mode == Symlinks::kFollow) return rule;
  const std::string full = root == "/" ? rel : root + rel;
  const size_t from = uncheckedPrefix(location, full);
  // A `from=` that covers the whole path (an alias naming the file) checks nothing; one reaching
  // into the path below the root is taken up to the root.
  if (from >= full.size()) rule.mode = Symlinks::kFollow;
  rule.from = std::min(from, root.size());
  return rule;
}

bool symlinksAllow(const StaticLocation& location, const std::string& path) {
  if (location.symlinks == Symlinks::kFollow) return true;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  const size_t from = uncheckedPrefix(location, p);
  if (from >= p.size()) return true;
  return rootCheck(p, from, location.symlinks) == StaticFiles::Found::kFile;
}

std::optional<StaticFiles::File> StaticFiles::openFile(int root_fd, const std::string& rel,
                                                       const SymlinkRule& rule, Found& found) {
  found = Found::kMissing;
  if (root_fd < 0) return std::nullopt;
  // Resolved beneath the root, whatever the path holds: a symlink (anywhere in the path) that
  // leads outside the root fails with EXDEV instead of serving the file it points to; symlinks
  // that stay inside the root work, as deploys often use them, unless disable_symlinks says no.
  // kRefuse is the kernel's RESOLVE_NO_SYMLINKS (no window between a check and the open);
  // kIfNotOwner checks each link's owner first, then the opened file's owner against the last
  // link's, so a last component swapped in between is still caught (a directory swapped in
  // between is not, as in nginx when it cannot use O_PATH).
  int64_t last_link_uid = -1;
  if (rule.mode == Symlinks::kIfNotOwner &&
      refusedComponent(root_fd, rel, 0, rule.mode, &last_link_uid) != std::string::npos) {
    found = Found::kForbidden;
    return std::nullopt;
  }
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  if (rule.mode == Symlinks::kRefuse) how.resolve |= RESOLVE_NO_SYMLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
    // Kernels before 5.6, or a seccomp profile that refuses openat2 with EPERM: refuse a symlink
    // as the last component at least (and check the others first when symlinks are refused).
    if (rule.mode == Symlinks::kRefuse &&
        refusedComponent(root_fd, rel, 0, rule.mode) != std::string::npos) {
      found = Found::kForbidden;
      return std::nullopt;
    }
    fd = ::openat(root_fd, rel.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  }
  if (fd < 0) {
    if (errno == ELOOP && rule.mode == Symlinks::kRefuse) {
      // The link refused: a 403 as the file itself, a 404 as a directory on the way (nginx).
      const size_t at = refusedComponent(root_fd, rel, 0, rule.mode);
      found = at == rel.size() ? Found::kForbidden : Found::kMissing;
    }
    if (errno == EACCES) found = Found::kForbidden;
    return std::nullopt;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  if (last_link_uid >= 0 && static_cast<int64_t>(st.st_uid) != last_link_uid) {
    ::close(fd);
    found = Found::kForbidden;
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    found = Found::kDirectory;
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::nullopt;
  }
  found = Found::kFile;
  File f;
  f.fd = std::make_shared<const http::SharedFile>(fd);
  f.size = static_cast<uint64_t>(st.st_size);
  f.mtime = st.st_mtime;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_mtime),
                static_cast<unsigned long long>(st.st_size));
  f.etag = etag;
  f.last_modified = httpDate(st.st_mtime);
  f.checked = Clock::now();
  return f;
}

const StaticFiles::Entry* StaticFiles::lookup(const std::string& root, const std::string& path,
                                              const SymlinkRule& rule) {
  auto now = Clock::now();
  // First: re-checking the root may drop the entries cached under it.
  int root_fd = rootFd(root);
  // Locations that check symlinks differently see the same path differently: each has its own.
  std::string key = root + path;
  if (rule.mode != Symlinks::kFollow) {
    key += '\0';
    key += rule.mode == Symlinks::kRefuse ? 'r' : 'o';
    key += std::to_string(rule.from);
  }
  auto it = files_.find(key);
  if (it != files_.end() && now - it->second.checked < options_.revalidate) return &it->second;
  if (it == files_.end() && files_.size() >= options_.max_entries) {
    // Full: drop what is cached as missing first, so a scan of random URLs cannot flush the hot
    // files; only a cache full of real files is emptied.
    std::erase_if(files_, [](const auto& kv) { return kv.second.missing; });
    if (files_.size() >= options_.max_entries) files_.clear();
  }
  Entry& e = files_[key];
  std::string rel = path.size() > 1 ? path.substr(1) : ".";
  // Revalidate: reuse the open descriptor while the path still names the same inode, size and
  // mtime (a path that now resolves elsewhere is reopened, beneath the root, by openFile).
  // Symlinks are checked on every open: the shortcut is for paths that may follow them.
  const Found root_found = rootCheck(root, rule.from, rule.mode);
  auto reopen = [&](const std::string& p, std::optional<File>& slot) {
    struct stat st;
    if (slot && rule.mode == Symlinks::kFollow && ::fstatat(root_fd, p.c_str(), &st, 0) == 0 &&
        S_ISREG(st.st_mode) && st.st_ino == slot->ino && st.st_dev == slot->dev &&
        static_cast<uint64_t>(st.st_size) == slot->size && st.st_mtime == slot->mtime) {
      slot->checked = now;
      return Found::kFile;
    }
    Found found = root_found;
    slot = root_found == Found::kFile ? openFile(root_fd, p, rule, found) : std::nullopt;
    return found;
  };
  const Found found = reopen(rel, e.file);
  e.directory = found == Found::kDirectory;
  e.forbidden = found == Found::kForbidden;
  e.missing = !e.file && !e.directory;
  if (e.file) {
    reopen(rel + ".zst", e.zst);
    reopen(rel + ".br", e.br);
    reopen(rel + ".gz", e.gz);
  } else {
    e.zst.reset();
    e.br.reset();
    e.gz.reset();
  }
  e.checked = now;
  return &e;
}

bool addHeaderApplies(int status) {
  switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
      return true;
    default:
      return false;
  }
}

namespace {

bool replaces(std::string_view name) {
  return http::equalsIgnoreCase(name, "Last-Modified") || http::equalsIgnoreCase(name, "ETag") ||
         http::equalsIgnoreCase(name, "Cache-Control");
}

}  // namespace

void applyAddHeaders(const std::vector<AddHeader>& headers, http::Response& response) {
  const bool applies = addHeaderApplies(response.status);
  for (const AddHeader& a : headers) {
    if (!applies && !a.always) continue;
    if (replaces(a.name)) {
      http::removeHeader(response, a.name);
      if (!a.value.empty()) http::setHeader(response, a.name, a.value);
    } else if (!a.value.empty()) {
      response.headers += a.name + ": " + a.value + "\r\n";
    }
  }
}

std::optional<std::string_view> StaticFiles::overridden(const StaticLocation& location,
                                                        std::string_view name) {
  std::optional<std::string_view> out;
  for (const AddHeader& a : location.add_headers) {
    if (http::equalsIgnoreCase(a.name, name)) out = a.value;  // the last one wins
  }
  return out;
}

bool setExpires(StaticLocation& files, bool modified, std::string_view v, std::string& error) {
  using E = StaticLocation::Expires;
  files.expires_s = 0;
  if (!modified && v == "off") {
    files.expires = E::kOff;
    files.cache_control.clear();
  } else if (!modified && v == "max") {
    files.expires = E::kMax;
    files.cache_control = "max-age=315360000";
  } else if (!modified && v == "epoch") {
    files.expires = E::kEpoch;
    files.cache_control = "no-cache";
  } else if (!v.empty() && v[0] == '@') {
    auto d = nginx_compat::parseDuration(v.substr(1));
    if (!d || d.value().count() % 1000 != 0 || d.value().count() >= 86400 * 1000) {
      error = "daily time value \"" + std::string(v) + "\" must be less than 24 hours";
      return false;
    }
    files.expires = E::kDaily;
    files.expires_s = d.value().count() / 1000;
    files.cache_control.clear();
  } else {
    bool negative = !v.empty() && v[0] == '-';
    auto d = nginx_compat::parseSeconds(negative ? v.substr(1) : v);
    if (!d) {
      error = d.error();
      return false;
    }
    int64_t seconds = d.value();
    files.expires = modified ? E::kModified : E::kAccess;
    files.expires_s = negative ? -seconds : seconds;
    files.cache_control = negative   ? "no-cache"
                          : modified ? ""
                                     : "max-age=" + std::to_string(seconds);
  }
  return true;
}

bool isCharsetType(std::string_view content_type) {
  std::string_view base = content_type.substr(0, content_type.find(';'));
  for (std::string_view t : {"text/html", "text/xml", "text/plain", "text/vnd.wap.wml",
                             "application/javascript", "text/javascript", "application/rss+xml"}) {
    if (base == t) return true;
  }
  return false;
}

std::string withCharset(std::string_view content_type, std::string_view charset) {
  std::string out(content_type.substr(0, content_type.find(';')));
  out += "; charset=";
  out += charset;
  return out;
}

void expiresHeaders(const StaticLocation& location, time_t mtime, std::string& h) {
  using E = StaticLocation::Expires;
  switch (location.expires) {
    case E::kOff:
      break;
    case E::kEpoch:
      h += "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\n";
      break;
    case E::kMax:
      h += "Expires: Thu, 31 Dec 2037 23:55:55 GMT\r\n";
      break;
    case E::kDaily: {
      const time_t now = ::time(nullptr);
      tm local{};
      localtime_r(&now, &local);
      local.tm_hour = static_cast<int>(location.expires_s / 3600);
      local.tm_min = static_cast<int>(location.expires_s / 60 % 60);
      local.tm_sec = static_cast<int>(location.expires_s % 60);
      time_t at = mktime(&local);
      if (at <= now) {
        local.tm_mday += 1;
        at = mktime(&local);
      }
      h += "Expires: " + httpDate(at) + "\r\nCache-Control: max-age=" + std::to_string(at - now) +
           "\r\n";
      return;
    }
    case E::kAccess:
    case E::kModified: {
      const time_t now = ::time(nullptr);
      const time_t base = location.expires == E::kModified ? mtime : now;
      const time_t at = base + static_cast<time_t>(location.expires_s);
      h += "Expires: " + httpDate(at) + "\r\n";
      if (location.expires == E::kModified && at > now) {
        h += "Cache-Control: max-age=" + std::to_string(at - now) + "\r\n";
        return;
      }
      if (location.expires == E::kModified) {
        h += "Cache-Control: no-cache\r\n";
        return;
      }
      break;
    }
  }
  if (!location.cache_control.empty()) h += "Cache-Control: " + location.cache_control + "\r\n";
}

bool StaticFiles::exists(const StaticLocation& location, const std::string& uri, bool directory) {
  auto [root, rel] = fileFor(location, uri);
  if (rel.size() > 1 && rel.back() == '/') rel.pop_back();
  const Entry* e = lookup(root, rel, symlinkRule(location, root, rel));
  return directory ? e->directory : (!e->directory && !e->missing && e->file.has_value());
}

std::optional<std::string> StaticFiles::directoryPath(const StaticLocation& location,
                                                      const std::string& uri) {
  auto [root, rel] = fileFor(location, uri);
  if (rel.size() > 1 && rel.back() == '/') rel.pop_back();
  if (!lookup(root, rel, symlinkRule(location, root, rel))->directory) return std::nullopt;
  return root == "/" ? rel : rel == "/" ? root : root + rel;
}

http::Response StaticFiles::serve(const http::Request& request, const StaticLocation& location,
                                  std::string_view uri) {
  http::Response r = serveFile(request, location, uri);
  if (!location.add_headers.empty()) applyAddHeaders(location.add_headers, r);
  return r;
}

http::Response StaticFiles::serveFile(const http::Request& request, const StaticLocation& location,
                                      std::string_view uri) {
  // Errors as nginx's static module answers them: its HTML page (a browser shows it). The codes
  // and messages say why, for the reader of this file.
  auto error = [](int status, const char* /*code*/, const char* /*message*/) {
    return http::htmlError(status);
  };
  std::optional<std::string> path =
      uri.empty() ? normalizePath(request.path) : std::optional<std::string>(uri);
  if (!path) return error(400, "bad_path", "the path is not valid or leaves the document root");
  auto [fs_root, fs_path] = fileFor(location, *path);
  std::string rel = fs_path;
  if (rel.back() == '/') rel += location.index;
  const SymlinkRule symlinks = symlinkRule(location, fs_root, rel);
  const Entry* e = lookup(fs_root, rel, symlinks);
  if (e->forbidden) return error(403, "forbidden", "a symlink disable_symlinks refuses");
  if (e->directory) {
    http::Response r = http::htmlError(301);  // with nginx's page, as nginx sends it
    r.headers += "Location: " + encodeUri(*path) + "/";
    if (!request.query.empty()) {
      r.headers += '?';
      r.headers += request.query;  // as sent: the parser allows printable ASCII only
    }
    r.headers += "\r\n";
    return r;
  }
  if (e->missing || !e->file) {
    // A directory without its index: 403, as nginx answers without autoindex (it lists nothing).
    if (fs_path.back() == '/') {
      const std::string dir = fs_path == "/" ? fs_path : fs_path.substr(0, fs_path.size() - 1);
      if (lookup(fs_root, dir, symlinks)->directory)
        return error(403, "forbidden", "directory index is forbidden");
    }
    return error(404, "not_found", "no such file");
  }

  using Precompressed = StaticLocation::Precompressed;
  const bool precompressed = location.precompressed != Precompressed::kOff;
  Coding coding = precompressed
                      ? chooseCoding(request.header("Accept-Encoding"), e->zst.has_value(),
                                     e->br.has_value(), e->gz.has_value())
                      : Coding::kIdentity;
  if (coding == Coding::kIdentity && location.precompressed == Precompressed::kAlways && e->gz) {
    coding = Coding::kGzip;
  }
  const File& f = coding == Coding::kZstd     ? *e->zst
                  : coding == Coding::kBrotli ? *e->br
                  : coding == Coding::kGzip   ? *e->gz
                                              : *e->file;
  bool variants = precompressed && (e->zst || e->br || e->gz);
  std::string etag = f.etag;
  if (coding != Coding::kIdentity) {
    // Each representation has its own validator, so a cache never serves gzip bytes to a client
    // that sent the identity ETag.
    etag.insert(etag.size() - 1, std::string("-") + codingName(coding));
  }

  http::Response r;
  std::string& h = r.headers;
  h.reserve(256);
  // By the URI's extension, as nginx types an answer (an alias naming another file included);
  // a directory's by its index's, the URI nginx redirects to internally.
  const std::string_view typed_by = path->back() == '/' ? std::string_view(rel) : *path;
  std::string_view content_type = mimeType(typed_by, location.types.get(), location.default_type);
  const bool charset_type = !location.charset.empty() && isCharsetType(content_type);
  std::string typed;
  if (charset_type) {
    typed = withCharset(content_type, location.charset);
    content_type = typed;
  }
  // Bytes mapped from source_charset to charset as they go out: read into memory, not sent from
  // the file (identity only: a precompressed sibling is sent as it is).
  const std::string* recode = charset_type && location.recode && coding == Coding::kIdentity
                                  ? location.recode.get()
                                  : nullptr;
  h += "Content-Type: ";
  h += content_type;
  h += "\r\nETag: ";
  h += etag;
  h += "\r\nLast-Modified: ";
  h += f.last_modified;
  h += "\r\nAccept-Ranges: bytes\r\n";
  if (variants) h += "Vary: Accept-Encoding\r\n";
  if (coding != Coding::kIdentity) {
    h += "Content-Encoding: ";
    h += codingName(coding);
    h += "\r\n";
  }
  if (location.immutable_hashed && isHashedAssetName(*path)) {
    h += "Cache-Control: public, max-age=31536000, immutable\r\n";
  } else {
    expiresHeaders(location, f.mtime, h);
  }

  // Preconditions, as nginx's not_modified filter has them. If-Unmodified-Since and If-Match
  // fail with 412 (a date that does not parse fails too, as in nginx). The cache validators give
  // 304 only when every one of them present says "not modified" (nginx's rule, where RFC 9110
  // 13.2.2 would let If-None-Match alone decide), If-Modified-Since as `if_modified_since` says
  // (nginx's default, exact: a browser sends back the date it got).
  if (std::string_view ius = request.header("If-Unmodified-Since"); !ius.empty()) {
    auto t = parseHttpDate(ius);
    if (!t || f.mtime > *t) return error(412, "precondition_failed", "the file has changed");
  }
  if (std::string_view im = request.header("If-Match");
      !im.empty() && !etagMatchesStrongly(im, etag))
    return error(412, "precondition_failed", "the file is not the one asked for");
  std::string_view inm = request.header("If-None-Match");
  std::string_view ims = request.header("If-Modified-Since");
  bool not_modified = !inm.empty() || !ims.empty();
  if (!ims.empty()) {
    using Ims = StaticLocation::IfModifiedSince;
    auto t = parseHttpDate(ims);
    not_modified = location.if_modified_since != Ims::kOff && t &&
                   (*t == f.mtime || (location.if_modified_since == Ims::kBefore && *t > f.mtime));
  }
  if (not_modified && !inm.empty()) not_modified = etagMatches(inm, etag);
  if (not_modified) {
    // nginx's not_modified filter: no type and no Accept-Ranges on a 304.
    r.status = 304;
    http::removeHeader(r, "Content-Type");
    http::removeHeader(r, "Accept-Ranges");
    return r;
  }

  std::string_view range = request.header("Range");
  std::string_view if_range = request.header("If-Range");
  // If-Range compares with what the answer will say: a location's add_header may replace the
  // validators (nginx's range filter runs after its headers filter).
  const std::string_view range_etag = overridden(location, "ETag").value_or(etag);
  const std::string_view range_date =
      overridden(location, "Last-Modified").value_or(f.last_modified);
  if (!range.empty() && !if_range.empty() &&
      (range_etag.empty() || http::trimOws(if_range) != range_etag) &&
      (range_date.empty() || http::trimOws(if_range) != range_date)) {
    range = {};  // the client's copy is outdated: send everything
  }
  if (location.max_ranges == 0) range = {};  // ranges off
  std::vector<ByteRange> ranges;
  RangeOutcome outcome = range.empty() ? RangeOutcome::kNone : parseRange(range, f.size, ranges);
  if (outcome == RangeOutcome::kRanges && location.max_ranges > 0 &&
      ranges.size() > static_cast<size_t>(location.max_ranges)) {
    outcome = RangeOutcome::kWholeFile;
  }
  if (outcome == RangeOutcome::kRanges && ranges.size() > 1 &&
      f.size > options_.max_multipart_file) {
    outcome = RangeOutcome::kWholeFile;
  }
  if (outcome == RangeOutcome::kUnsatisfiable) {
    http::Response bad = error(416, "range_not_satisfiable", "no part of the range is in the file");
    bad.headers += "Content-Range: bytes */" + std::to_string(f.size) + "\r\n";
    return bad;
  }
  r.file = f.fd;
  // A recoded answer: the part asked for, read and mapped byte by byte (single-byte charsets
  // keep every length, so ranges still hold).
  auto recoded = [&](uint64_t offset, uint64_t length) -> bool {
    std::string body(length, '\0');
    ssize_t n = ::pread(f.fd->fd, body.data(), length, static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(length)) return false;
    for (char& c : body)
      c = (*recode)[static_cast<unsigned char>(c)];
    r.file.reset();
    r.file_length = 0;
    r.body = std::move(body);
    return true;
  };
  if (outcome != RangeOutcome::kRanges) {
    r.status = 200;
    r.file_offset = 0;
    r.file_length = f.size;
    if (recode != nullptr && !recoded(0, f.size)) {
      return error(500, "read_failed", "the file changed");
    }
    return r;
  }
  r.status = 206;
  http::removeHeader(r, "Accept-Ranges");  // nginx's range filter says it on 200s only
  if (ranges.size() == 1) {
    h += "Content-Range: bytes " + std::to_string(ranges[0].first) + "-" +
         std::to_string(ranges[0].last) + "/" + std::to_string(f.size) + "\r\n";
    r.file_offset = ranges[0].first;
    r.file_length = ranges[0].last - ranges[0].first + 1;
    if (recode != nullptr && !recoded(r.file_offset, r.file_length)) {
      return error(500, "read_failed", "the file changed");
    }
    return r;
  }
  // multipart/byteranges, read into memory (bounded by max_multipart_file).
  std::string boundary = "surge" + std::to_string(f.ino) + std::to_string(f.mtime);
  std::string body;
  for (const ByteRange& br : ranges) {
    body += "\r\n--" + boundary + "\r\nContent-Type: " + std::string(content_type) +
            "\r\nContent-Range: bytes " + std::to_string(br.first) + "-" + std::to_string(br.last) +
            "/" + std::to_string(f.size) + "\r\n\r\n";
    size_t at = body.size();
    uint64_t len = br.last - br.first + 1;
    body.resize(at + len);
    ssize_t n = ::pread(f.fd->fd, body.data() + at, len, static_cast<off_t>(br.first));
    if (n != static_cast<ssize_t>(len)) return error(500, "read_failed", "the file changed");
    if (recode != nullptr) {
      for (size_t i = at; i < body.size(); ++i)
        body[i] = (*recode)[static_cast<unsigned char>(body[i])];
    }
  }
  body += "\r\n--" + boundary + "--\r\n";
  r.file.reset();
  r.file_length = 0;
  r.body = std::move(body);
  size_t ct = h.find("Content-Type: ");
  size_t ct_end = h.find("\r\n", ct);
  h.replace(ct, ct_end - ct, "Content-Type: multipart/byteranges; boundary=" + boundary);
  return r;
}

}  // namespace surge::edge
