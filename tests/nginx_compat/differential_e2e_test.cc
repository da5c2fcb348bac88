// Debian's nginx and surge-edge started on the same configuration and document root, the same
// requests sent to both, byte for byte: status, the headers that matter and the bodies must
// match. What differs on purpose is in nginx-compat/DIFFERENCES.md and normalized here, each
// with its reason; anything else is a failure that names the request.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "surge/testing/process.h"
#include "surge/testing/temp_dir.h"

namespace surge::nginx_compat::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNginx = "/usr/sbin/nginx";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names; repeated ones joined by ", "
  std::string body;
  std::string raw;
};

// Sends `bytes` and reads until the server closes (every request says Connection: close).
Answer ask(int port, const std::string& bytes) {
  Answer a;
  int fd = testing::connectLoopback(port);
  if (fd < 0) return a;
  (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    a.raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t end = a.raw.find("\r\n\r\n");
  if (a.raw.size() < 12 || end == std::string::npos) return a;
  a.status = std::atoi(a.raw.c_str() + 9);
  a.body = a.raw.substr(end + 4);
  std::istringstream lines(a.raw.substr(0, end));
  std::string line;
  std::getline(lines, line);  // the status line
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    auto& slot = a.headers[name];
    slot = slot.empty() ? value : slot + ", " + value;
  }
  return a;
}

// The error pages name their server ("nginx/1.22.1", "surge"): DIFFERENCES.md.
std::string normalizedBody(std::string body) {
  for (const std::string& name : {std::string("nginx/1.22.1"), std::string("nginx")}) {
    for (size_t at = body.find("<center>" + name + "</center>"); at != std::string::npos;
         at = body.find("<center>" + name + "</center>")) {
      body.replace(at + 8, name.size(), "surge");
    }
  }
  return body;
}

// A chunked body put back together (nginx streams what it compresses).
std::string dechunk(const std::string& body) {
  std::string out;
  size_t at = 0;
  while (at < body.size()) {
    size_t eol = body.find("\r\n", at);
    if (eol == std::string::npos) break;
    size_t size = std::stoul(body.substr(at, eol - at), nullptr, 16);
    if (size == 0) break;
    out += body.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
  return out;
}

// The bytes a gzip body holds ("<not gzip>" when it is not one).
std::string gunzip(const std::string& gz) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return "<not gzip>";
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<not gzip>";
}

struct Case {
  std::string request;  // head lines after the request line, without the final blank line
  std::string what;
};

class DifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kNginx, X_OK) != 0) {
      GTEST_FAIL() << kNginx << " is missing: ./surge installs Debian's nginx package";
    }
    const std::string d = dir_.path();
    // nginx's workers run as nobody when the test runs as root: the tree must be readable.
    ::chmod(d.c_str(), 0755);
    const std::string html = d + "/html";
    write("html/index.html", "<p>home</p>\n");
    write("html/a.txt", "0123456789abcdefghij\n");
    write("html/sp ace.txt", "space\n");
    write("html/pct%41.txt", "percent\n");
    write("html/data.json", "{\"a\":1}\n");
    write("html/style.css", "p{}\n");
    write("html/noext", "no extension\n");
    write("html/big.bin", std::string(100000, 'b'));
    write("html/empty.txt", "");
    write("html/dir/index.html", "<p>dir</p>\n");
    write("html/noindex/file.txt", "x\n");
    write("html/404.html", "<p>custom 404</p>\n");
    write("html/exp/f.txt", "expires\n");
    write("html/tf/real.txt", "real\n");
    write("html/caf\xc3\xa9.txt", "utf-8 name\n");
    std::string page = "<html><body>";
    for (int i = 0; i < 200; ++i)
      page += "<p>clinic " + std::to_string(i) + " has slots</p>\n";
    write("html/gz/page.html", page + "</body></html>\n");
    write("html/gz/a.txt", std::string(3000, 'a') + "\n");
    write("html/gz/tiny.txt", "tiny\n");
    write("html/gz/data.json", "{\"clinics\":[" + std::string(500, '1') + "]}\n");
    write("html/gz/b.bin", std::string(3000, 'b'));
    write("html/ai/a.txt", "a\n");
    write("html/ai/b c&d.txt", "space and amp\n");
    write("html/ai/<tag>.html", "html in the name\n");
    write("html/ai/" + std::string(60, 'L') + ".txt", "long\n");
    write("html/ai/" + std::string(48, 'm') + "\"&.txt", "long with quote\n");
    write("html/ai/\xc3\xa9t\xc3\xa9.txt", "utf-8\n");
    write("html/ai/" + std::string(55, 'u') + "\xc3\xa9.txt", "long utf-8\n");
    write("html/ai/.hidden", "hidden\n");
    write("html/ai/sub/x.txt", "x\n");
    write("html/ai/" + std::string(49, 'd') + "/x.txt", "49 plus a slash\n");
    write("html/ai/big.bin", std::string(123456, 'z'));
    write("html/ai/withindex/index.html", "<p>index wins</p>\n");
    // disable_symlinks: the same links under each location's directory, and a root reached
    // through a link. `other.txt` is a link another user owns (when the test may give it one).
    for (const char* sl : {"sl", "slon", "slown", "slfrom", "slif"}) {
      const std::string at = d + "/html/" + sl;
      write(std::string("html/") + sl + "/real.txt", "real\n");
      write(std::string("html/") + sl + "/sub/x.txt", "x\n");
      std::filesystem::create_symlink("real.txt", at + "/link.txt");
      std::filesystem::create_symlink("sub", at + "/linkdir");
      std::filesystem::create_symlink("real.txt", at + "/other.txt");
      if (::geteuid() == 0) ::lchown((at + "/other.txt").c_str(), 65534, 65534);
    }
    std::filesystem::create_symlink(html, d + "/htmllink");
    write("html/v1/rootvar/f.txt", "root with a variable\n");
    write("html/slroot/a.txt", "a\n");
    write("html/slrootfrom/a.txt", "a\n");
    std::filesystem::create_symlink("a.txt", d + "/html/slrootfrom/link.txt");
    nginx_port_ = testing::freeLoopbackPort();
    surge_port_ = testing::freeLoopbackPort();
    for (auto [who, port] : {std::pair<std::string, int>{"nginx", nginx_port_},
                             std::pair<std::string, int>{"surge", surge_port_}}) {
      std::filesystem::create_directories(d + "/" + who + "/tmp");
      ::chmod((d + "/" + who + "/tmp").c_str(), 0777);
      write(who + "/nginx.conf", config(port, html, d + "/" + who));
    }
    nginx_ = testing::ChildProcess(
        {kNginx, "-p", d + "/nginx/", "-c", "nginx.conf", "-e", d + "/nginx/error.log"},
        d + "/nginx/out.log");
    surge_ = testing::ChildProcess(
        {SURGE_EDGE_BIN, "-p", d + "/surge/", "-c", "nginx.conf", "-e", d + "/surge/error.log"},
        d + "/surge/out.log");
    ASSERT_TRUE(testing::waitForPort(nginx_port_, 10000ms))
        << readFile(d + "/nginx/error.log") << readFile(d + "/nginx/out.log");
    ASSERT_TRUE(testing::waitForPort(surge_port_, 10000ms))
        << readFile(d + "/surge/error.log") << readFile(d + "/surge/out.log");
  }

  void write(const std::string& name, const std::string& text) {
    dir_.write(name, text);
    std::filesystem::path p = std::filesystem::path(dir_.path()) / name;
    for (; p != std::filesystem::path(dir_.path()); p = p.parent_path()) {
      ::chmod(p.c_str(), std::filesystem::is_directory(p) ? 0755 : 0644);
    }
  }

  // One file for both; only the port and the process's own paths differ.
  static std::string config(int port, const std::string& html, const std::string& own) {
    return "daemon off;\nworker_processes 1;\npid " + own + "/pid;\nerror_log " + own +
           "/error.log;\nevents {\n}\nhttp {\n"
           "  include /etc/nginx/mime.types;\n"
           "  default_type application/octet-stream;\n"
           "  access_log off;\n"
           "  client_body_temp_path " +
           own + "/tmp/body;\n  proxy_temp_path " + own + "/tmp/proxy;\n  fastcgi_temp_path " +
           own + "/tmp/fastcgi;\n  uwsgi_temp_path " + own + "/tmp/uwsgi;\n  scgi_temp_path " +
           own +
           "/tmp/scgi;\n"
           "  server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(port) +
           ";\n"
           "    server_name localhost;\n"
           "    root " +
           html +
           ";\n"
           "    location / { }\n"
           "    location /tf/ { try_files $uri $uri/ /index.html; }\n"
           "    location /tfn/ { try_files $uri =404; }\n"
           "    location /ep/ { error_page 404 /404.html; }\n"
           "    location /epc/ { error_page 404 =200 /index.html; }\n"
           "    location = /404.html { internal; }\n"
           "    location ~ \\.json$ { add_header X-Json yes; }\n"
           "    location ~* /CASE/ { return 200 \"case $uri\"; }\n"
           "    location ^~ /exp/ { expires 1h; }\n"
           "    location /redir { return 301 /a.txt; }\n"
           "    location /text { return 200 \"text $arg_x\"; }\n"
           "    location /rw/ { rewrite ^/rw/(.*)$ /$1 last; }\n"
           "    location /rwr/ { rewrite ^/rwr/(.*)$ /$1 redirect; }\n"
           "    location /al/ { alias " +
           html +
           "/dir/; }\n"
           "    location /hdr/ { add_header X-A \"$uri $args\"; add_header X-B b always; }\n"
           "    location /gz/ { gzip on; gzip_types text/plain application/json; "
           "gzip_min_length 20; gzip_vary on; gzip_disable \"Old/\\d\"; }\n"
           "    location /ai/ { autoindex on; }\n"
           "    location /ais/ { alias " +
           html +
           "/ai/; autoindex on; autoindex_exact_size off; }\n"
           "    location /aiu/ { alias " +
           html +
           "/ai/; autoindex on; charset utf-8; }\n"
           "    location ~ ^/cap/(.+)$ { alias " +
           html +
           "/dir/$1; }\n"
           "    location /afile { alias " +
           html +
           "/a.txt; }\n"
           "    location /adir { alias " +
           html +
           "/dir; }\n"
           "    location /rootvar/ { root " +
           html +
           "$arg_s; }\n"
           "    location /slon/ { disable_symlinks on; }\n"
           "    location /slif/ { disable_symlinks on; if (-f $request_filename) { return 204; } "
           "}\n"
           "    location /slown/ { disable_symlinks if_not_owner; }\n"
           "    location /slfrom/ { disable_symlinks on from=$document_root; }\n"
           "    location /slroot/ { root " +
           html +
           "link; disable_symlinks on; }\n"
           "    location /slrootfrom/ { root " +
           html +
           "link; disable_symlinks on from=$document_root; }\n"
           "    location /gzoff/ { alias " +
           html +
           "/gz/; gzip on; gzip_proxied any; gzip_http_version 1.0; }\n"
           "  }\n"
           "}\n";
  }

  // The same request to both; differences reported with the request.
  void same(const std::string& request_line, const std::string& more_headers = "",
            const std::string& body = "") {
    std::string bytes =
        request_line + "\r\nHost: localhost\r\nConnection: close\r\n" + more_headers +
        (body.empty() ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n") + "\r\n" +
        body;
    Answer n = ask(nginx_port_, bytes);
    Answer s = ask(surge_port_, bytes);
    if (n.headers["transfer-encoding"] == "chunked") {
      // nginx streams what it makes as it goes (a directory's listing); surge-edge sends whole
      // answers with their length. The bytes must be the same.
      n.body = dechunk(n.body);
      n.headers.erase("transfer-encoding");
      if (request_line.rfind("HEAD", 0) != 0)
        n.headers["content-length"] = std::to_string(n.body.size());
    }
    const std::string what = request_line + (more_headers.empty() ? "" : " + " + more_headers);
    ASSERT_NE(n.status, 0) << "nginx did not answer " << what;
    normalize(n, nginx_port_);
    normalize(s, surge_port_);
    EXPECT_EQ(s.status, n.status) << what << "\nnginx:\n" << n.raw << "\nsurge:\n" << s.raw;
    // The headers that matter to a client or a cache. Date and Server differ by nature.
    for (const char* h :
         {"content-type", "content-length", "location", "last-modified", "etag", "accept-ranges",
          "content-range", "cache-control", "x-json", "x-a", "x-b", "allow"}) {
      EXPECT_EQ(s.headers[h], n.headers[h]) << h << " of " << what;
    }
    EXPECT_EQ(s.headers.count("expires"), n.headers.count("expires")) << "Expires of " << what;
    EXPECT_EQ(s.body, n.body) << what;
  }

  // What differs by nature: each server's own port in a Location; its name in an error page
  // (and so the page's length); a multipart answer's boundary.
  static void normalize(Answer& a, int port) {
    std::string& location = a.headers["location"];
    std::string own = ":" + std::to_string(port) + "/";
    if (size_t at = location.find(own); at != std::string::npos)
      location.replace(at, own.size(), ":PORT/");
    if (location.empty()) a.headers.erase("location");
    std::string before = a.body;
    a.body = normalizedBody(a.body);
    std::string& type = a.headers["content-type"];
    if (type.rfind("multipart/byteranges; boundary=", 0) == 0) {
      std::string boundary = type.substr(31);
      for (size_t at = a.body.find(boundary); at != std::string::npos;
           at = a.body.find(boundary, at)) {
        a.body.replace(at, boundary.size(), "BOUNDARY");
      }
      type = "multipart/byteranges; boundary=BOUNDARY";
      a.headers["content-length"] = std::to_string(a.body.size());
    } else if (a.body != before || (a.body.empty() && a.status >= 300 && type == "text/html" &&
                                    !a.headers["content-length"].empty())) {
      // The page's length as if it named "surge" (a HEAD answer has no body to measure).
      long length = std::atol(a.headers["content-length"].c_str());
      if (a.raw.find("\r\nServer: nginx") != std::string::npos) length -= 7;  // "nginx/1.22.1"
      a.headers["content-length"] = std::to_string(length);
    }
    if (type.empty()) a.headers.erase("content-type");
  }

  testing::TempDir dir_;
  int nginx_port_ = 0;
  int surge_port_ = 0;
  testing::ChildProcess nginx_;
  testing::ChildProcess surge_;
};

