// Static files: the pure helpers (path normalization, Range, Accept-Encoding, MIME types, dates,
// ETags) and StaticFiles::serve against a real docroot in a temp folder.
#include "surge/edge/static_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "surge/edge/gzip_filter.h"
#include "surge/edge/snapshot_cache.h"
#include "surge/http/request_parser.h"
#include "surge/testing/temp_dir.h"

namespace surge::edge {
namespace {

using testing::TempDir;

// ---------------------------------------------------------------------------------------------
// normalizePath

std::string norm(std::string_view raw) {
  std::optional<std::string> out = normalizePath(raw);
  return out ? *out : std::string("(fail)");
}

TEST(NormalizePathTest, PlainPaths) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("/a/b"), "/a/b");
  EXPECT_EQ(norm("/index.html"), "/index.html");
}

TEST(NormalizePathTest, DotSegments) {
  EXPECT_EQ(norm("/a/./b"), "/a/b");
  EXPECT_EQ(norm("/a/../b"), "/b");
  EXPECT_EQ(norm("/a/.."), "/");
  EXPECT_EQ(norm("/a/b/.."), "/a/");
  EXPECT_EQ(norm("/a/."), "/a/");
  EXPECT_EQ(norm("/./"), "/");
  EXPECT_EQ(norm("/a/%2e%2e/b"), "/b");  // decoded dots are dots
  EXPECT_EQ(norm("/a/%2E/b"), "/a/b");
}

TEST(NormalizePathTest, ClimbingAboveTheRootFails) {
  EXPECT_EQ(norm("/.."), "(fail)");
  EXPECT_EQ(norm("/../x"), "(fail)");
  EXPECT_EQ(norm("/a/../../x"), "(fail)");
  EXPECT_EQ(norm("/a/%2e%2e/%2e%2e/x"), "(fail)");
  EXPECT_EQ(norm("/%2e%2e/x"), "(fail)");
  EXPECT_EQ(norm("/a/%2E%2E/%2e%2E"), "(fail)");
}

TEST(NormalizePathTest, DecodesOnlyOnce) {
  EXPECT_EQ(norm("/%252e%252e"), "/%2e%2e");
  EXPECT_EQ(norm("/a/%252e%252e/%252e%252e/x"), "/a/%2e%2e/%2e%2e/x");
  EXPECT_EQ(norm("/%41%42c"), "/ABc");
  EXPECT_EQ(norm("/caf%C3%A9"), "/caf\xC3\xA9");
  EXPECT_EQ(norm("/a%20b"), "/a b");
}

// The lenient decode (X-Accel-Redirect's unsafe-path check, resume codes): a bad escape stays as
// it is; each escape is decoded once.
TEST(PercentDecodeTest, DecodesGoodEscapesAndKeepsTheRest) {
  EXPECT_EQ(percentDecode("ABCD%2DEFGH%2d%24"), "ABCD-EFGH-$");
  EXPECT_EQ(percentDecode("%2e%2E/%252e"), "../%2e");
  EXPECT_EQ(percentDecode("100%"), "100%");
  EXPECT_EQ(percentDecode("%4"), "%4");
  EXPECT_EQ(percentDecode("%zz%4g"), "%zz%4g");
  EXPECT_EQ(percentDecode("a%00b"), std::string("a\0b", 3));
  EXPECT_EQ(percentDecode(""), "");
}

TEST(NormalizePathTest, RejectsNulAndBackslash) {
  EXPECT_EQ(norm("/a%00b"), "(fail)");
  EXPECT_EQ(norm("/%00"), "(fail)");
  EXPECT_EQ(norm("/a\\b"), "(fail)");
  EXPECT_EQ(norm("\\"), "(fail)");
  EXPECT_EQ(norm("/%5c"), "(fail)");
  EXPECT_EQ(norm("/..%5c..%5cetc"), "(fail)");
  EXPECT_EQ(norm("/%5C"), "(fail)");
  EXPECT_EQ(norm(std::string_view("/a\0b", 4)), "(fail)");
}

TEST(NormalizePathTest, RejectsBadEscapes) {
  EXPECT_EQ(norm("/%zz"), "(fail)");
  EXPECT_EQ(norm("/%4"), "(fail)");
  EXPECT_EQ(norm("/a%"), "(fail)");
  EXPECT_EQ(norm("/%g1"), "(fail)");
  EXPECT_EQ(norm("/%1g"), "(fail)");
  EXPECT_EQ(norm("/%%41"), "(fail)");
}

TEST(NormalizePathTest, MustStartWithSlash) {
  EXPECT_EQ(norm(""), "(fail)");
  EXPECT_EQ(norm("a/b"), "(fail)");
  EXPECT_EQ(norm("%2fa"), "(fail)");
}

TEST(NormalizePathTest, KeepsTrailingSlashAndMergesSlashes) {
  EXPECT_EQ(norm("/dir/"), "/dir/");
  EXPECT_EQ(norm("/a/b/"), "/a/b/");
  EXPECT_EQ(norm("//a//b"), "/a/b");
  EXPECT_EQ(norm("//a//b//"), "/a/b/");
  EXPECT_EQ(norm("//"), "/");
}

// ---------------------------------------------------------------------------------------------
// parseRange

struct RangeResult {
  RangeOutcome outcome;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
};

RangeResult range(std::string_view header, uint64_t size) {
  std::vector<ByteRange> ranges = {{7, 8}};  // stale content must be cleared
  RangeResult out{parseRange(header, size, ranges), {}};
  for (const ByteRange& r : ranges)
    out.ranges.emplace_back(r.first, r.last);
  return out;
}

using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(ParseRangeTest, SingleRanges) {
  RangeResult r = range("bytes=0-9", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 9}}));

  r = range("bytes=-10", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{990, 999}}));

  r = range("bytes=990-", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{990, 999}}));

  r = range("bytes=0-999", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 999}}));

  r = range("bytes=999-999", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{999, 999}}));
}

TEST(ParseRangeTest, ClampsToTheEnd) {
  RangeResult r = range("bytes=990-2000", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{990, 999}}));

  r = range("bytes=-2000", 1000);  // suffix longer than the file: all of it
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 999}}));
}

TEST(ParseRangeTest, Unsatisfiable) {
  RangeResult r = range("bytes=1000-", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_TRUE(r.ranges.empty());

  EXPECT_EQ(range("bytes=1000-1005", 1000).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(range("bytes=5000-,2000-3000", 1000).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(range("bytes=-0", 1000).outcome, RangeOutcome::kUnsatisfiable);
}

TEST(ParseRangeTest, UnsatisfiablePartsAreDropped) {
  RangeResult r = range("bytes=0-1,2000-3000", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 1}}));
}

TEST(ParseRangeTest, MultipleRanges) {
  RangeResult r = range("bytes=0-1,5-9", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 1}, {5, 9}}));

  r = range(" bytes=0-1 , 5-9 ,-3 ", 1000);  // optional whitespace
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 1}, {5, 9}, {997, 999}}));

  r = range("bytes=0-1,5-1", 1000);  // a backwards part is left out, as nginx does
  EXPECT_EQ(r.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(r.ranges, (Pairs{{0, 1}}));
}

