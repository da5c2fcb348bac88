// Static content from a docroot, as nginx serves it: a path that cannot leave the root, MIME
// types, an open-file cache, ETag / Last-Modified validators, single and multi Range, HEAD, and
// precompressed siblings (.zst, .br, .gz) chosen by Accept-Encoding.
//
// Threads: one StaticFiles per worker (the open-file cache needs no lock). Opening and stat-ing a
// local file happens on the worker's loop, as in nginx without aio threads: the docroot is local
// disk, and the cache keeps it to one stat per file per `revalidate` interval.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/http/request_parser.h"
#include "surge/http/server.h"

namespace surge::edge {

// Decodes %XX once and resolves "." and ".." segments. Fails (-> 400) on bad escapes, NUL,
// backslash, or a ".." that would climb above the root. "%252e" decodes to the literal name "%2e".
// Keeps a trailing '/' (a directory request).
std::optional<std::string> normalizePath(std::string_view raw_path);

// `bytes` with every byte other than ALPHA, DIGIT and those in `plain` as %XX (upper-case hex).
std::string percentEncode(std::string_view bytes, std::string_view plain);
// `text` with each %XX (two hex digits) decoded and everything else, a lone '%' included, as it is
// (as nginx unescapes where it does not refuse a bad escape; normalizePath refuses them).
std::string percentDecode(std::string_view text);
// `path` with what may not stand in a URI path escaped (%XX), as nginx writes a Location.
std::string encodeUri(std::string_view path);

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

enum class RangeOutcome { kNone, kRanges, kUnsatisfiable, kWholeFile };

// More satisfiable ranges than this in one request: the whole file instead (Apache's MaxRanges
// idea; a multipart answer of many tiny parts is mostly part headers).
inline constexpr size_t kMaxRanges = 32;

// RFC 9110 "bytes=" ranges against a representation of `size` bytes, read as nginx reads them.
// kNone: no "bytes=" (any case) header, or a file too empty to cut (serve 200). kUnsatisfiable
// (416): no part inside the file, or anything malformed after "bytes=" (an empty part, a letter,
// a missing dash, a number that overflows), as nginx answers it. kWholeFile: the ranges add up to
// more than the file (serve 200, as nginx does; overlapping parts count twice, so heavy overlap
// ends there too), or there are more than kMaxRanges of them. Parts beyond the end or backwards
// ("5-3") are left out; spaces around numbers and commas are allowed, as in nginx.
RangeOutcome parseRange(std::string_view header, uint64_t size, std::vector<ByteRange>& ranges);

// The coding to send from those available, by the client's Accept-Encoding (q-values honoured,
// "identity;q=0" ignored). Preference on a tie: zstd, br, gzip.
enum class Coding { kIdentity, kZstd, kBrotli, kGzip };
Coding chooseCoding(std::string_view accept_encoding, bool have_zstd, bool have_br, bool have_gzip);
const char* codingName(Coding coding);

std::string_view mimeType(std::string_view path);

// nginx's `types { TYPE EXT ...; }` (extension, lowercase -> type).
using MimeTypes = std::unordered_map<std::string, std::string>;
// The type of `path` by `types` (nullptr: surge's own table, above), else `default_type`
// (empty: application/octet-stream).
std::string_view mimeType(std::string_view path, const MimeTypes* types,
                          std::string_view default_type);

// "app.3f9c2a1b.js", "logo-5d41402abc4b2a76.png": a name carrying a content hash, so it can be
// cached for a year and marked immutable.
bool isHashedAssetName(std::string_view path);

// RFC 9110 dates.
std::string httpDate(time_t t);
std::optional<time_t> parseHttpDate(std::string_view text);

// Does an If-None-Match list match `etag` (weak comparison, "*" matches anything)?
bool etagMatches(std::string_view if_none_match, std::string_view etag);
// If-Match (RFC 9110 13.1.1): "*" or the same strong tag; a weak tag on either side never matches.
bool etagMatchesStrongly(std::string_view if_match, std::string_view etag);

// nginx's add_header: NAME: VALUE on the answers of a location (2xx and 3xx that nginx lists,
// or every answer with `always`). An empty value adds nothing. Last-Modified, ETag and
// Cache-Control replace the location's own (Last-Modified and ETag also what If-Range compares;
// an empty value removes them).
struct AddHeader {
  std::string name, value;
  bool always = false;
};

struct StaticLocation {
  std::string root;  // no trailing slash
  // `alias` (instead of root): the file is alias + the path after the location's first
  // `alias_prefix` bytes; in a regex location (`alias_whole`) the alias is the file itself.
  std::string alias;
  size_t alias_prefix = 0;
  bool alias_whole = false;
  std::string cache_control;  // "" for none
  // `expires` (nginx's): what the Expires header says. kAccess: `expires_s` from now (negative:
  // in the past, with Cache-Control: no-cache); kModified: from the file's mtime.
  // kDaily (`@TIME`): the next time the clock shows `expires_s` seconds past midnight.
  enum class Expires { kOff, kEpoch, kMax, kAccess, kModified, kDaily };
  Expires expires = Expires::kOff;
  int64_t expires_s = 0;
  bool immutable_hashed = false;
  std::string index = "index.html";
  // nginx's if_modified_since: off (If-Modified-Since never gives 304), exact (the file's date
  // exactly, nginx's default), before (that date or later).
  enum class IfModifiedSince { kOff, kExact, kBefore };
  IfModifiedSince if_modified_since = IfModifiedSince::kExact;
  std::vector<AddHeader> add_headers;
  // nginx's charset module: `charset` names the charset added to the Content-Type of text
  // answers ("" off); with `source_charset` and a `charset_map` between the two, `recode` maps
  // each byte of such a file as it is sent (nullptr: sent as stored).
  std::string charset;
  std::string source_charset;
  std::shared_ptr<const std::string> recode;  // 256 bytes: recode[b] replaces b
  // `max_ranges`: more ranges than this in a request are answered with the whole file; 0 turns
  // ranges off. -1: kMaxRanges.
  int max_ranges = -1;
  // `types` and `default_type` (nginx's): nullptr / "": surge's own table and
  // application/octet-stream.
  std::shared_ptr<const MimeTypes> types;
  std::string default_type;
  // gzip_static (nginx's): kOn serves FILE.zst, FILE.br or FILE.gz beside FILE to a client that
  // accepts that coding (Vary: Accept-Encoding); kAlways also sends FILE.gz to one that does not
  // say so; kOff serves FILE only. The configuration's default is nginx's, off.
  enum class Precompressed { kOff, kOn, kAlways };
  Precompressed precompressed = Precompressed::kOn;
  // disable_symlinks (nginx's): kFollow follows symlinks (never out of the root, whatever the
  // setting); kRefuse answers 403 for a path with a symlink in it; kIfNotOwner for one whose
  // link and target have different owners. `symlinks_from` (from=): the leading part of the
  // path that is not checked, "$document_root" standing for the root (or alias) the file is
  // under; "" checks every component from "/".
  enum class Symlinks { kFollow, kRefuse, kIfNotOwner };
  Symlinks symlinks = Symlinks::kFollow;
  std::string symlinks_from;
};

// Does the charset module touch answers of `content_type`? (nginx's default charset_types.)
bool isCharsetType(std::string_view content_type);
// `content_type` with its charset parameter set to `charset`.
std::string withCharset(std::string_view content_type, std::string_view charset);

// `expires`'s value ("off", "epoch", "max", "[-]TIME", "@TIME"; `modified` for "expires modified
// TIME") into `location`. False with a message in `error` when it is not one of those.
bool setExpires(StaticLocation& location, bool modified, std::string_view value,
                std::string& error);

// The Expires and Cache-Control lines `expires` gives a file of modification time `mtime`.
void expiresHeaders(const StaticLocation& location, time_t mtime, std::string& headers);

// Does add_header (without `always`) apply to an answer of `status`? nginx: 200, 201, 204, 206,
// 301, 302, 303, 304, 307, 308.
bool addHeaderApplies(int status);
// The location's add_header lines applied to `response`.
void applyAddHeaders(const std::vector<AddHeader>& headers, http::Response& response);

// disable_symlinks for a whole filesystem path (the rewrite module's -f, -d, -e, -x): may it be
// opened under `location`'s rule? (Files served are checked where they are opened.)
bool symlinksAllow(const StaticLocation& location, const std::string& path);

class StaticFiles {
 public:
  struct Options {
    std::chrono::milliseconds revalidate{1000};  // nginx's open_file_cache_valid
    size_t max_entries = 10000;
    uint64_t max_multipart_file = 64ull << 20;  // larger files answer multi-range with 200
  };
  explicit StaticFiles(Options options) : options_(options) {}
  ~StaticFiles();
  StaticFiles(const StaticFiles&) = delete;
  StaticFiles& operator=(const StaticFiles&) = delete;
  // GET or HEAD only (the caller answers 405 otherwise). `uri`: the decoded, normalized path
  // the location matched (normalizePath); empty: the request's own path, normalized here.
  http::Response serve(const http::Request& request, const StaticLocation& location,
                       std::string_view uri = {});
  // Is there a file (or with `directory`, a directory) for `uri` under `location`?
  bool exists(const StaticLocation& location, const std::string& uri, bool directory);
  // The filesystem path of the directory `uri` names under `location` (inside its root, by the
  // same rules as a file), or nullopt when it names none.
  std::optional<std::string> directoryPath(const StaticLocation& location, const std::string& uri);
  // nullopt: the location does not set `name` (any case) with add_header; "" it removes it.
  static std::optional<std::string_view> overridden(const StaticLocation& location,
                                                    std::string_view name);
  size_t cachedFiles() const { return files_.size(); }
  // What opening a path found: kForbidden is a 403 (a symlink disable_symlinks refuses).
  enum class Found { kFile, kDirectory, kMissing, kForbidden };