TEST_F(DifferentialTest, FilesIndexesAndOddPaths) {
  for (const char* target : {"/",
                             "/index.html",
                             "/a.txt",
                             "/a.txt?x=1",
                             "/sp%20ace.txt",
                             "/pct%2541.txt",
                             "/%61.txt",
                             "/caf%C3%A9.txt",
                             "/data.json",
                             "/style.css",
                             "/noext",
                             "/big.bin",
                             "/empty.txt",
                             "/dir",
                             "/dir/",
                             "/dir?x=1",
                             "/noindex/",
                             "/missing",
                             "/missing/",
                             "/a.txt/",
                             "/./a.txt",
                             "//a.txt",
                             "/dir/../a.txt",
                             "/dir/%2e%2e/a.txt",
                             "/../a.txt",
                             "/%00",
                             "/a.txt%00",
                             "/x/CASE/y",
                             "/x/case/y",
                             "/al/",
                             "/al/index.html",
                             "/al"}) {
    same(std::string("GET ") + target + " HTTP/1.1");
  }
  same("HEAD /a.txt HTTP/1.1");
  same("HEAD /missing HTTP/1.1");
  same("GET /a.txt HTTP/1.0");
  same("GET http://localhost/a.txt HTTP/1.1");
}

TEST_F(DifferentialTest, RangesAndConditionals) {
  for (const char* range :
       {"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=0-0", "bytes=100-", "bytes=abc", "bytes=5-2",
        "bytes=0-1,4-5", "bytes=0-99999999", "items=0-1", "bytes=-0"}) {
    same("GET /a.txt HTTP/1.1", std::string("Range: ") + range + "\r\n");
  }
  same("GET /empty.txt HTTP/1.1", "Range: bytes=0-1\r\n");
  // The validators the first answer gave.
  Answer first =
      ask(nginx_port_, "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  const std::string lm = first.headers["last-modified"];
  const std::string etag = first.headers["etag"];
  same("GET /a.txt HTTP/1.1", "If-Modified-Since: " + lm + "\r\n");
  same("GET /a.txt HTTP/1.1", "If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT\r\n");
  same("GET /a.txt HTTP/1.1", "If-None-Match: " + etag + "\r\n");
  same("GET /a.txt HTTP/1.1", "If-None-Match: \"nope\"\r\n");
  same("GET /a.txt HTTP/1.1", "If-None-Match: *\r\n");
  same("GET /a.txt HTTP/1.1", "If-Match: \"nope\"\r\n");
  same("GET /a.txt HTTP/1.1", "If-Match: " + etag + "\r\n");
  same("GET /a.txt HTTP/1.1", "If-Unmodified-Since: Mon, 01 Jan 1990 00:00:00 GMT\r\n");
  same("GET /a.txt HTTP/1.1", "Range: bytes=0-3\r\nIf-Range: " + etag + "\r\n");
  same("GET /a.txt HTTP/1.1", "Range: bytes=0-3\r\nIf-Range: \"old\"\r\n");
  same("GET /a.txt HTTP/1.1", "Range: bytes=0-3\r\nIf-Range: " + lm + "\r\n");
  same("GET /a.txt HTTP/1.1", "Accept-Encoding: gzip, br\r\n");
}

TEST_F(DifferentialTest, RewritesRedirectsAndErrorPages) {
  for (const char* target : {"/tf/real.txt",
                             "/tf/none",
                             "/tf/",
                             "/tfn/none",
                             "/tfn/real.txt",
                             "/ep/none",
                             "/epc/none",
                             "/404.html",
                             "/exp/f.txt",
                             "/redir",
                             "/text?x=1",
                             "/rw/a.txt",
                             "/rw/none",
                             "/rwr/a.txt?q=1",
                             "/hdr/none",
                             "/hdr/?a=b",
                             "/cap/index.html",
                             "/cap/none",
                             "/rootvar/f.txt?s=/v1",
                             "/rootvar/f.txt",
                             "/rootvar/f.txt?s=/v2",
                             "/afile",
                             "/adir",
                             "/adir/",
                             "/adir/index.html"}) {
    same(std::string("GET ") + target + " HTTP/1.1");
  }
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
    same(std::string(method) + " /a.txt HTTP/1.1", "", "body");
  }
  same("POST /text HTTP/1.1", "", "x");
}