TEST(ParseRangeTest, RangesAddingUpBeyondTheSizeServeTheWholeFile) {
  RangeResult r = range("bytes=0-599,500-999", 1000);
  EXPECT_EQ(r.outcome, RangeOutcome::kWholeFile);
  EXPECT_TRUE(r.ranges.empty());

  EXPECT_EQ(range("bytes=0-999,0-0", 1000).outcome, RangeOutcome::kWholeFile);
  EXPECT_EQ(range("bytes=-1000,-1", 1000).outcome, RangeOutcome::kWholeFile);
  // Exactly the size is still ranges.
  EXPECT_EQ(range("bytes=0-499,500-999", 1000).outcome, RangeOutcome::kRanges);
}

TEST(ParseRangeTest, TooManyRangesServeTheWholeFile) {
  std::string spec = "bytes=0-0";
  for (size_t i = 1; i < kMaxRanges; ++i)
    spec += "," + std::to_string(2 * i) + "-" + std::to_string(2 * i);
  EXPECT_EQ(range(spec, 1000).outcome, RangeOutcome::kRanges);  // kMaxRanges parts: still fine
  spec += ",900-900";
  EXPECT_EQ(range(spec, 1000).outcome, RangeOutcome::kWholeFile);
}

// nginx: a header that is not "bytes=..." is no range request (200); anything malformed after
// "bytes=" is answered 416, like a range outside the file.
TEST(ParseRangeTest, NotARangeIsIgnoredAndMalformedRangesAre416AsInNginx) {
  for (std::string_view none : {"", "items=0-1", "bytes=", "bytes 0-1", "byte=0-1"})
    EXPECT_EQ(range(none, 1000).outcome, RangeOutcome::kNone) << none;
  for (std::string_view bad :
       {"bytes=a-b", "bytes=5", "bytes=-", "bytes=0-1,x", "bytes=-a", "bytes=1-2-3", "bytes=+1-2",
        "bytes=0-1,,5-9", "bytes=,0-1", "bytes=0-1,", "bytes=99999999999999999999-", "bytes=0-\t1",
        "bytes=5-1"}) {
    RangeResult r = range(bad, 1000);
    EXPECT_EQ(r.outcome, RangeOutcome::kUnsatisfiable) << bad;
    EXPECT_TRUE(r.ranges.empty()) << bad;
  }
  RangeResult upper = range("Bytes=0-1", 1000);  // the unit in any case, as nginx reads it
  EXPECT_EQ(upper.outcome, RangeOutcome::kRanges);
  EXPECT_EQ(upper.ranges, (Pairs{{0, 1}}));
}

TEST(ParseRangeTest, EmptyFile) {
  // Nothing to cut: nginx answers 200 with the (empty) file.
  EXPECT_EQ(range("bytes=0-", 0).outcome, RangeOutcome::kNone);
  EXPECT_EQ(range("bytes=0-0", 0).outcome, RangeOutcome::kNone);
  EXPECT_EQ(range("bytes=-5", 0).outcome, RangeOutcome::kNone);
  EXPECT_EQ(range("bytes=5-9", 0).outcome, RangeOutcome::kUnsatisfiable);
  EXPECT_EQ(range("bytes=x", 0).outcome, RangeOutcome::kUnsatisfiable);
}

// ---------------------------------------------------------------------------------------------
// chooseCoding

TEST(ChooseCodingTest, NoHeaderMeansIdentity) {
  EXPECT_EQ(chooseCoding("", true, true, true), Coding::kIdentity);
}

