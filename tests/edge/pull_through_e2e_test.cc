// Pull-through for large content (issue 19): an edge without a file fetches it from a content
// origin once, however many ask, keeps it whole on disk (checked against its length and digest),
// serves it as its own file afterwards, and still holds it after a restart. The content origin is
// a recording HTTP server; the edge, memcached and origin are real processes.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <optional>

#include "edge_process.h"
#include "surge/base/base64.h"
#include "surge/cache/hmac.h"
#include "surge/testing/http_recorder.h"

namespace surge::edge::test {
namespace {

using namespace std::chrono_literals;

// A body whose bytes say where they are (a cut or a shift shows).
std::string content(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>(seed + static_cast<char>(i * 7 + i / 4096));
  return s;
}

std::string sha256B64(const std::string& body) {
  auto d = cache::sha256({body});
  return base::base64Encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// A content origin: `files` by path, each answered after `delay`, with a Repr-Digest unless
// `digest` says otherwise ("": none).
struct ContentOrigin {
  testing::HttpRecorder server;
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> digest;  // path -> the Repr-Digest to send instead
  std::chrono::milliseconds delay{0};
  ContentOrigin() {
    server.respond([this](const std::string& request) {
      std::this_thread::sleep_for(delay);
      std::string path = request.substr(4, request.find(' ', 4) - 4);
      auto it = files.find(path);
      if (it == files.end()) {
        return std::string("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      }
      std::string d = digest.count(path) ? digest[path] : "sha-256=:" + sha256B64(it->second) + ":";
      return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
             std::to_string(it->second.size()) + "\r\n" +
             (d.empty() ? "" : "Repr-Digest: " + d + "\r\n") + "\r\n" + it->second;
    });
  }
  size_t fetches(const std::string& path) {
    size_t n = 0;
    for (const std::string& r : server.requests())
      n += r.starts_with("GET " + path + " ");
    return n;
  }
};

std::string pullLocation(int port, const std::string& dir, const std::string& size = "64m") {
  return "    location /media/ { surge_pull_through http://127.0.0.1:" + std::to_string(port) +
         "; surge_pull_cache " + dir + " " + size + "; }\n";
}

TEST(PullThroughE2ETest, OneFetchForAHundredFirstRequestsThenServedAsItsOwnFile) {
  ContentOrigin origin_files;
  const std::string body = content(5u << 20, 'a');
  origin_files.files["/media/big.bin"] = body;
  origin_files.delay = 300ms;  // every request below arrives while the one fetch runs
  OriginProcess origin(origin::test::smallCatalog());
  std::string cache_dir =
      std::filesystem::temp_directory_path() / ("surge-pull-" + std::to_string(::getpid()));
  std::filesystem::remove_all(cache_dir);
  std::optional<EdgeProcess> edge(std::in_place, origin, "",
                                  pullLocation(origin_files.server.port(), cache_dir));

  std::atomic<int> whole{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 100; ++i) {
    clients.emplace_back([&] {
      HttpClient c("127.0.0.1", edge->port(), 20000ms);
      auto r = c.request("GET", "/media/big.bin");
      (r && r->status == 200 && r->body == body ? whole : other)++;
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(whole.load(), 100);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(origin_files.fetches("/media/big.bin"), 1u);  // one fetch for all of them
  EXPECT_NE(edge->metrics().find("surge_edge_pull_coalesced_total 99"), std::string::npos);

  // From now on a file of the edge's own: ranges, validators, no more fetches.
  HttpResponse part = edge->get("/media/big.bin", {{"Range", "bytes=1000-1999"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, body.substr(1000, 1000));
  HttpResponse full = edge->get("/media/big.bin");
  EXPECT_EQ(edge->get("/media/big.bin", {{"If-None-Match", full.header("etag")}}).status, 304);
  EXPECT_EQ(origin_files.fetches("/media/big.bin"), 1u);
  // Kept whole, under its own name, nothing half-written beside it.
  EXPECT_EQ(std::filesystem::file_size(cache_dir + "/media/big.bin"), body.size());

  // After a restart the disk is the cache.
  edge.reset();
  edge.emplace(origin, "", pullLocation(origin_files.server.port(), cache_dir));
  EXPECT_EQ(edge->get("/media/big.bin").body, body);
  EXPECT_EQ(origin_files.fetches("/media/big.bin"), 1u);
  edge.reset();
  std::filesystem::remove_all(cache_dir);
}

TEST(PullThroughE2ETest, ARangeOfWhatHasArrivedIsAnsweredBeforeTheRestComes) {
  ContentOrigin origin_files;
  const std::string body = content(4u << 20, 's');
  origin_files.files["/media/slow.bin"] = body;
  origin_files.server.pauseAfter(200 + (1u << 20));  // the head and 1 MiB, then stalled
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "", pullLocation(origin_files.server.port(), "pull-cache"));

  std::atomic<bool> whole_done{false};
  std::string whole;
  std::thread first([&] {
    HttpClient c("127.0.0.1", edge.port(), 60000ms);
    auto r = c.request("GET", "/media/slow.bin");
    if (r) whole = r->body;
    whole_done = true;
  });
  struct Finish {  // however the test ends, the download goes on and the client is joined
    ContentOrigin& origin;
    std::thread& client;
    ~Finish() {
      origin.server.resume();
      if (client.joinable()) client.join();
    }
  } finish{origin_files, first};
  // The first MiB is on the edge's disk: its temporary file holds many chunks past byte 1999
  // (each chunk is counted as arrived before the next is written).
  auto arrived = [&] {
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(edge.path("pull-cache"), ec)) {
      if (f.path().filename().string().starts_with(".surge-tmp-") &&
          std::filesystem::file_size(f.path(), ec) >= 1000000) {
        return true;
      }
    }
    return false;
  };
  for (int i = 0; i < 3000 && !arrived(); ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(arrived()) << "the first MiB never reached the edge's disk";
  // The download stays stalled until resume() below, so this answer cannot have waited for it.
  HttpResponse early = edge.get("/media/slow.bin", {{"Range", "bytes=1000-1999"}});
  EXPECT_FALSE(whole_done.load());
  EXPECT_EQ(early.status, 206);
  EXPECT_EQ(early.header("content-range"), "bytes 1000-1999/" + std::to_string(body.size()));
  EXPECT_EQ(early.body, body.substr(1000, 1000));
  origin_files.server.resume();
  // Past what has arrived: it waits for the file.
  HttpResponse later = edge.get("/media/slow.bin", {{"Range", "bytes=3000000-3000999"}});
  EXPECT_EQ(later.status, 206);
  EXPECT_EQ(later.body, body.substr(3000000, 1000));
  first.join();
  EXPECT_EQ(whole, body);
  EXPECT_EQ(origin_files.fetches("/media/slow.bin"), 1u);
}

TEST(PullThroughE2ETest, WhatTheOriginLacksOrSendsWrongIsNeverServedNorKept) {
  ContentOrigin origin_files;
  const std::string good = content(200000, 'g'), bad = content(200000, 'b');
  origin_files.files["/media/good.bin"] = good;
  origin_files.files["/media/tampered.bin"] = bad;
  origin_files.digest["/media/tampered.bin"] = "sha-256=:" + sha256B64(good) + ":";
  origin_files.files["/media/nodigest.bin"] = good;
  origin_files.digest["/media/nodigest.bin"] = "";
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "", pullLocation(origin_files.server.port(), "pull-cache"));
  writeFile(edge.path("html/media/placed.txt"), "placed\n");

  EXPECT_EQ(edge.get("/media/placed.txt").body, "placed\n");  // the root's own: no fetch
  EXPECT_EQ(origin_files.server.count(), 0u);
  EXPECT_EQ(edge.get("/media/good.bin").body, good);
  EXPECT_EQ(edge.get("/media/nodigest.bin").body, good);  // the length is checked still
  HttpResponse tampered = edge.get("/media/tampered.bin");
  EXPECT_EQ(tampered.status, 502);
  EXPECT_FALSE(std::filesystem::exists(edge.path("pull-cache/media/tampered.bin")));
  EXPECT_EQ(edge.get("/media/missing.bin").status, 404);
  EXPECT_EQ(edge.get("/media/tampered.bin").status, 502);  // asked again: fetched again, refused
  EXPECT_EQ(origin_files.fetches("/media/tampered.bin"), 2u);
  for (const auto& entry : std::filesystem::directory_iterator(edge.path("pull-cache"))) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".surge-tmp-")) << entry.path();
  }
}

TEST(PullThroughE2ETest, TheCacheStaysWithinItsSizeDroppingTheLeastRecentlyUsed) {
  ContentOrigin origin_files;
  for (char c : {'a', 'b', 'c'})
    origin_files.files[std::string("/media/") + c + ".bin"] = content(1200000, c);
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "", pullLocation(origin_files.server.port(), "pull-cache", "3m"));
  EXPECT_EQ(edge.get("/media/a.bin").status, 200);
  EXPECT_EQ(edge.get("/media/b.bin").status, 200);
  EXPECT_EQ(edge.get("/media/a.bin").status, 200);  // a is now the most recently used
  EXPECT_EQ(edge.get("/media/c.bin").status, 200);  // 3.6 MB > 3 MiB: b goes
  EXPECT_TRUE(std::filesystem::exists(edge.path("pull-cache/media/a.bin")));
  EXPECT_FALSE(std::filesystem::exists(edge.path("pull-cache/media/b.bin")));
  EXPECT_TRUE(std::filesystem::exists(edge.path("pull-cache/media/c.bin")));
  EXPECT_EQ(edge.get("/media/b.bin").status, 200);  // fetched again
  EXPECT_EQ(origin_files.fetches("/media/b.bin"), 2u);
  EXPECT_NE(edge.metrics().find("surge_edge_pull_evictions_total"), std::string::npos);
}

}  // namespace
}  // namespace surge::edge::test