// autoindex on: the listing byte for byte (names cut, escaped, sorted; sizes exact and not).
TEST_F(DifferentialTest, DirectoryListings) {
  for (const char* target : {"/ai/", "/ai/sub/", "/ai/withindex/", "/ai/sub", "/ai/none/", "/ais/",
                             "/ais/sub/", "/ai/?x=1", "/aiu/"}) {
    same(std::string("GET ") + target + " HTTP/1.1");
  }
  // HEAD: the same status and type, no body; surge-edge also says the listing's length, which
  // nginx (streaming it) does not know (DIFFERENCES.md).
  const std::string head = "HEAD /ai/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  Answer n = ask(nginx_port_, head);
  Answer s = ask(surge_port_, head);
  EXPECT_EQ(s.status, n.status) << n.raw << s.raw;
  EXPECT_EQ(s.headers["content-type"], n.headers["content-type"]);
  EXPECT_EQ(s.body, "");
}

// disable_symlinks off, on, if_not_owner and from=: which links are followed, and a root
// reached through one.
TEST_F(DifferentialTest, Symlinks) {
  for (const char* dir : {"sl", "slon", "slown", "slfrom", "slif"}) {
    for (const char* name : {"real.txt", "link.txt", "other.txt", "linkdir/x.txt", "linkdir/",
                             "linkdir", "sub/x.txt"}) {
      same(std::string("GET /") + dir + "/" + name + " HTTP/1.1");
    }
  }
  for (const char* target : {"/slroot/a.txt", "/slrootfrom/a.txt", "/slrootfrom/link.txt"}) {
    same(std::string("GET ") + target + " HTTP/1.1");
  }
}

