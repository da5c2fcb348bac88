#include "surge/edge/request_body_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace surge::edge {

bool readRequestBodyDirective(ConfigReader& r, const Directive& d, RequestBodySettings& out,
                              bool& handled) {
  handled = true;
  if (d.name == "client_body_in_file_only") {
    if (!r.args(d, 1, 1)) return false;
    const std::string& v = d.args[0];
    if (v == "on") {
      out.in_file_only = RequestBodySettings::InFileOnly::kOn;
    } else if (v == "clean") {
      out.in_file_only = RequestBodySettings::InFileOnly::kClean;
    } else if (v == "off") {
      out.in_file_only = RequestBodySettings::InFileOnly::kOff;
    } else {
      return r.fail(d, "invalid value \"" + v + "\" in \"" + d.name + "\" (on, clean or off)");
    }
    return true;
  }
  if (d.name == "client_body_buffer_size") return r.size(d, out.buffer_size);
  if (d.name == "client_body_temp_path") {
    if (!r.args(d, 1, 4)) return false;
    std::vector<int> levels;
    for (size_t i = 1; i < d.args.size(); ++i) {
      if (d.args[i] != "1" && d.args[i] != "2") {
        return r.fail(d, "invalid level \"" + d.args[i] + "\" in \"" + d.name + "\" (1 or 2)");
      }
      levels.push_back(d.args[i][0] - '0');
    }
    out.temp_path = r.resolve(d.args[0]);
    out.levels = std::move(levels);
    return true;
  }
  if (d.name == "proxy_request_buffering" || d.name == "fastcgi_request_buffering") {
    // off: the body goes to the upstream as it comes (Handler::streamsBody), never into a file
    // ($request_body_file stays empty), as nginx's. A location has one upstream, so one flag
    // serves both.
    return r.onOff(d, out.proxy_buffering);
  }
  handled = false;
  return true;
}

RequestBodyWriter::~RequestBodyWriter() {
  stop();
}

void RequestBodyWriter::write(const RequestBodySettings& where, std::string_view body, Done done) {
  submit(Job{where.temp_path, where.levels, body, std::move(done), {}});
}

void RequestBodyWriter::remove(std::string path) {
  submit(Job{{}, {}, {}, nullptr, std::move(path)});
}

std::shared_ptr<void> RequestBodyWriter::removeWhenReleased(std::shared_ptr<RequestBodyWriter> self,
                                                            std::string path) {
  struct Removal {
    std::shared_ptr<RequestBodyWriter> writer;
    std::string path;
    ~Removal() { writer->remove(std::move(path)); }
  };
  return std::make_shared<Removal>(Removal{std::move(self), std::move(path)});
}

void RequestBodyWriter::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  perform(job);  // the edge is stopping: no loop left to keep free
}

void RequestBodyWriter::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    thread = std::move(thread_);
    wake_.notify_one();
  }
  if (thread.joinable()) thread.join();  // it ends once the queue is empty
}

void RequestBodyWriter::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    perform(job);
  }
}

void RequestBodyWriter::perform(Job& job) {
  if (!job.remove.empty()) {
    ::unlink(job.remove.c_str());
    return;
  }
  auto written = writeFile(job);
  if (job.done) job.done(std::move(written));
}

namespace {

// mkdir -p, as nginx makes its temporary directories (0700: the bodies are the clients').
bool makeDirectories(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

}  // namespace

base::Result<std::string, std::string> RequestBodyWriter::writeFile(const Job& job) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    // nginx's names: ten digits; each level directory takes its digits from the name's end.
    char name[16];
    std::snprintf(name, sizeof name, "%010u", next_number_.fetch_add(1));
    std::string dir = job.dir;
    size_t end = std::strlen(name);
    for (int level : job.levels) {
      end -= static_cast<size_t>(level);
      dir.append("/").append(name + end, static_cast<size_t>(level));
    }
    std::string path = dir + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
      if (!makeDirectories(dir)) {
        return base::fail("mkdir() \"" + dir + "\" failed: " + std::strerror(errno));
      }
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return base::fail("open() \"" + path + "\" failed: " + std::strerror(errno));
    size_t done = 0;
    while (done < job.body.size()) {
      ssize_t n = ::write(fd, job.body.data() + done, job.body.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::string why = n < 0 ? std::strerror(errno) : "nothing written";
        ::close(fd);
        ::unlink(path.c_str());
        return base::fail("write() \"" + path + "\" failed: " + why);
      }
      done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) {
      std::string why = std::strerror(errno);
      ::unlink(path.c_str());
      return base::fail("close() \"" + path + "\" failed: " + why);
    }
    return path;
  }
  return base::fail("no free name in \"" + job.dir + "\" after 100 tries");
}

}  // namespace surge::edge
