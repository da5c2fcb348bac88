// surge-edge: serves static content and availability snapshots from memory, forwards bookings.
//   surge-edge -c FILE        run
//   surge-edge -t -c FILE     check FILE (and the files it names) and exit
// Signals: SIGHUP reloads the configuration (a bad file keeps the running one), SIGTERM/SIGINT
// drain (stop accepting, finish what is in progress, at most 10 s) and exit.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "surge/cache/keyring.h"
#include "surge/cache/service_manager.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/edge_server.h"

namespace {

constexpr const char* kUsage =
    "usage: surge-edge [-t] -c FILE\n"
    "  -c FILE  the configuration (nginx syntax; every directive in edge/CONFIG.md)\n"
    "  -t       check the configuration and its files, print file:line errors, exit\n"
    "  -h       this help\n"
    "Signals: SIGHUP reloads (a bad file keeps the running configuration), SIGTERM drains.\n";

// A mistake on the command line: the usage on stderr, exit 2.
int usage(const std::string& problem) {
  std::fprintf(stderr, "surge-edge: %s\n%s", problem.c_str(), kUsage);
  return 2;
}

surge::cache::Result<surge::cache::Keyring, std::string> loadKeys(
    const surge::edge::EdgeConfig& config) {
  if (config.memcached.empty()) return surge::cache::Keyring{};
  if (config.snapshot_keys.empty()) {
    return surge::cache::fail(config.path +
                              ": \"surge_snapshot_keys\" is required with \"surge_memcached\"");
  }
  return surge::cache::Keyring::load(config.snapshot_keys);
}

surge::cache::Result<surge::cache::Keyring, std::string> loadQueueKeys(
    const surge::edge::EdgeConfig& config) {
  if (!config.waiting_room.enabled) return surge::cache::Keyring{};
  return surge::cache::Keyring::load(config.waiting_room.keys);
}

surge::cache::Result<surge::cache::Keyring, std::string> loadOpsKeys(
    const surge::edge::EdgeConfig& config) {
  if (config.ops_keys.empty()) return surge::cache::Keyring{};
  return surge::cache::Keyring::load(config.ops_keys);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  bool test_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-t") {
      test_only = true;
    } else if (a == "-c" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      return usage(a == "-c" ? "-c needs a file" : "unknown option " + a);
    }
  }
  if (path.empty()) return usage("no configuration: -c FILE");

  auto config = surge::edge::loadEdgeConfig(path);
  if (!config) {
    std::fprintf(stderr, "surge-edge: %s\n", config.error().c_str());
    if (test_only)
      std::fprintf(stderr, "surge-edge: configuration file %s test failed\n", path.c_str());
    return 1;
  }
  auto keys = loadKeys(*config.value());
  if (keys) {
    auto queue_keys = loadQueueKeys(*config.value());
    if (!queue_keys) keys = surge::cache::fail(queue_keys.error());
  }
  auto ops_keys = loadOpsKeys(*config.value());
  if (keys && !ops_keys) keys = surge::cache::fail(ops_keys.error());
  if (!keys) {
    std::fprintf(stderr, "surge-edge: %s\n", keys.error().c_str());
    if (test_only)
      std::fprintf(stderr, "surge-edge: configuration file %s test failed\n", path.c_str());
    return 1;
  }
  if (test_only) {
    std::fprintf(stderr, "surge-edge: the configuration file %s syntax is ok\n", path.c_str());
    std::fprintf(stderr, "surge-edge: configuration file %s test is successful\n", path.c_str());
    return 0;
  }

  // Signals are taken by this thread with sigwait; every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  surge::edge::EdgeServer server(config.value(), std::move(keys.value()),
                                 loadQueueKeys(*config.value()).value());
  server.setOpsKeys(std::move(ops_keys.value()));
  auto started = server.start();
  if (!started) {
    std::fprintf(stderr, "surge-edge: %s\n", started.error().c_str());
    return 1;
  }
  std::fprintf(stderr, "surge-edge: listening on %s:%d with %d workers\n",
               config.value()->server.host.c_str(), server.port(), config.value()->server.workers);
  if (server.tlsPort() >= 0) {
    std::fprintf(stderr, "surge-edge: TLS on %s:%d (%s)\n", config.value()->server.host.c_str(),
                 server.tlsPort(), config.value()->tls.certificate.c_str());
  }

  surge::cache::notifyServiceManager("READY=1\nSTATUS=serving");
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      surge::cache::notifyServiceManager("RELOADING=1");
      // Whatever happens, the service is ready again (with the new or the running configuration).
      struct Ready {
        ~Ready() { surge::cache::notifyServiceManager("READY=1"); }
      } ready;
      auto next = surge::edge::loadEdgeConfig(path);
      if (!next) {
        std::fprintf(stderr, "surge-edge: reload refused, running configuration kept: %s\n",
                     next.error().c_str());
        continue;
      }
      auto next_keys = loadKeys(*next.value());
      auto next_queue_keys = loadQueueKeys(*next.value());
      if (next_keys && !next_queue_keys) next_keys = surge::cache::fail(next_queue_keys.error());
      auto next_ops_keys = loadOpsKeys(*next.value());
      if (next_keys && !next_ops_keys) next_keys = surge::cache::fail(next_ops_keys.error());
      if (!next_keys) {
        std::fprintf(stderr, "surge-edge: reload refused, running configuration kept: %s\n",
                     next_keys.error().c_str());
        continue;
      }
      server.setOpsKeys(std::move(next_ops_keys.value()));
      for (const std::string& note : server.reload(next.value(), std::move(next_keys.value()),
                                                   std::move(next_queue_keys.value()))) {
        std::fprintf(stderr, "surge-edge: reload: %s\n", note.c_str());
      }
      std::fprintf(stderr, "surge-edge: configuration reloaded\n");
      continue;
    }
    std::fprintf(stderr, "surge-edge: %s: draining\n", strsignal(sig));
    surge::cache::notifyServiceManager("STOPPING=1");
    server.drainAndStop(std::chrono::seconds(10));
    std::fprintf(stderr, "surge-edge: stopped\n");
    return 0;
  }
}