// gzip on: what is compressed and what is not, and how the answer says so; the compressed bytes
// differ (nginx sizes its window to the file, and streams chunked) and are compared unpacked.
TEST_F(DifferentialTest, GzipOnTheFly) {
  struct Request {
    std::string line, headers;
  };
  std::vector<Request> requests;
  for (const char* target : {"/gz/page.html", "/gz/a.txt", "/gz/tiny.txt", "/gz/data.json",
                             "/gz/b.bin", "/gz/none", "/gzoff/a.txt", "/gzoff/page.html"}) {
    for (const char* ae : {"", "Accept-Encoding: gzip\r\n", "Accept-Encoding: gzip;q=0\r\n",
                           "Accept-Encoding: br, gzip\r\n"}) {
      requests.push_back({std::string("GET ") + target + " HTTP/1.1", ae});
    }
  }
  requests.push_back({"HEAD /gz/page.html HTTP/1.1", "Accept-Encoding: gzip\r\n"});
  requests.push_back({"GET /gz/page.html HTTP/1.0", "Accept-Encoding: gzip\r\n"});
  requests.push_back({"GET /gzoff/page.html HTTP/1.0", "Accept-Encoding: gzip\r\n"});
  requests.push_back({"GET /gz/page.html HTTP/1.1", "Accept-Encoding: gzip\r\nVia: 1.1 cdn\r\n"});
  requests.push_back(
      {"GET /gzoff/page.html HTTP/1.1", "Accept-Encoding: gzip\r\nVia: 1.1 cdn\r\n"});
  requests.push_back(
      {"GET /gz/page.html HTTP/1.1", "Accept-Encoding: gzip\r\nUser-Agent: Old/5\r\n"});
  requests.push_back(
      {"GET /gz/page.html HTTP/1.1", "Accept-Encoding: gzip\r\nUser-Agent: New/5\r\n"});
  size_t compressed = 0;
  for (const Request& r : requests) {
    std::string bytes =
        r.line + "\r\nHost: localhost\r\nConnection: close\r\n" + r.headers + "\r\n";
    Answer n = ask(nginx_port_, bytes);
    Answer s = ask(surge_port_, bytes);
    const std::string what = r.line + " + " + r.headers;
    ASSERT_NE(n.status, 0) << "nginx did not answer " << what;
    EXPECT_EQ(s.status, n.status) << what << "\nnginx:\n" << n.raw << "\nsurge:\n" << s.raw;
    for (const char* h : {"content-encoding", "vary", "etag", "content-type", "accept-ranges"}) {
      EXPECT_EQ(s.headers[h], n.headers[h]) << h << " of " << what;
    }
    std::string nginx_body = n.headers["transfer-encoding"] == "chunked" ? dechunk(n.body) : n.body;
    if (n.headers["content-encoding"] == "gzip") {
      ++compressed;
      if (r.line.rfind("HEAD", 0) == 0) continue;
      EXPECT_EQ(normalizedBody(gunzip(s.body)), normalizedBody(gunzip(nginx_body))) << what;
      EXPECT_NE(gunzip(s.body), "<not gzip>") << what;
    } else {
      EXPECT_EQ(normalizedBody(s.body), normalizedBody(nginx_body)) << what;
    }
  }
  EXPECT_GE(compressed, 8u);  // the test asks what it means to
}