TEST(ChooseCodingTest, PreferenceOnATie) {
  EXPECT_EQ(chooseCoding("gzip, br, zstd", true, true, true), Coding::kZstd);
  EXPECT_EQ(chooseCoding("gzip, deflate, br", true, true, true), Coding::kBrotli);
  EXPECT_EQ(chooseCoding("gzip, br", false, true, true), Coding::kBrotli);
  EXPECT_EQ(chooseCoding("gzip, br, zstd", false, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("gzip;q=0.5, zstd;q=0.5", true, false, true), Coding::kZstd);
}

TEST(ChooseCodingTest, QValues) {
  EXPECT_EQ(chooseCoding("gzip;q=0.5, br;q=0.8", true, true, true), Coding::kBrotli);
  EXPECT_EQ(chooseCoding("gzip;q=1.0, zstd;q=0.9", true, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("zstd;q=0.1, gzip ; q=0.2", true, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("gzip;Q=0.3, br;q=0.2", false, true, true), Coding::kGzip);
  // q among other parameters, not only first.
  EXPECT_EQ(chooseCoding("gzip;level=1;q=0, br", false, true, true), Coding::kBrotli);
  EXPECT_EQ(chooseCoding("gzip;level=1;q=0", false, false, true), Coding::kIdentity);
}

TEST(ChooseCodingTest, QZeroRefuses) {
  EXPECT_EQ(chooseCoding("gzip;q=0", false, false, true), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("gzip;q=0.000, br", false, false, true), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("zstd;q=0, gzip", true, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("*;q=0", true, true, true), Coding::kIdentity);
}

TEST(ChooseCodingTest, Star) {
  EXPECT_EQ(chooseCoding("*", true, true, true), Coding::kZstd);
  EXPECT_EQ(chooseCoding("*", false, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("*", false, false, false), Coding::kIdentity);
  // A coding named explicitly wins over "*".
  EXPECT_EQ(chooseCoding("*;q=0.5, gzip;q=0", false, true, true), Coding::kBrotli);
  EXPECT_EQ(chooseCoding("*;q=0.1, gzip", true, true, true), Coding::kGzip);
}

TEST(ChooseCodingTest, MissingVariants) {
  EXPECT_EQ(chooseCoding("zstd", false, true, true), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("br", true, false, true), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("gzip, br, zstd", false, false, false), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("identity;q=0", false, false, false), Coding::kIdentity);
  EXPECT_EQ(chooseCoding("deflate", true, true, true), Coding::kIdentity);
}

TEST(ChooseCodingTest, CaseInsensitive) {
  EXPECT_EQ(chooseCoding("GZIP", false, false, true), Coding::kGzip);
  EXPECT_EQ(chooseCoding("Zstd", true, false, true), Coding::kZstd);
}

TEST(ChooseCodingTest, Names) {
  EXPECT_STREQ(codingName(Coding::kIdentity), "identity");
  EXPECT_STREQ(codingName(Coding::kZstd), "zstd");
  EXPECT_STREQ(codingName(Coding::kBrotli), "br");
  EXPECT_STREQ(codingName(Coding::kGzip), "gzip");
}

// ---------------------------------------------------------------------------------------------
// mimeType, isHashedAssetName

TEST(MimeTypeTest, KnownExtensions) {
  EXPECT_EQ(mimeType("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(mimeType("/a/b.htm"), "text/html; charset=utf-8");
  EXPECT_EQ(mimeType("/s.css"), "text/css; charset=utf-8");
  EXPECT_EQ(mimeType("/app.3f9c2a1b.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mimeType("/m.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mimeType("/d.json"), "application/json");
  EXPECT_EQ(mimeType("/app.js.map"), "application/json");
  EXPECT_EQ(mimeType("/r.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(mimeType("/i.svg"), "image/svg+xml");
  EXPECT_EQ(mimeType("/i.png"), "image/png");
  EXPECT_EQ(mimeType("/i.jpg"), "image/jpeg");
  EXPECT_EQ(mimeType("/i.jpeg"), "image/jpeg");
  EXPECT_EQ(mimeType("/favicon.ico"), "image/x-icon");
  EXPECT_EQ(mimeType("/f.woff2"), "font/woff2");
  EXPECT_EQ(mimeType("/w.wasm"), "application/wasm");
  EXPECT_EQ(mimeType("/site.webmanifest"), "application/manifest+json");
}

TEST(MimeTypeTest, CaseInsensitiveExtension) {
  EXPECT_EQ(mimeType("/A/APP.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(mimeType("/PHOTO.JPG"), "image/jpeg");
}

TEST(MimeTypeTest, UnknownOrNoExtension) {
  EXPECT_EQ(mimeType("/README"), "application/octet-stream");
  EXPECT_EQ(mimeType("/dir.d/file"), "application/octet-stream");
  EXPECT_EQ(mimeType("/x.unknown"), "application/octet-stream");
  EXPECT_EQ(mimeType("/x."), "application/octet-stream");
  EXPECT_EQ(mimeType("/a.tar.gz"), "application/octet-stream");
  EXPECT_EQ(mimeType("/"), "application/octet-stream");
}

TEST(HashedAssetTest, Names) {
  EXPECT_TRUE(isHashedAssetName("app.3f9c2a1b.js"));
  EXPECT_TRUE(isHashedAssetName("/assets/app.3f9c2a1b.js"));
  EXPECT_TRUE(isHashedAssetName("logo-5d41402abc4b2a76.png"));
  EXPECT_FALSE(isHashedAssetName("report-20231201.pdf"));  // a date, not a hash
  EXPECT_FALSE(isHashedAssetName("v.12345678.js"));
  EXPECT_TRUE(isHashedAssetName("app.3F9C2A1B.js"));
  EXPECT_TRUE(isHashedAssetName("vendor.3f9c2a1b.min.js"));
  EXPECT_TRUE(isHashedAssetName("cafe-deadbeef.css"));

  EXPECT_FALSE(isHashedAssetName("app.js"));
  EXPECT_FALSE(isHashedAssetName("deadbeef.js"));  // no separator before the hash
  EXPECT_FALSE(isHashedAssetName("/assets/deadbeef.js"));
  EXPECT_FALSE(isHashedAssetName("v1.2.3.js"));
  EXPECT_FALSE(isHashedAssetName("app.3f9c2a1.js"));        // 7 hex digits
  EXPECT_FALSE(isHashedAssetName("app.3f9c2a1g.js"));       // not hex
  EXPECT_FALSE(isHashedAssetName("app-3f9c2a1b"));          // no extension after the hash
  EXPECT_FALSE(isHashedAssetName("app_3f9c2a1b.js"));       // '_' is not a separator
  EXPECT_FALSE(isHashedAssetName("/x.3f9c2a1b.d/app.js"));  // the hash is in a directory name
  EXPECT_FALSE(isHashedAssetName(""));
}

// ---------------------------------------------------------------------------------------------
// Dates and ETags

TEST(HttpDateTest, Formats) {
  EXPECT_EQ(httpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(httpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(httpDate(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST(HttpDateTest, Parses) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), std::optional<time_t>(784111777));
  EXPECT_EQ(parseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT "), std::optional<time_t>(784111777));
  EXPECT_EQ(parseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), std::optional<time_t>(0));
}

TEST(HttpDateTest, RoundTrip) {
  for (time_t t : {time_t{0}, time_t{1}, time_t{784111777}, time_t{951782400} /* 2000-02-29 */,
                   time_t{1700000000}, time_t{2147483647}, time_t{4102444800} /* 2100 */}) {
    EXPECT_EQ(parseHttpDate(httpDate(t)), std::optional<time_t>(t)) << httpDate(t);
  }
}

TEST(HttpDateTest, ObsoleteFormats) {
  // RFC 9110 5.6.7: a recipient MUST accept the RFC 850 and asctime forms too.
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), std::optional<time_t>(784111777));
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), std::optional<time_t>(784111777));
}

TEST(HttpDateTest, RejectsBadDates) {
  for (std::string_view bad :
       {"", "garbage", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 06 Nov 1994 08:61:00 GMT", "1994-11-06T08:49:37Z",
        "784111777"}) {
    EXPECT_EQ(parseHttpDate(bad), std::nullopt) << bad;
  }
}

TEST(EtagTest, Matches) {
  EXPECT_TRUE(etagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(etagMatches("W/\"abc\"", "\"abc\""));  // weak comparison
  EXPECT_TRUE(etagMatches("\"abc\"", "W/\"abc\""));
  EXPECT_TRUE(etagMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(etagMatches("\"x\",W/\"abc\" ,\"y\"", "\"abc\""));
  EXPECT_TRUE(etagMatches("*", "\"abc\""));
  EXPECT_TRUE(etagMatches(" * ", "\"abc\""));
}

TEST(EtagTest, DoesNotMatch) {
  EXPECT_FALSE(etagMatches("", "\"abc\""));
  EXPECT_FALSE(etagMatches("\"x\", \"y\"", "\"abc\""));
  EXPECT_FALSE(etagMatches("\"abc-gzip\"", "\"abc\""));
  EXPECT_FALSE(etagMatches("\"ab\"", "\"abc\""));
  EXPECT_FALSE(etagMatches("abc", "\"abc\""));  // unquoted
  EXPECT_FALSE(etagMatches(",", "\"abc\""));
  EXPECT_FALSE(etagMatches("\"ABC\"", "\"abc\""));  // case-sensitive
}

// ---------------------------------------------------------------------------------------------
// StaticFiles::serve

// A request parsed from raw text, as the server would hand it over. Not copyable: the Request
// holds views into `raw_`.
class Req {
 public:
  explicit Req(std::string_view target,
               std::vector<std::pair<std::string, std::string>> headers = {},
               std::string_view method = "GET") {
    raw_ = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: edge.test\r\n";
    for (const auto& [name, value] : headers)
      raw_ += name + ": " + value + "\r\n";
    raw_ += "\r\n";
    size_t consumed = 0;
    http::ParseError error;
    http::ParseResult rc = http::parseRequest(raw_, http::ParseLimits{}, request_, consumed, error);
    EXPECT_EQ(rc, http::ParseResult::kComplete) << raw_ << " -> " << error.reason;
  }
  Req(const Req&) = delete;
  Req& operator=(const Req&) = delete;
  const http::Request& get() const { return request_; }

 private:
  std::string raw_;
  http::Request request_;
};

// The values of header `name` in a response's header block, in order.
std::vector<std::string> headerValues(const http::Response& r, std::string_view name) {
  std::vector<std::string> out;
  std::string_view h = r.headers;
  while (!h.empty()) {
    size_t eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    h.remove_prefix(eol == std::string_view::npos ? h.size() : eol + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (http::equalsIgnoreCase(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.remove_prefix(1);
      out.emplace_back(value);
    }
  }
  return out;
}

// The single value of a header; "(absent)" or "(repeated)" otherwise.
std::string header(const http::Response& r, std::string_view name) {
  std::vector<std::string> values = headerValues(r, name);
  if (values.empty()) return "(absent)";
  if (values.size() > 1) return "(repeated)";
  return values[0];
}

// What the response would send from its file.
std::string fileBody(const http::Response& r) {
  if (!r.file) return "(no file)";
  std::string out(r.file_length, '\0');
  ssize_t n = ::pread(r.file->fd, out.data(), out.size(), static_cast<off_t>(r.file_offset));
  EXPECT_EQ(n, static_cast<ssize_t>(out.size()));
  return out;
}

void setMtime(const std::string& path, time_t t) {
  timespec times[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string etagFor(time_t mtime, uint64_t size, std::string_view coding = "") {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llx-%llx", static_cast<unsigned long long>(mtime),
                static_cast<unsigned long long>(size));
  std::string etag = "\"" + std::string(buf);
  if (!coding.empty()) etag += "-" + std::string(coding);
  return etag + "\"";
}

constexpr time_t kMtime = 1700000000;  // Tue, 14 Nov 2023 22:13:20 GMT
constexpr time_t kGzMtime = 1700000100;
constexpr time_t kZstMtime = 1700000200;

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() + "/root";
    outside_ = dir_.path() + "/outside";
    for (int i = 0; i < 1000; ++i)
      text_ += static_cast<char>(i % 10 == 9 ? '\n' : 'a' + i % 26);
    put("a.txt", text_);
    put("index.html", "<!doctype html><h1>surge</h1>\n");
    put("sub/index.html", "<p>sub</p>\n");
    put("sub/page.html", "<p>page</p>\n");
    put("assets/app.3f9c2a1b.js", "console.log(1);\n");
    put("assets/app.js", "console.log(2);\n");
    css_.clear();
    for (int i = 0; i < 50; ++i)
      css_ += "body { color: red; }\n";
    put("style.css", css_);
    gz_ = gzipCompress(css_);
    ASSERT_FALSE(gz_.empty());
    put("style.css.gz", gz_, kGzMtime);
    zst_ = "not really zstd, but the edge never looks inside";
    put("style.css.zst", zst_, kZstMtime);
    put("100% sure/index.html", "odd name\n");
    put("caf\xC3\xA9/index.html", "accent\n");

    dir_.write("outside/secret.txt", "top secret\n");
    std::filesystem::create_symlink(outside_ + "/secret.txt", root_ + "/link.txt");
    std::filesystem::create_directory_symlink(outside_, root_ + "/linkdir");

    loc_.root = root_;
    loc_.cache_control = "max-age=60";
  }

  void put(const std::string& name, const std::string& content, time_t mtime = kMtime) {
    std::string full = dir_.write("root/" + name, content);
    setMtime(full, mtime);
  }

  // Replaces `name` with a new file (a new inode), as a deploy does with rename(2).
  void replace(const std::string& name, const std::string& content, time_t mtime) {
    std::string tmp = dir_.write("tmp-replace", content);
    setMtime(tmp, mtime);
    std::filesystem::rename(tmp, root_ + "/" + name);
  }

  TempDir dir_;
  std::string root_, outside_;
  std::string text_, css_, gz_, zst_;
  StaticLocation loc_;
};

TEST_F(StaticFilesTest, ServesAFileWithValidatorsAndType) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  ASSERT_NE(r.file, nullptr);
  EXPECT_EQ(r.file_offset, 0u);
  EXPECT_EQ(r.file_length, 1000u);
  EXPECT_EQ(fileBody(r), text_);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.headers,
            "Content-Type: text/plain; charset=utf-8\r\n"
            "ETag: \"6553f100-3e8\"\r\n"
            "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
            "Accept-Ranges: bytes\r\n"
            "Cache-Control: max-age=60\r\n");
  EXPECT_EQ(files.cachedFiles(), 1u);
}

TEST_F(StaticFilesTest, HeadIsServedLikeGet) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt", {}, "HEAD").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 1000u);
  EXPECT_EQ(header(r, "ETag"), "\"6553f100-3e8\"");
}

TEST_F(StaticFilesTest, QueryStringIsNotPartOfThePath) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt?v=3").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 1000u);
}

TEST_F(StaticFilesTest, NoCacheControlWhenTheLocationHasNone) {
  StaticFiles files({});
  loc_.cache_control.clear();
  http::Response r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Cache-Control"), "(absent)");
}

TEST_F(StaticFilesTest, ServesTheIndexOfADirectory) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "<!doctype html><h1>surge</h1>\n");
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");

  r = files.serve(Req("/sub/").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "<p>sub</p>\n");
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");

  r = files.serve(Req("/sub/page.html").get(), loc_);
  EXPECT_EQ(fileBody(r), "<p>page</p>\n");

  loc_.index = "page.html";
  r = files.serve(Req("/sub/").get(), loc_);
  EXPECT_EQ(fileBody(r), "<p>page</p>\n");
}

TEST_F(StaticFilesTest, DirectoryWithoutSlashRedirects) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/sub").get(), loc_);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.headers, "Content-Type: text/html\r\nLocation: /sub/\r\n");  // nginx's page
  EXPECT_NE(r.body.find("<title>301 Moved Permanently</title>"), std::string::npos);
  EXPECT_EQ(r.file, nullptr);

  r = files.serve(Req("/a.txt/../sub").get(), loc_);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/sub/");
}

TEST_F(StaticFilesTest, RedirectKeepsTheQueryString) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/sub?x=1&y=2").get(), loc_);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/sub/?x=1&y=2");
}

TEST_F(StaticFilesTest, RedirectLocationIsPercentEncoded) {
  // The Location is a URI: the decoded name must be encoded again, or "%" in a name changes
  // meaning (and a space or a control byte would not be a valid header value at all).
  StaticFiles files({});
  http::Response r = files.serve(Req("/100%25%20sure").get(), loc_);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/100%25%20sure/");

  r = files.serve(Req("/caf%C3%A9").get(), loc_);
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/caf%C3%A9/");

  // Following the redirect reaches the directory's index.
  r = files.serve(Req("/100%25%20sure/").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "odd name\n");
}

TEST_F(StaticFilesTest, MissingIs404) {
  StaticFiles files({});
  for (std::string_view target : {"/nope.txt", "/a.txt/", "/sub/nope.html", "/nodir/"}) {
    http::Response r = files.serve(Req(target).get(), loc_);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.file, nullptr) << target;
    // nginx's error page, as a browser shows it.
    EXPECT_EQ(r.body,
              "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
              "<center><h1>404 Not Found</h1></center>\r\n<hr><center>surge</center>\r\n"
              "</body>\r\n</html>\r\n")
        << target;
    EXPECT_EQ(header(r, "Content-Type"), "text/html") << target;
  }
}

TEST_F(StaticFilesTest, ADirectoryWithoutItsIndexIs403AsInNginx) {
  put("empty/x.txt", "x");
  StaticFiles files({});
  http::Response r = files.serve(Req("/empty/").get(), loc_);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("<title>403 Forbidden</title>"), std::string::npos) << r.body;
  StaticLocation no_index = loc_;
  no_index.index = "nonexisting.html";
  EXPECT_EQ(files.serve(Req("/").get(), no_index).status, 403);
  EXPECT_EQ(files.serve(Req("/sub/").get(), no_index).status, 403);
  EXPECT_EQ(files.serve(Req("/sub/").get(), loc_).status, 200);
  EXPECT_EQ(files.serve(Req("/nodir/").get(), loc_).status, 404);
}

TEST_F(StaticFilesTest, TraversalAndBadPathsAre400) {
  StaticFiles files({});
  for (std::string_view target :
       {"/../a.txt", "/../outside/secret.txt", "/%2e%2e/outside/secret.txt",
        "/sub/%2e%2e/%2e%2e/outside/secret.txt", "/sub/../../outside/secret.txt", "/a%5cb", "/a\\b",
        "/a%00.txt", "/%zz", "/a%4"}) {
    http::Response r = files.serve(Req(target).get(), loc_);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.file, nullptr) << target;
    EXPECT_NE(r.body.find("<title>400 Bad Request</title>"), std::string::npos) << target;
  }
  // Dot segments that stay inside the root are fine.
  http::Response r = files.serve(Req("/sub/../a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 1000u);
}

TEST_F(StaticFilesTest, SymlinkAsTheLastComponentIsNotServed) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/link.txt").get(), loc_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.file, nullptr);
  // A symlinked directory named as the last component is not followed either (no 301).
  r = files.serve(Req("/linkdir").get(), loc_);
  EXPECT_EQ(r.status, 404);
}

TEST_F(StaticFilesTest, SymlinkedDirectoryInTheMiddleLeadingOutsideIsRefused) {
  // Paths resolve beneath the root (openat2 RESOLVE_BENEATH): a symlink anywhere in the path
  // that leads outside the document root serves nothing.
  StaticFiles files({});
  http::Response r = files.serve(Req("/linkdir/secret.txt").get(), loc_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(fileBody(r), "(no file)");
}

TEST_F(StaticFilesTest, SymlinksThatStayInsideTheRootAreServed) {
  std::filesystem::create_directories(root_ + "/releases/v2");
  { std::ofstream(root_ + "/releases/v2/page.html") << "v2"; }
  std::filesystem::create_directory_symlink("releases/v2", root_ + "/current");
  std::filesystem::create_symlink("v2/page.html", root_ + "/releases/page.html");
  StaticFiles files({});
  http::Response r = files.serve(Req("/current/page.html").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "v2");
  EXPECT_EQ(fileBody(files.serve(Req("/releases/page.html").get(), loc_)), "v2");
}

TEST_F(StaticFilesTest, ADocrootSymlinkSwapIsFollowedWithoutARestart) {
  // Deploys often point the docroot at a release through a symlink and swap it.
  for (std::string r : {"a", "b"}) {
    std::filesystem::create_directories(root_ + "/releases/" + r);
    std::ofstream(root_ + "/releases/" + r + "/page.txt") << "release " << r;
  }
  std::filesystem::create_directory_symlink(root_ + "/releases/a", root_ + "/live");
  StaticLocation live = loc_;
  live.root = root_ + "/live";
  StaticFiles files({std::chrono::milliseconds(0)});
  EXPECT_EQ(fileBody(files.serve(Req("/page.txt").get(), live)), "release a");
  std::filesystem::remove(root_ + "/live");
  std::filesystem::create_directory_symlink(root_ + "/releases/b", root_ + "/live");
  EXPECT_EQ(fileBody(files.serve(Req("/page.txt").get(), live)), "release b");
}

TEST_F(StaticFilesTest, IfNoneMatchGives304) {
  StaticFiles files({});
  for (std::string_view inm :
       {"\"6553f100-3e8\"", "W/\"6553f100-3e8\"", "*", "\"other\", \"6553f100-3e8\""}) {
    http::Response r =
        files.serve(Req("/a.txt", {{"If-None-Match", std::string(inm)}}).get(), loc_);
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_EQ(r.file, nullptr) << inm;
    EXPECT_EQ(r.body, "") << inm;
    EXPECT_EQ(header(r, "ETag"), "\"6553f100-3e8\"") << inm;
    EXPECT_EQ(header(r, "Cache-Control"), "max-age=60") << inm;
  }
  http::Response r = files.serve(Req("/a.txt", {{"If-None-Match", "\"other\""}}).get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 1000u);
}

TEST_F(StaticFilesTest, IfModifiedSinceGives304) {
  StaticFiles files({});
  http::Response r = files.serve(
      Req("/a.txt", {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"}}).get(), loc_);
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.file, nullptr);

  // A later date is no match: nginx's default `if_modified_since exact`.
  r = files.serve(Req("/a.txt", {{"If-Modified-Since", "Wed, 15 Nov 2023 00:00:00 GMT"}}).get(),
                  loc_);
  EXPECT_EQ(r.status, 200);

  r = files.serve(Req("/a.txt", {{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}).get(),
                  loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 1000u);

  r = files.serve(Req("/a.txt", {{"If-Modified-Since", "yesterday"}}).get(), loc_);
  EXPECT_EQ(r.status, 200);
}

TEST_F(StaticFilesTest, AddHeaderAsNginxAddsIt) {
  StaticFiles files({});
  StaticLocation loc = loc_;
  loc.add_headers = {{"X-Frame-Options", "DENY", false},
                     {"X-Always", "yes", true},
                     {"X-Empty", "", true},
                     {"Cache-Control", "no-cache", false},
                     {"ETag", "\"mine\"", false}};
  http::Response ok = files.serve(Req("/a.txt").get(), loc);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(header(ok, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(ok, "X-Always"), "yes");
  EXPECT_EQ(header(ok, "X-Empty"), "(absent)");
  EXPECT_EQ(header(ok, "Cache-Control"), "no-cache");  // replaced, not a second line
  EXPECT_EQ(header(ok, "ETag"), "\"mine\"");
  // An error answer gets only what says `always`.
  http::Response missing = files.serve(Req("/nope").get(), loc);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(header(missing, "X-Frame-Options"), "(absent)");
  EXPECT_EQ(header(missing, "X-Always"), "yes");
}

// nginx's range_if_range.t: If-Range compares with the Last-Modified the answer will carry.
TEST_F(StaticFilesTest, IfRangeFollowsALastModifiedThatAddHeaderSets) {
  StaticFiles files({});
  StaticLocation removed = loc_;
  removed.add_headers = {{"Last-Modified", "", false}};
  http::Response r = files.serve(
      Req("/a.txt", {{"Range", "bytes=0-9"}, {"If-Range", "Tue, 14 Nov 2023 22:13:20 GMT"}}).get(),
      removed);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Last-Modified"), "(absent)");
  StaticLocation dated = loc_;
  dated.add_headers = {{"Last-Modified", "Mon, 28 Sep 1970 06:00:00 GMT", false}};
  r = files.serve(
      Req("/a.txt", {{"Range", "bytes=0-9"}, {"If-Range", "Mon, 28 Sep 1970 06:00:00 GMT"}}).get(),
      dated);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(header(r, "Last-Modified"), "Mon, 28 Sep 1970 06:00:00 GMT");
}

TEST_F(StaticFilesTest, IfModifiedSinceFollowsItsDirective) {
  StaticFiles files({});
  using Ims = StaticLocation::IfModifiedSince;
  auto status = [&](Ims mode, const char* date, const char* inm = nullptr) {
    StaticLocation loc = loc_;
    loc.if_modified_since = mode;
    std::vector<std::pair<std::string, std::string>> headers = {{"If-Modified-Since", date}};
    if (inm != nullptr) headers.emplace_back("If-None-Match", inm);
    return files.serve(Req("/a.txt", std::move(headers)).get(), loc).status;
  };
  const char* exact = "Tue, 14 Nov 2023 22:13:20 GMT";
  const char* later = "Wed, 15 Nov 2023 00:00:00 GMT";
  const char* earlier = "Tue, 14 Nov 2023 22:13:19 GMT";
  EXPECT_EQ(status(Ims::kExact, exact), 304);
  EXPECT_EQ(status(Ims::kExact, later), 200);
  EXPECT_EQ(status(Ims::kBefore, exact), 304);
  EXPECT_EQ(status(Ims::kBefore, later), 304);
  EXPECT_EQ(status(Ims::kBefore, earlier), 200);
  EXPECT_EQ(status(Ims::kOff, exact), 200);
  // off: a request with the date is served whole even when its tag matches (nginx).
  EXPECT_EQ(status(Ims::kOff, exact, "\"6553f100-3e8\""), 200);
}

TEST_F(StaticFilesTest, IfMatchAndIfUnmodifiedSinceFailWith412AsInNginx) {
  StaticFiles files({});
  auto status = [&](std::vector<std::pair<std::string, std::string>> headers) {
    return files.serve(Req("/a.txt", std::move(headers)).get(), loc_).status;
  };
  for (const char* ok : {"\"6553f100-3e8\"", "*", "\"x\", \"6553f100-3e8\""})
    EXPECT_EQ(status({{"If-Match", ok}}), 200) << ok;
  for (const char* bad : {"\"x\"", "W/\"6553f100-3e8\""})
    EXPECT_EQ(status({{"If-Match", bad}}), 412) << bad;
  EXPECT_EQ(status({{"If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"}}), 200);
  EXPECT_EQ(status({{"If-Unmodified-Since", "Wed, 15 Nov 2023 00:00:00 GMT"}}), 200);
  EXPECT_EQ(status({{"If-Unmodified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}), 412);
  EXPECT_EQ(status({{"If-Unmodified-Since", "yesterday"}}), 412);
  // A failed precondition comes before a range.
  EXPECT_EQ(status({{"If-Match", "\"x\""}, {"Range", "bytes=0-1"}}), 412);
}

TEST_F(StaticFilesTest, Every304ValidatorPresentMustAgreeAsInNginx) {
  StaticFiles files({});
  auto status = [&](std::vector<std::pair<std::string, std::string>> headers) {
    return files.serve(Req("/a.txt", std::move(headers)).get(), loc_).status;
  };
  const std::string date = "Tue, 14 Nov 2023 22:13:20 GMT", tag = "\"6553f100-3e8\"";
  EXPECT_EQ(status({{"If-None-Match", tag}, {"If-Modified-Since", date}}), 304);
  EXPECT_EQ(
      status({{"If-None-Match", tag}, {"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}),
      200);
}

TEST_F(StaticFilesTest, IfNoneMatchWinsOverIfModifiedSince) {
  StaticFiles files({});
  http::Response r = files.serve(
      Req("/a.txt",
          {{"If-None-Match", "\"old\""}, {"If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"}})
          .get(),
      loc_);
  EXPECT_EQ(r.status, 200);
}

TEST_F(StaticFilesTest, SingleRange) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt", {{"Range", "bytes=10-19"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 10-19/1000");
  ASSERT_NE(r.file, nullptr);
  EXPECT_EQ(r.file_offset, 10u);
  EXPECT_EQ(r.file_length, 10u);
  EXPECT_EQ(fileBody(r), text_.substr(10, 10));
  EXPECT_EQ(header(r, "ETag"), "\"6553f100-3e8\"");
  EXPECT_EQ(header(r, "Content-Type"), "text/plain; charset=utf-8");

  r = files.serve(Req("/a.txt", {{"Range", "bytes=-5"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 995-999/1000");
  EXPECT_EQ(r.file_offset, 995u);
  EXPECT_EQ(r.file_length, 5u);
  EXPECT_EQ(fileBody(r), text_.substr(995));

  r = files.serve(Req("/a.txt", {{"Range", "bytes=990-5000"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 990-999/1000");
  EXPECT_EQ(r.file_length, 10u);
}

TEST_F(StaticFilesTest, AMalformedRangeIs416WithTheSizeAsNginxAnswers) {
  StaticFiles files({});
  for (const char* bad : {"bytes=0-1,,5-9", "bytes=a-", "bytes=5-1", "bytes=1000-"}) {
    http::Response r = files.serve(Req("/a.txt", {{"Range", bad}}).get(), loc_);
    EXPECT_EQ(r.status, 416) << bad;
    EXPECT_EQ(header(r, "Content-Range"), "bytes */1000") << bad;
  }
  EXPECT_EQ(files.serve(Req("/a.txt", {{"Range", "lines=1-2"}}).get(), loc_).status, 200);
}

// alias: the file is the alias plus the path after the location's prefix; in a regex location the
// alias is the file. Redirects to "dir/" name the URI, not the file system.
TEST_F(StaticFilesTest, AliasServesFromAnotherDirectory) {
  StaticFiles files({});
  StaticLocation alias;
  alias.alias = root_ + "/sub/";
  alias.alias_prefix = 3;  // "/i/"
  http::Response r = files.serve(Req("/i/page.html").get(), alias, "/i/page.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "<p>page</p>\n");
  r = files.serve(Req("/i/").get(), alias, "/i/");
  EXPECT_EQ(fileBody(r), "<p>sub</p>\n");                      // the index
  r = files.serve(Req("/i/../a.txt").get(), alias, "/a.txt");  // normalized before it came here
  EXPECT_EQ(r.status, 404);
  StaticLocation concat;  // "location /i/ { alias ROOT/su; }": ROOT/su + "b/page.html"
  concat.alias = root_ + "/su";
  concat.alias_prefix = 3;
  r = files.serve(Req("/i/b/page.html").get(), concat, "/i/b/page.html");
  EXPECT_EQ(fileBody(r), "<p>page</p>\n");
  StaticLocation whole;  // a regex location's alias: the file itself
  whole.alias = root_ + "/sub/page.html";
  whole.alias_whole = true;
  r = files.serve(Req("/anything.html").get(), whole, "/anything.html");
  EXPECT_EQ(fileBody(r), "<p>page</p>\n");
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  StaticLocation dir;
  dir.alias = root_ + "/";
  dir.alias_prefix = 3;
  r = files.serve(Req("/i/sub").get(), dir, "/i/sub");
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(header(r, "Location"), "/i/sub/");
}

// nginx's charset module: `charset` names the charset of text answers; with source_charset and
// a charset_map the bytes are recoded as they go out, ranges included.
TEST_F(StaticFilesTest, CharsetRecodesTextAsItGoesOut) {
  StaticFiles files({});
  loc_.charset = "A";
  http::Response r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(header(r, "Content-Type"), "text/plain; charset=A");
  EXPECT_NE(r.file, nullptr);  // nothing to recode: sent from the file
  std::string table(256, '\0');
  for (int b = 0; b < 256; ++b)
    table[static_cast<size_t>(b)] = static_cast<char>(b == 'a' ? 'Z' : b);
  loc_.recode = std::make_shared<const std::string>(table);
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file, nullptr);
  std::string want = text_;
  for (char& c : want)
    c = c == 'a' ? 'Z' : c;
  EXPECT_EQ(r.body, want);
  r = files.serve(Req("/a.txt", {{"Range", "bytes=0-3"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "Zbcd");
  EXPECT_EQ(header(r, "Content-Range"), "bytes 0-3/1000");
  r = files.serve(Req("/style.css").get(), loc_);  // not a charset type: untouched
  EXPECT_EQ(header(r, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_NE(r.file, nullptr);
}

// max_ranges: more ranges than that get the whole file; 0 turns ranges off.
TEST_F(StaticFilesTest, MaxRangesAsNginx) {
  StaticFiles files({});
  loc_.max_ranges = 2;
  EXPECT_EQ(files.serve(Req("/a.txt", {{"Range", "bytes=0-9, -10"}}).get(), loc_).status, 206);
  EXPECT_EQ(files.serve(Req("/a.txt", {{"Range", "bytes=0-9, -10, 10000-"}}).get(), loc_).status,
            206);  // the unsatisfiable part does not count
  EXPECT_EQ(files.serve(Req("/a.txt", {{"Range", "bytes=0-9, -10, 10-19"}}).get(), loc_).status,
            200);
  loc_.max_ranges = 0;
  EXPECT_EQ(files.serve(Req("/a.txt", {{"Range", "bytes=0-9"}}).get(), loc_).status, 200);
}

TEST_F(StaticFilesTest, MultiRangeIsMultipartByteranges) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt", {{"Range", "bytes=0-1,5-9"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.file, nullptr);
  EXPECT_EQ(r.file_length, 0u);
  std::string type = header(r, "Content-Type");
  const std::string prefix = "multipart/byteranges; boundary=";
  ASSERT_EQ(type.substr(0, prefix.size()), prefix);
  std::string boundary = type.substr(prefix.size());
  ASSERT_FALSE(boundary.empty());
  EXPECT_EQ(header(r, "Content-Range"), "(absent)");
  EXPECT_EQ(
      r.body,
      "\r\n--" + boundary +
          "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/1000\r\n\r\n" +
          text_.substr(0, 2) + "\r\n--" + boundary +
          "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-9/1000\r\n\r\n" +
          text_.substr(5, 5) + "\r\n--" + boundary + "--\r\n");
  EXPECT_EQ(header(r, "ETag"), "\"6553f100-3e8\"");
}

TEST_F(StaticFilesTest, MultiRangeOnADirectoryIndexUsesTheIndexType) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/", {{"Range", "bytes=0-1,3-4"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_NE(r.body.find("Content-Type: text/html; charset=utf-8\r\nContent-Range: bytes 0-1/"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("application/octet-stream"), std::string::npos) << r.body;
}

TEST_F(StaticFilesTest, MultiRangeOnALargeFileGives200) {
  StaticFiles::Options options;
  options.max_multipart_file = 100;
  StaticFiles files(options);
  http::Response r = files.serve(Req("/a.txt", {{"Range", "bytes=0-1,5-9"}}).get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_offset, 0u);
  EXPECT_EQ(r.file_length, 1000u);
  // A single range is still honoured.
  r = files.serve(Req("/a.txt", {{"Range", "bytes=5-9"}}).get(), loc_);
  EXPECT_EQ(r.status, 206);
}

TEST_F(StaticFilesTest, UnsatisfiableRangeIs416) {
  StaticFiles files({});
  http::Response r = files.serve(Req("/a.txt", {{"Range", "bytes=1000-"}}).get(), loc_);
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(header(r, "Content-Range"), "bytes */1000");
  EXPECT_EQ(r.file, nullptr);
}

TEST_F(StaticFilesTest, RangesAddingUpBeyondTheSizeOrNotInBytesGive200) {
  StaticFiles files({});
  for (std::string_view range : {"bytes=0-999,0-999", "items=0-1"}) {
    http::Response r = files.serve(Req("/a.txt", {{"Range", std::string(range)}}).get(), loc_);
    EXPECT_EQ(r.status, 200) << range;
    EXPECT_EQ(r.file_offset, 0u) << range;
    EXPECT_EQ(r.file_length, 1000u) << range;
    EXPECT_EQ(header(r, "Content-Range"), "(absent)") << range;
  }
}

TEST_F(StaticFilesTest, IfRange) {
  StaticFiles files({});
  auto serve = [&](std::string if_range) {
    return files.serve(Req("/a.txt", {{"Range", "bytes=0-9"}, {"If-Range", if_range}}).get(), loc_);
  };
  http::Response r = serve("\"6553f100-3e8\"");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.file_length, 10u);

  r = serve("Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(r.status, 206);

  r = serve("\"stale\"");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_offset, 0u);
  EXPECT_EQ(r.file_length, 1000u);
  EXPECT_EQ(header(r, "Content-Range"), "(absent)");

  r = serve("W/\"6553f100-3e8\"");  // If-Range needs a strong match
  EXPECT_EQ(r.status, 200);

  r = serve("Mon, 13 Nov 2023 00:00:00 GMT");
  EXPECT_EQ(r.status, 200);

  // If-Range without Range changes nothing.
  r = files.serve(Req("/a.txt", {{"If-Range", "\"stale\""}}).get(), loc_);
  EXPECT_EQ(r.status, 200);
}

TEST_F(StaticFilesTest, PrecompressedSiblings) {
  StaticFiles files({});
  const std::string identity_etag = etagFor(kMtime, css_.size());
  const std::string gzip_etag = etagFor(kGzMtime, gz_.size(), "gzip");
  const std::string zstd_etag = etagFor(kZstMtime, zst_.size(), "zstd");

  http::Response r = files.serve(Req("/style.css").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), css_);
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(r, "Content-Encoding"), "(absent)");
  EXPECT_EQ(header(r, "ETag"), identity_etag);
  EXPECT_EQ(header(r, "Content-Type"), "text/css; charset=utf-8");

  r = files.serve(Req("/style.css", {{"Accept-Encoding", "gzip"}}).get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), gz_);
  EXPECT_EQ(r.file_length, gz_.size());
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(r, "ETag"), gzip_etag);
  EXPECT_NE(gzip_etag, identity_etag);
  EXPECT_EQ(header(r, "Last-Modified"), httpDate(kGzMtime));
  EXPECT_EQ(header(r, "Content-Type"), "text/css; charset=utf-8");

  r = files.serve(Req("/style.css", {{"Accept-Encoding", "gzip, deflate, br, zstd"}}).get(), loc_);
  EXPECT_EQ(fileBody(r), zst_);
  EXPECT_EQ(header(r, "Content-Encoding"), "zstd");
  EXPECT_EQ(header(r, "ETag"), zstd_etag);

  r = files.serve(Req("/style.css", {{"Accept-Encoding", "zstd;q=0.5, gzip"}}).get(), loc_);
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");

  for (std::string_view ae : {"br", "gzip;q=0", "identity"}) {
    r = files.serve(Req("/style.css", {{"Accept-Encoding", std::string(ae)}}).get(), loc_);
    EXPECT_EQ(fileBody(r), css_) << ae;
    EXPECT_EQ(header(r, "Content-Encoding"), "(absent)") << ae;
    EXPECT_EQ(header(r, "Vary"), "Accept-Encoding") << ae;
  }

  // No siblings: no Vary, no coding.
  r = files.serve(Req("/a.txt", {{"Accept-Encoding", "gzip, zstd"}}).get(), loc_);
  EXPECT_EQ(header(r, "Vary"), "(absent)");
  EXPECT_EQ(header(r, "Content-Encoding"), "(absent)");
  EXPECT_EQ(r.file_length, 1000u);
}

TEST_F(StaticFilesTest, PrecompressedValidatorsAndRangesArePerRepresentation) {
  StaticFiles files({});
  const std::string identity_etag = etagFor(kMtime, css_.size());
  const std::string gzip_etag = etagFor(kGzMtime, gz_.size(), "gzip");

  http::Response r = files.serve(
      Req("/style.css", {{"Accept-Encoding", "gzip"}, {"If-None-Match", identity_etag}}).get(),
      loc_);
  EXPECT_EQ(r.status, 200);
  r = files.serve(
      Req("/style.css", {{"Accept-Encoding", "gzip"}, {"If-None-Match", gzip_etag}}).get(), loc_);
  EXPECT_EQ(r.status, 304);
  r = files.serve(Req("/style.css", {{"If-None-Match", gzip_etag}}).get(), loc_);
  EXPECT_EQ(r.status, 200);

  r = files.serve(Req("/style.css", {{"Accept-Encoding", "gzip"}, {"Range", "bytes=0-3"}}).get(),
                  loc_);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 0-3/" + std::to_string(gz_.size()));
  EXPECT_EQ(fileBody(r), gz_.substr(0, 4));
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
}

TEST_F(StaticFilesTest, ImmutableForHashedNamesOnly) {
  StaticFiles files({});
  loc_.immutable_hashed = true;
  loc_.cache_control = "max-age=3600";
  http::Response r = files.serve(Req("/assets/app.3f9c2a1b.js").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header(r, "Content-Type"), "text/javascript; charset=utf-8");

  r = files.serve(Req("/assets/app.js").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Cache-Control"), "max-age=3600");

  loc_.immutable_hashed = false;
  r = files.serve(Req("/assets/app.3f9c2a1b.js").get(), loc_);
  EXPECT_EQ(header(r, "Cache-Control"), "max-age=3600");
}

TEST_F(StaticFilesTest, ReplacedFileIsNoticedAfterRevalidate) {
  StaticFiles::Options options;
  options.revalidate = std::chrono::milliseconds(0);
  StaticFiles files(options);
  http::Response r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.file_length, 1000u);

  replace("a.txt", "short", kMtime + 500);
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file_length, 5u);
  EXPECT_EQ(fileBody(r), "short");
  EXPECT_EQ(header(r, "ETag"), "\"6553f2f4-5\"");
  EXPECT_EQ(header(r, "Last-Modified"), httpDate(kMtime + 500));

  // Same size and mtime, new inode: still noticed (the old descriptor would send old bytes).
  replace("a.txt", "SHORT", kMtime + 500);
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(fileBody(r), "SHORT");

  // Deleted, then created again.
  std::filesystem::remove(root_ + "/a.txt");
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 404);
  put("a.txt", "back");
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fileBody(r), "back");

  // A sibling appearing is noticed too.
  r = files.serve(Req("/a.txt", {{"Accept-Encoding", "gzip"}}).get(), loc_);
  EXPECT_EQ(header(r, "Content-Encoding"), "(absent)");
  put("a.txt.gz", gzipCompress("back"));
  r = files.serve(Req("/a.txt", {{"Accept-Encoding", "gzip"}}).get(), loc_);
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
}

TEST_F(StaticFilesTest, WithinTheRevalidateIntervalTheCachedFileIsServed) {
  StaticFiles::Options options;
  options.revalidate = std::chrono::hours(1);
  StaticFiles files(options);
  http::Response r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.file_length, 1000u);

  replace("a.txt", "short", kMtime + 500);
  r = files.serve(Req("/a.txt").get(), loc_);
  EXPECT_EQ(r.file_length, 1000u);
  EXPECT_EQ(fileBody(r), text_);  // the old inode, still open
  EXPECT_EQ(header(r, "ETag"), "\"6553f100-3e8\"");

  // A missing file is cached as missing too.
  r = files.serve(Req("/late.txt").get(), loc_);
  EXPECT_EQ(r.status, 404);
  put("late.txt", "late");
  r = files.serve(Req("/late.txt").get(), loc_);
  EXPECT_EQ(r.status, 404);
}

TEST_F(StaticFilesTest, CacheIsBounded) {
  StaticFiles::Options options;
  options.max_entries = 2;
  StaticFiles files(options);
  EXPECT_EQ(files.serve(Req("/a.txt").get(), loc_).status, 200);
  EXPECT_EQ(files.cachedFiles(), 1u);
  EXPECT_EQ(files.serve(Req("/sub/page.html").get(), loc_).status, 200);
  EXPECT_EQ(files.cachedFiles(), 2u);
  EXPECT_EQ(files.serve(Req("/style.css").get(), loc_).status, 200);
  EXPECT_LE(files.cachedFiles(), 2u);
  EXPECT_EQ(files.serve(Req("/a.txt").get(), loc_).status, 200);
  EXPECT_LE(files.cachedFiles(), 2u);
}

}  // namespace
}  // namespace surge::edge

namespace surge::edge {
namespace {

// nginx's `expires`: an Expires date beside Cache-Control; a negative time is in the past and
// no-cache; `modified` counts from the file's date.
TEST(ExpiresTest, HeadersAsNginxSendsThem) {
  StaticLocation loc;
  auto lines = [&](time_t mtime) {
    std::string h;
    expiresHeaders(loc, mtime, h);
    return h;
  };
  EXPECT_EQ(lines(0), "");
  loc.expires = StaticLocation::Expires::kEpoch;
  loc.cache_control = "no-cache";
  EXPECT_EQ(lines(0), "Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n");
  loc.expires = StaticLocation::Expires::kMax;
  loc.cache_control = "max-age=315360000";
  EXPECT_EQ(lines(0),
            "Expires: Thu, 31 Dec 2037 23:55:55 GMT\r\nCache-Control: max-age=315360000\r\n");
  loc.expires = StaticLocation::Expires::kAccess;
  loc.expires_s = -2048;
  loc.cache_control = "no-cache";
  const time_t now = ::time(nullptr);
  std::string h = lines(0);
  EXPECT_NE(h.find("Cache-Control: no-cache\r\n"), std::string::npos) << h;
  auto date = parseHttpDate(h.substr(9, h.find("\r\n") - 9));
  ASSERT_TRUE(date);
  EXPECT_NEAR(static_cast<double>(*date), static_cast<double>(now - 2048), 2);
  loc.expires = StaticLocation::Expires::kModified;
  loc.expires_s = 2048;
  loc.cache_control.clear();
  h = lines(now - 8);
  EXPECT_NE(h.find("Expires: " + httpDate(now - 8 + 2048)), std::string::npos) << h;
  EXPECT_TRUE(h.find("Cache-Control: max-age=2040\r\n") != std::string::npos ||
              h.find("Cache-Control: max-age=2039\r\n") != std::string::npos)
      << h;
  EXPECT_NE(lines(now - 4000).find("Cache-Control: no-cache"), std::string::npos);
}

}  // namespace
}  // namespace surge::edge
