#include "surge/edge/pull_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "surge/base/base64.h"
#include "surge/http/client.h"

namespace surge::edge {
namespace {

namespace fs = std::filesystem;
constexpr const char* kTempPrefix = ".surge-tmp-";
constexpr size_t kMaxFetching = 64;  // paths being fetched or queued; beyond: 503
constexpr int kThreads = 2;

// The sha-256 a digest header announces, as bytes: RFC 9530's Repr-Digest ("sha-256=:B64:") or
// RFC 3230's Digest ("SHA-256=B64"); empty when there is none.
std::string announcedSha256(const http::HttpResponse& r) {
  for (const char* name : {"repr-digest", "content-digest", "digest"}) {
    std::string v = r.header(name);
    if (v.empty()) continue;
    std::string lower = v;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    size_t at = lower.find("sha-256=");
    if (at == std::string::npos) continue;
    size_t start = at + 8;
    size_t end = v.find_first_of(", ", start);
    std::string b64 = v.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (b64.size() >= 2 && b64.front() == ':' && b64.back() == ':')
      b64 = b64.substr(1, b64.size() - 2);
    auto bytes = base::base64Decode(b64);
    return bytes ? *bytes : std::string("?");  // "?": announced and unreadable, never matches
  }
  return {};
}

bool safeUri(const std::string& uri) {
  if (uri.empty() || uri[0] != '/' || uri.back() == '/') return false;
  for (size_t at = 0; (at = uri.find('/', at)) != std::string::npos; ++at) {
    std::string_view part = std::string_view(uri).substr(at + 1);
    part = part.substr(0, part.find('/'));
    if (part.empty() || part == "." || part == ".." || part.starts_with(kTempPrefix)) return false;
  }
  return true;
}

}  // namespace

PullCache::PullCache(PullSettings settings, base::MetricsRegistry& metrics)
    : settings_(std::move(settings)),
      fetches_(metrics.counter("surge_edge_pull_fetches_total",
                               "Files fetched from the content origin (pull-through)")),
      fetch_failures_(metrics.counter("surge_edge_pull_fetch_failures_total",
                                      "Pull-through fetches that failed or were refused")),
      coalesced_(metrics.counter("surge_edge_pull_coalesced_total",
                                 "Pull-through misses that joined a fetch under way")),
      evictions_(metrics.counter("surge_edge_pull_evictions_total",
                                 "Pulled files removed to stay within the cache's size")),
      bytes_gauge_(metrics.gauge("surge_edge_pull_cache_bytes", "Bytes of pulled files on disk")) {
  std::string_view url = settings_.origin;
  if (url.starts_with("https://")) {
    tls_ = true;
    port_ = 443;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  }
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  prefix_ = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
  while (!prefix_.empty() && prefix_.back() == '/')
    prefix_.pop_back();
  size_t colon = authority.rfind(':');
  host_ = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos)
    port_ = std::atoi(std::string(authority.substr(colon + 1)).c_str());
}

PullCache::~PullCache() {
  stop();
}