// nginx-compat/examples: configurations as operators write them, for both servers alike.
TEST(NginxExamplesTest, EveryExamplePassesBothConfigurationTests) {
  const std::string examples = std::string(SURGE_SOURCE_DIR) + "/nginx-compat/examples";
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".conf") continue;
    ++checked;
    testing::TempDir dir;
    const std::string d = dir.path();
    std::filesystem::create_directories(d + "/logs");
    std::filesystem::create_directories(d + "/html");
    const std::string file = entry.path().string();
    testing::ChildProcess nginx({kNginx, "-t", "-q", "-p", d + "/", "-c", file, "-e",
                                 d + "/nginx-error.log", "-g", "pid " + d + "/nginx.pid;"},
                                d + "/nginx.out");
    EXPECT_EQ(nginx.wait(20000ms), 0) << file << ": " << readFile(d + "/nginx.out");
    testing::ChildProcess surge({SURGE_EDGE_BIN, "-t", "-q", "-p", d + "/", "-c", file, "-e",
                                 d + "/surge-error.log", "-g", "pid " + d + "/surge.pid;"},
                                d + "/surge.out");
    EXPECT_EQ(surge.wait(20000ms), 0)
        << file << ": " << readFile(d + "/surge.out") << readFile(d + "/surge-error.log");
  }
  EXPECT_GE(checked, 3u);
}

// Debian's stock /etc/nginx/nginx.conf (its modules-enabled, sites-enabled/default, mime.types),
// as the nginx package installs it: both configuration tests accept it.
TEST(NginxExamplesTest, DebiansStockNginxConfPassesBoth) {
  const std::string stock = "/etc/nginx/nginx.conf";
  ASSERT_EQ(::access(stock.c_str(), R_OK), 0) << stock << ": ./surge installs Debian's nginx";
  testing::TempDir dir;
  const std::string d = dir.path();
  testing::ChildProcess nginx({kNginx, "-t", "-q", "-c", stock, "-e", d + "/nginx-error.log"},
                              d + "/nginx.out");
  ASSERT_EQ(nginx.wait(20000ms), 0) << readFile(d + "/nginx.out");
  testing::ChildProcess surge({SURGE_EDGE_BIN, "-t", "-c", stock, "-e", d + "/surge-error.log"},
                              d + "/surge.out");
  EXPECT_EQ(surge.wait(20000ms), 0)
      << readFile(d + "/surge.out") << readFile(d + "/surge-error.log");
}

}  // namespace
}  // namespace surge::nginx_compat::test
