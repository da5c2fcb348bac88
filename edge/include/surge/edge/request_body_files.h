// Request bodies kept in files, as nginx keeps them for what its configuration does with them:
// client_body_in_file_only (on: the file stays for the operator; clean: removed once the answer
// is gone), client_body_buffer_size (a larger body goes to a file too), client_body_temp_path
// (where, with nginx's level directories) and proxy_request_buffering off (never a file).
// $request_body_file names the file; $request_body is then empty, as nginx's.
//
// surge-edge still holds the body in memory (the forwarder sends it from there): the file is for
// the configuration, not a way to save memory. Only a proxy location's request has its body
// kept (nginx's static handler discards a body). The files are written on a thread of their own,
// never on a worker's loop: the request waits for its file as a limit_req delay waits, and comes
// back to its worker's loop when the file is whole (or answers 500 when it cannot be written).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "surge/base/result.h"
#include "surge/edge/config_reader.h"
#include "surge/http/request_parser.h"

namespace surge::edge {

struct RequestBodySettings {
  enum class InFileOnly { kOff, kOn, kClean };
  InFileOnly in_file_only = InFileOnly::kOff;  // client_body_in_file_only
  uint64_t buffer_size = 16 * 1024;            // client_body_buffer_size (nginx's 64-bit default)
  std::string temp_path;                       // client_body_temp_path (the loader's default)
  std::vector<int> levels;                     // its level directories' name lengths (1 or 2)
  bool proxy_buffering = true;                 // proxy_request_buffering, fastcgi_*

  // Whether `request`'s body goes into a file before the location's proxy takes it: a request
  // that announced a body (an empty one too), under client_body_in_file_only or larger than the
  // buffer, unless request buffering is off.
  bool wantsFile(const http::Request& request) const {
    if (!proxy_buffering || !request.has_body) return false;
    return in_file_only != InFileOnly::kOff || request.body.size() > buffer_size;
  }
};

// client_body_in_file_only, client_body_buffer_size, client_body_temp_path and
// proxy_request_buffering into `out` (http, server, location); false in `handled` for any other
// directive.
bool readRequestBodyDirective(ConfigReader& reader, const Directive& d, RequestBodySettings& out,
                              bool& handled);

// The thread that writes bodies into files and removes the `clean` ones. Started by its first
// job; stop() ends it once the jobs queued are done (a job submitted later runs on the caller).
class RequestBodyWriter {
 public:
  // The file's path, or why it could not be written.
  using Done = std::function<void(base::Result<std::string, std::string>)>;

  RequestBodyWriter() = default;
  ~RequestBodyWriter();
  RequestBodyWriter(const RequestBodyWriter&) = delete;
  RequestBodyWriter& operator=(const RequestBodyWriter&) = delete;

  // Writes `body` into a new file under `where` (its temp path and levels) and calls `done` on
  // the writer's thread. `body` must stay valid until `done` runs (its owner is usually in it).
  void write(const RequestBodySettings& where, std::string_view body, Done done);
  // Removes `path` (client_body_in_file_only clean), on the writer's thread.
  void remove(std::string path);
  // What removes `path` through `self` when its last copy goes (an exchange's hold).
  static std::shared_ptr<void> removeWhenReleased(std::shared_ptr<RequestBodyWriter> self,
                                                  std::string path);
  void stop();

 private:
  struct Job {
    std::string dir;
    std::vector<int> levels;
    std::string_view body;
    Done done;
    std::string remove;  // set: a removal
  };
  void submit(Job job);  // to the thread, started by the first job; on the caller once stopping
  void run();
  void perform(Job& job);
  base::Result<std::string, std::string> writeFile(const Job& job);

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
  // The next file's number (the thread's, and a caller's while the thread drains at stop).
  std::atomic<uint32_t> next_number_{std::random_device{}() % 1000000000u};
};

}  // namespace surge::edge