 private:
  http::Response serveFile(const http::Request& request, const StaticLocation& location,
                           std::string_view uri);
  struct File {
    std::shared_ptr<const http::SharedFile> fd;
    uint64_t size = 0;
    time_t mtime = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string etag;
    std::string last_modified;
    std::chrono::steady_clock::time_point checked;
  };
  // disable_symlinks for one lookup: `from` bytes of the root's path are not checked.
  struct SymlinkRule {
    StaticLocation::Symlinks mode = StaticLocation::Symlinks::kFollow;
    size_t from = 0;
  };
  struct Entry {
    bool directory = false;
    bool missing = false;
    bool forbidden = false;  // a symlink disable_symlinks refuses (403, as nginx)
    std::optional<File> file;
    std::optional<File> zst, br, gz;
    std::chrono::steady_clock::time_point checked;
  };
  const Entry* lookup(const std::string& root, const std::string& path, const SymlinkRule& rule);
  int rootFd(const std::string& root);
  static SymlinkRule symlinkRule(const StaticLocation& location, const std::string& root,
                                 const std::string& rel);
  static std::optional<File> openFile(int root_fd, const std::string& rel, const SymlinkRule& rule,
                                      Found& found);

  Options options_;
  std::unordered_map<std::string, Entry> files_;
  struct Root {
    int fd = -1;  // O_PATH descriptor of the docroot
    std::chrono::steady_clock::time_point checked;
  };
  std::unordered_map<std::string, Root> roots_;
};

}  // namespace surge::edge