base::Result<base::Done, std::string> PullCache::start() {
  std::error_code ec;
  fs::create_directories(settings_.directory, ec);
  if (ec) return base::fail("surge_pull_cache " + settings_.directory + ": " + ec.message());
  // What is on disk is the cache: oldest written, first to go.
  std::vector<std::pair<fs::file_time_type, std::pair<std::string, uint64_t>>> found;
  for (auto it = fs::recursive_directory_iterator(settings_.directory, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (name.starts_with(kTempPrefix)) {
      fs::remove(it->path(), ec);  // a download a crash cut short
      continue;
    }
    std::string uri = "/" + fs::relative(it->path(), settings_.directory, ec).string();
    found.push_back({it->last_write_time(ec), {uri, it->file_size(ec)}});
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  {
    std::lock_guard lock(mutex_);
    for (const auto& [when, file] : found) {
      lru_.push_back(file.first);
      held_[file.first] = Entry{file.second, std::prev(lru_.end())};
      bytes_ += file.second;
    }
    evict();
  }
  for (int i = 0; i < kThreads; ++i)
    threads_.emplace_back([this] { loop(); });
  return base::Done{};
}

void PullCache::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

bool PullCache::holds(const std::string& uri) {
  std::lock_guard lock(mutex_);
  auto it = held_.find(uri);
  if (it == held_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return true;
}

std::shared_ptr<const PullCache::Partial> PullCache::partial(const std::string& uri) {
  std::lock_guard lock(mutex_);
  auto it = partials_.find(uri);
  return it == partials_.end() ? nullptr : it->second;
}

bool PullCache::fetch(const std::string& uri, Done done) {
  if (!safeUri(uri)) {
    done(Outcome::kNotFound);
    return true;
  }
  {
    std::unique_lock lock(mutex_);
    if (held_.count(uri)) {
      lock.unlock();
      done(Outcome::kReady);  // fetched meanwhile
      return true;
    }
    auto it = waiting_.find(uri);
    if (it != waiting_.end()) {
      coalesced_.add();
      it->second.push_back(std::move(done));
      return true;
    }
    if (waiting_.size() >= kMaxFetching || stopping_) return false;
    waiting_[uri].push_back(std::move(done));
    queue_.push_back(uri);
  }
  wake_.notify_one();
  return true;
}

void PullCache::loop() {
  pthread_setname_np(pthread_self(), "pull-fetch");
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    std::string uri = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Outcome outcome = download(uri);
    lock.lock();
    std::vector<Done> waiters = std::move(waiting_[uri]);
    waiting_.erase(uri);
    lock.unlock();
    for (Done& d : waiters)
      d(outcome);
    lock.lock();
  }
  // Stopping: whoever still waits hears it failed.
  std::vector<Done> left;
  for (auto& [uri, list] : waiting_)
    for (Done& d : list)
      left.push_back(std::move(d));
  waiting_.clear();
  queue_.clear();
  lock.unlock();
  for (Done& d : left)
    d(Outcome::kFailed);
}

PullCache::Outcome PullCache::download(const std::string& uri) {
  fetches_.add();
  const fs::path final_path = fs::path(settings_.directory) / uri.substr(1);
  const fs::path temp =
      fs::path(settings_.directory) / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                                       std::to_string(temp_counter_.fetch_add(1)));
  int fd = ::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  auto part = std::make_shared<Partial>();
  part->path = temp.string();
  auto forget = [&] {
    std::lock_guard lock(mutex_);
    partials_.erase(uri);
  };
  auto failed = [&](const std::string& why, Outcome o = Outcome::kFailed) {
    forget();
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    fetch_failures_.add();
    if (o == Outcome::kFailed) {
      std::fprintf(stderr, "surge-edge: pull-through %s%s: %s\n", settings_.origin.c_str(),
                   uri.c_str(), why.c_str());
    }
    return o;
  };
  if (fd < 0) return failed("cannot write " + temp.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  uint64_t written = 0;
  bool write_failed = false;
  http::HttpClient client(host_, port_, settings_.timeout);
  if (tls_) {
    if (auto ok = client.useTls(); !ok) return failed(ok.error());
  }
  auto sink = [&](std::string_view chunk) {
    EVP_DigestUpdate(sha.get(), chunk.data(), chunk.size());
    while (!chunk.empty()) {
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n <= 0) {
        write_failed = true;
        return false;
      }
      chunk.remove_prefix(static_cast<size_t>(n));
      written += static_cast<uint64_t>(n);
    }
    part->written.store(written, std::memory_order_release);
    return true;
  };
  auto head = [&](const http::HttpResponse& h) {
    // A 200 of a known length: Ranges inside what arrives may be answered meanwhile.
    std::string length = h.header("content-length");
    if (h.status == 200 && !length.empty()) {
      part->total = std::strtoull(length.c_str(), nullptr, 10);
      part->content_type = h.header("content-type");
      std::lock_guard lock(mutex_);
      partials_[uri] = part;
    }
    return true;
  };
  auto r = client.request("GET", prefix_ + uri, {{"Accept-Encoding", "identity"}}, "", sink, head);
  if (!r) return failed(write_failed ? "cannot write " + temp.string() : r.error());
  if (r->status == 404 || r->status == 410) return failed("not there", Outcome::kNotFound);
  if (r->status != 200) return failed("HTTP " + std::to_string(r->status));
  std::string length = r->header("content-length");
  if (!length.empty() && std::to_string(written) != length) {
    return failed("got " + std::to_string(written) + " of " + length + " bytes");
  }
  std::string announced = announcedSha256(*r);
  if (!announced.empty()) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &size);
    if (announced != std::string(reinterpret_cast<char*>(digest), size)) {
      return failed("the body does not match its sha-256 digest");
    }
  }
  if (::fsync(fd) != 0) return failed("fsync failed");
  ::close(fd);
  fd = -1;
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec || ::rename(temp.c_str(), final_path.c_str()) != 0) {
    return failed("cannot place " + final_path.string());
  }
  std::lock_guard lock(mutex_);
  partials_.erase(uri);
  keep(uri, written);
  evict();
  return Outcome::kReady;
}

void PullCache::keep(const std::string& uri, uint64_t size) {
  auto it = held_.find(uri);
  if (it != held_.end()) {
    bytes_ -= it->second.size;
    lru_.erase(it->second.lru);
    held_.erase(it);
  }
  lru_.push_front(uri);
  held_[uri] = Entry{size, lru_.begin()};
  bytes_ += size;
}

void PullCache::evict() {
  // The newest file stays even when it alone is larger than the cache: its waiters need it.
  while (bytes_ > settings_.max_bytes && lru_.size() > 1) {
    const std::string victim = lru_.back();
    lru_.pop_back();
    auto it = held_.find(victim);
    bytes_ -= it->second.size;
    held_.erase(it);
    ::unlink((fs::path(settings_.directory) / victim.substr(1)).c_str());
    evictions_.add();
  }
  bytes_gauge_.set(static_cast<int64_t>(bytes_));
}

}  // namespace surge::edge
