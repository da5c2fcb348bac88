// surge-edge: serves static content and availability snapshots from memory, forwards bookings.
// Its command line is nginx's (edge/include/surge/edge/command_line.h):
//   surge-edge [-p PREFIX] [-c FILE] [-e FILE] [-g DIRECTIVES]   run
//   surge-edge -t|-T [-q] -c FILE                                 check (and print) the config
//   surge-edge -s stop|quit|reopen|reload -c FILE                 signal the running one (`pid`)
// Signals: SIGHUP reloads the configuration (a bad file keeps the running one); SIGQUIT, SIGTERM
// and SIGINT drain (stop accepting, finish what is in progress, at most 10 s) and exit; SIGUSR1
// reopens the error and access logs.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "surge/base/file.h"
#include "surge/cache/keyring.h"
#include "surge/cache/service_manager.h"
#include "surge/edge/command_line.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/edge_server.h"
#include "surge/nginx_compat/config_parser.h"

namespace {

using surge::edge::CommandLine;
using surge::edge::EdgeConfig;

surge::base::Result<surge::cache::Keyring, std::string> loadKeys(const EdgeConfig& config) {
  if (config.memcached.empty()) return surge::cache::Keyring{};
  if (config.snapshot_keys.empty()) {
    return surge::base::fail(config.path +
                             ": \"surge_snapshot_keys\" is required with \"surge_memcached\"");
  }
  return surge::cache::Keyring::load(config.snapshot_keys);
}

surge::base::Result<surge::cache::Keyring, std::string> loadQueueKeys(const EdgeConfig& config) {
  if (!config.waiting_room.enabled) return surge::cache::Keyring{};
  return surge::cache::Keyring::load(config.waiting_room.keys);
}

surge::base::Result<surge::cache::Keyring, std::string> loadOpsKeys(const EdgeConfig& config) {
  if (config.ops_keys.empty()) return surge::cache::Keyring{};
  return surge::cache::Keyring::load(config.ops_keys);
}

// A configuration with every key file it names read and checked: what -t checks, what a start
// and a SIGHUP take.
struct Loaded {
  std::shared_ptr<const EdgeConfig> config;
  surge::cache::Keyring keys, queue_keys, ops_keys;
};

surge::base::Result<Loaded, std::string> load(const CommandLine& line) {
  auto config = surge::edge::loadEdgeConfig(line.config, {line.prefix, line.globals});
  if (!config) return surge::base::fail(config.error());
  Loaded out;
  out.config = config.value();
  auto keys = loadKeys(*out.config);
  if (!keys) return surge::base::fail(keys.error());
  auto queue_keys = loadQueueKeys(*out.config);
  if (!queue_keys) return surge::base::fail(queue_keys.error());
  auto ops_keys = loadOpsKeys(*out.config);
  if (!ops_keys) return surge::base::fail(ops_keys.error());
  out.keys = std::move(keys.value());
  out.queue_keys = std::move(queue_keys.value());
  out.ops_keys = std::move(ops_keys.value());
  return out;
}

// Points standard error (where every message goes) at `path`, appending; "" leaves it.
bool redirectErrors(const std::string& path) {
  if (path.empty()) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "surge-edge: open() \"%s\" failed (%d: %s)\n", path.c_str(), errno,
                 std::strerror(errno));
    return false;
  }
  if (fd != STDERR_FILENO) {
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  return true;
}

// Standard input, output and error opened on /dev/null where the parent left them closed (nginx's
// own test harness starts the server with its standard error closed): otherwise the next file or
// socket opened takes the descriptor, and every message written to stderr goes into it, a
// client's connection included.
void openStandardDescriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    int null = ::open("/dev/null", O_RDWR);  // the lowest free descriptor: `fd`
    if (null >= 0 && null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
  }
}

// -T: every file the configuration reads, as nginx prints them.
void dumpConfiguration(const std::string& path) {
  auto parsed = surge::nginx_compat::parseConfigFile(path);
  std::vector<std::string> files = {path};
  std::set<std::string> seen = {path};
  if (parsed) {
    std::vector<const std::vector<surge::nginx_compat::Directive>*> todo = {&parsed.value()};
    while (!todo.empty()) {
      const auto* block = todo.back();
      todo.pop_back();
      for (const auto& d : *block) {
        if (seen.insert(d.file).second) files.push_back(d.file);
        if (d.has_block) todo.push_back(&d.block);
      }
    }
  }
  for (const std::string& f : files) {
    std::printf("# configuration file %s:\n%s\n", f.c_str(),
                surge::base::readFile(f).value_or("").c_str());
  }
}

// -s: the signal to the pid in the configuration's `pid` file.
int sendSignal(const CommandLine& line, const EdgeConfig& config) {
  if (config.pid_file.empty()) {
    std::fprintf(stderr, "surge-edge: no \"pid\" file in %s: nothing to signal\n",
                 config.path.c_str());
    return 1;
  }
  std::ifstream in(config.pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) {
    std::fprintf(stderr, "surge-edge: invalid PID number in \"%s\"\n", config.pid_file.c_str());
    return 1;
  }
  const int sig = line.signal == "stop"     ? SIGTERM
                  : line.signal == "quit"   ? SIGQUIT
                  : line.signal == "reopen" ? SIGUSR1
                                            : SIGHUP;
  if (::kill(static_cast<pid_t>(pid), sig) != 0) {
    std::fprintf(stderr, "surge-edge: kill(%ld, %d) failed (%d: %s)\n", pid, sig, errno,
                 std::strerror(errno));
    return 1;
  }
  return 0;
}

