// Real processes for end-to-end tests: started on free loopback ports, stopped by PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace surge::testing {

// A port on 127.0.0.1 that was free a moment ago, from 20000-31999 (below the kernel's ephemeral
// ports), each test process walking the range from its own random start.
int freeLoopbackPort();

// A blocking TCP connection to 127.0.0.1:port (close-on-exec), or -1.
int connectLoopback(int port);

// A listening socket on 127.0.0.1 at a free port (close-on-exec, SO_REUSEADDR), its port in
// `port`; -1 on failure. For the small servers tests stand in for a backend with.
int listenLoopback(int& port);

// True once a TCP connect to 127.0.0.1:port succeeds, false after `timeout`.
bool waitForPort(int port, std::chrono::milliseconds timeout);

// A child process. Its stdout and stderr go to `log_path`. The destructor kills it (SIGKILL) and
// reaps it, so a failing test never leaves a server behind.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status as waitpid reports it.
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  // Waits up to `timeout` for the process to exit on its own (then SIGKILL): its exit code, or
  // 128 + the signal that ended it.
  int wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void kill();
  // False once it has exited on its own (then it is reaped); never signals it.
  bool alive();
  // SIGSTOP / SIGCONT: a server that accepts connections and never answers.
  void suspend();
  void resume();

 private:
  pid_t pid_ = -1;
};

// Finds a program on PATH or in the usual sbin/bin folders; throws when it is not installed.
std::string findProgram(const std::string& name);

}  // namespace surge::testing