// `daemon on`: into the background before any thread starts; the parent exits at once, as
// nginx's does.
void daemonize() {
  pid_t child = ::fork();
  if (child < 0) {
    std::fprintf(stderr, "surge-edge: fork() failed (%d: %s)\n", errno, std::strerror(errno));
    std::exit(1);
  }
  if (child > 0) std::_Exit(0);
  ::setsid();
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO) ::close(null);
  }
}

bool writePidFile(const std::string& path) {
  if (path.empty()) return true;
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr || std::fprintf(f, "%d\n", static_cast<int>(::getpid())) < 0 ||
      std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "surge-edge: cannot write pid file \"%s\" (%d: %s)\n", path.c_str(), errno,
                 std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  openStandardDescriptors();
  auto parsed = surge::edge::parseCommandLine(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "surge-edge: %s\n%s", parsed.error().c_str(),
                 surge::edge::commandLineUsage());
    return 1;
  }
  const CommandLine& line = parsed.value();
  if (line.help) {
    std::fputs(surge::edge::commandLineUsage(), stdout);
    return 0;
  }
  if (line.version) {
    std::fputs(surge::edge::versionText(line.configure).c_str(), stderr);
    if (!line.test && line.signal.empty()) return 0;
  }
  if (line.error_log != "stderr" && !redirectErrors(line.error_log)) return 1;

  auto loaded = load(line);
  if (line.test) {
    if (!loaded) {
      std::fprintf(stderr, "surge-edge: %s\n", loaded.error().c_str());
      std::fprintf(stderr, "surge-edge: configuration file %s test failed\n", line.config.c_str());
      return 1;
    }
    if (!line.quiet) {
      std::fprintf(stderr, "surge-edge: the configuration file %s syntax is ok\n",
                   line.config.c_str());
      std::fprintf(stderr, "surge-edge: configuration file %s test is successful\n",
                   line.config.c_str());
    }
    if (line.dump) dumpConfiguration(line.config);
    return 0;
  }
  if (!loaded) {
    std::fprintf(stderr, "surge-edge: %s\n", loaded.error().c_str());
    return 1;
  }
  const std::shared_ptr<const EdgeConfig> config = loaded->config;
  if (!line.signal.empty()) return sendSignal(line, *config);
  if (!redirectErrors(config->error_log)) return 1;
  if (config->rlimit_nofile > 0) {
    rlimit lim{config->rlimit_nofile, config->rlimit_nofile};
    rlimit now{};
    // Above the hard limit only with the privilege to raise it; else as far as the hard limit.
    if (::getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_max > lim.rlim_max)
      lim.rlim_max = now.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      std::fprintf(stderr, "surge-edge: setrlimit(RLIMIT_NOFILE, %llu) failed (%d: %s)\n",
                   static_cast<unsigned long long>(config->rlimit_nofile), errno,
                   std::strerror(errno));
      return 1;
    }
  }
  if (config->daemon) daemonize();

  // Signals are taken by this thread with sigwait; every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1})
    sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  surge::edge::EdgeServer server(config, std::move(loaded->keys), std::move(loaded->queue_keys));
  server.setOpsKeys(std::move(loaded->ops_keys));
  auto started = server.start();
  if (!started) {
    std::fprintf(stderr, "surge-edge: %s\n", started.error().c_str());
    return 1;
  }
  std::fprintf(stderr, "surge-edge: listening on %s:%d with %d workers\n",
               config->server.host.c_str(), server.port(), config->server.workers);
  if (server.tlsPort() >= 0) {
    std::fprintf(stderr, "surge-edge: TLS on %s:%d (%s)\n", config->server.host.c_str(),
                 server.tlsPort(), config->tls.certificate.c_str());
  }
  // Written once the sockets listen: whoever waits for the pid file may connect (nginx's test
  // harness does).
  if (!writePidFile(config->pid_file)) {
    server.drainAndStop(std::chrono::seconds(0));
    return 1;
  }
  const std::string pid_file = config->pid_file;
  std::string error_log = config->error_log;

  surge::cache::notifyServiceManager("READY=1\nSTATUS=serving");
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      // logrotate moved the files: open them again by name.
      redirectErrors(error_log);
      std::string failed = server.reopenLogs();
      if (!failed.empty()) std::fprintf(stderr, "surge-edge: reopen: %s\n", failed.c_str());
      continue;
    }
    if (sig == SIGHUP) {
      surge::cache::notifyServiceManager("RELOADING=1");
      // Whatever happens, the service is ready again (with the new or the running configuration).
      struct Ready {
        ~Ready() { surge::cache::notifyServiceManager("READY=1"); }
      } ready;
      auto next = load(line);
      if (!next) {
        std::fprintf(stderr, "surge-edge: reload refused, running configuration kept: %s\n",
                     next.error().c_str());
        continue;
      }
      if (next->config->pid_file != pid_file || next->config->daemon != config->daemon) {
        std::fprintf(stderr, "surge-edge: reload: \"pid\" and \"daemon\" change on restart only\n");
      }
      if (next->config->error_log != error_log) {
        error_log = next->config->error_log;
        redirectErrors(error_log);
      }
      server.setOpsKeys(std::move(next->ops_keys));
      for (const std::string& note :
           server.reload(next->config, std::move(next->keys), std::move(next->queue_keys))) {
        std::fprintf(stderr, "surge-edge: reload: %s\n", note.c_str());
      }
      std::fprintf(stderr, "surge-edge: configuration reloaded\n");
      continue;
    }
    std::fprintf(stderr, "surge-edge: %s: draining\n", strsignal(sig));
    surge::cache::notifyServiceManager("STOPPING=1");
    server.drainAndStop(std::chrono::seconds(10));
    if (!pid_file.empty()) ::unlink(pid_file.c_str());
    std::fprintf(stderr, "surge-edge: stopped\n");
    return 0;
  }
}
