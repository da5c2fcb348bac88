// surge-origin: the booking store, its HTTP API and the snapshot publisher.
//
//   surge-origin --store var/origin.db --snapshot-keys var/snapshot-keys.conf
//                --admin-keys var/admin-keys.conf [--listen 127.0.0.1:8081]
//                [--memcached 127.0.0.1:11211] [--workers 2] [--catalog FILE]
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "surge/base/file.h"
#include "surge/cache/cache_tags.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/service_manager.h"
#include "surge/http/listener.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/booking_writer.h"
#include "surge/origin/calendar.h"
#include "surge/origin/catalog_import.h"
#include "surge/origin/cdn_purger.h"
#include "surge/origin/leader_lease.h"
#include "surge/origin/open_store.h"
#include "surge/origin/origin_server.h"
#include "surge/origin/postgres_connection.h"
#include "surge/origin/queue_pacer.h"
#include "surge/origin/slot_follower.h"
#include "surge/origin/snapshot_publisher.h"

namespace {

using namespace surge;

struct Flags {
  std::string listen = "127.0.0.1:8081";
  std::string db = "var/origin.db";
  std::string memcached = "127.0.0.1:11211";
  std::string snapshot_keys;
  std::string admin_keys;
  std::string catalog;
  int workers = 2;
  int coalesce_ms = 40;
  int busy_target_ms = 200;
  int max_age_s = 2;
  int full_publish_s = 60;
  int queue_rate = 0;  // 0: auto
  bool queue_open = false;
  double queue_seat_factor = 1.25;  // admitted people per seat left; 0: seats not counted
  int queue_session_s = 600;        // as the edges' surge_queue_session
  int queue_absent_after_s = 0;     // pass over places whose page left; 0: never
  std::string status_allow;         // who may read /metrics, /healthz, /readyz; "": anyone
  std::string cdn_purge;            // the CDN endpoints file (cdn_endpoint.h); "": none
  int cdn_purge_delay_ms = 1500;
};

constexpr const char* kUsage =
    "usage: surge-origin --snapshot-keys FILE --admin-keys FILE\n"
    "         [--store PATH | postgresql://... (SQLite file, or PostgreSQL shared by origins;\n"
    "          --db is the same option)]\n"
    "         [--listen HOST:PORT] [--memcached HOST:PORT,...] [--workers N]\n"
    "         [--catalog FILE (imported when the store has no catalog)]\n"
    "         [--publish-coalesce-ms N] [--publish-busy-target-ms N]\n"
    "         [--snapshot-max-age S]\n"
    "         [--full-publish-interval S (republish everything; 0: never)]\n"
    "         [--queue-rate N (tickets admitted per second; 0: auto)] [--queue-open]\n"
    "         [--queue-seat-factor F (admitted people per seat left, 1..100; 0: not counted)]\n"
    "         [--queue-session S (how long an admitted ticket may book: the edges'\n"
    "          surge_queue_session)]\n"
    "         [--queue-absent-after S (pass over a place whose page has not asked for S\n"
    "          seconds, 3..3600; 0, the default: never)]\n"
    "         [--status-allow ADDR|CIDR,... (who may read /metrics, /healthz, /readyz)]\n"
    "         [--cdn-purge FILE (CDNs told by tag when snapshots change)]\n"
    "         [--cdn-purge-delay-ms N (after a change; more than the edges' refresh interval)]\n";

// A problem with the command line: said on stderr with the usage, exit 2. No problem (--help):
// the usage on stdout, exit 0.
[[noreturn]] void usage(const std::string& problem) {
  if (problem.empty()) {
    std::fputs(kUsage, stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "surge-origin: %s\n%s", problem.c_str(), kUsage);
  std::exit(2);
}

Flags parseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](int lo, int hi) {
      std::string v = value();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n < lo || n > hi)
        usage(a + " must be a number in " + std::to_string(lo) + ".." + std::to_string(hi));
      return static_cast<int>(n);
    };
    if (a == "--listen")
      f.listen = value();
    else if (a == "--db" || a == "--store")
      f.db = value();
    else if (a == "--memcached")
      f.memcached = value();
    else if (a == "--snapshot-keys")
      f.snapshot_keys = value();
    else if (a == "--admin-keys")
      f.admin_keys = value();
    else if (a == "--catalog")
      f.catalog = value();
    else if (a == "--workers")
      f.workers = number(1, 64);
    else if (a == "--publish-coalesce-ms")
      f.coalesce_ms = number(0, 10000);
    else if (a == "--publish-busy-target-ms")
      f.busy_target_ms = number(0, 10000);
    else if (a == "--snapshot-max-age")
      f.max_age_s = number(0, 86400);
    else if (a == "--full-publish-interval")
      f.full_publish_s = number(0, 86400);
    else if (a == "--queue-rate")
      f.queue_rate = number(0, 1000000);
    else if (a == "--queue-open")
      f.queue_open = true;
    else if (a == "--queue-seat-factor") {
      std::string v = value();
      char* end = nullptr;
      double factor = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(factor == 0 || (factor >= 1 && factor <= 100)))
        usage(a + " must be 0 or a number in 1..100");
      f.queue_seat_factor = factor;
    } else if (a == "--queue-session")
      f.queue_session_s = number(1, 86400);
    else if (a == "--queue-absent-after") {
      f.queue_absent_after_s = number(0, 3600);
      if (f.queue_absent_after_s > 0 && f.queue_absent_after_s < 3)
        usage(a + " must be 0 or 3..3600 (pages ask every third of it)");
    } else if (a == "--status-allow")
      f.status_allow = value();
    else if (a == "--cdn-purge")
      f.cdn_purge = value();
    else if (a == "--cdn-purge-delay-ms")
      f.cdn_purge_delay_ms = number(0, 600000);
    else if (a == "-h" || a == "--help")
      usage("");
    else
      usage("unknown option " + a);
  }
  if (f.snapshot_keys.empty()) usage("--snapshot-keys is required");
  if (f.admin_keys.empty()) usage("--admin-keys is required");
  return f;
}

void raiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = parseFlags(argc, argv);
  // The CDN endpoints file is read before anything starts: a mistake in it is said with its line.
  std::vector<origin::CdnEndpoint> cdn_endpoints;
  if (!flags.cdn_purge.empty()) {
    auto endpoints = origin::loadCdnEndpoints(flags.cdn_purge);
    if (!endpoints) usage(endpoints.error());
    cdn_endpoints = std::move(endpoints.value());
  }
  raiseFileLimit();

  // Signals are taken by sigwait below; every thread started from here inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto snapshot_keys = cache::Keyring::load(flags.snapshot_keys);
  if (!snapshot_keys) usage(snapshot_keys.error());
  auto admin_keys = cache::Keyring::load(flags.admin_keys);
  if (!admin_keys) usage(admin_keys.error());
  auto servers = cache::parseServerList(flags.memcached);
  if (!servers) usage(servers.error());
  size_t colon = flags.listen.rfind(':');
  if (colon == std::string::npos) usage("--listen must be HOST:PORT");
  origin::OriginServerOptions server_options;
  server_options.http.host = flags.listen.substr(0, colon);
  server_options.http.port = std::atoi(flags.listen.c_str() + colon + 1);
  server_options.http.workers = flags.workers;
  server_options.http.limits.max_body = 64u << 20;  // catalog imports
  server_options.snapshot_keys = snapshot_keys.value();
  if (!flags.status_allow.empty()) {
    // Each listed address or block is allowed, everyone else refused (nginx: allow ...; deny all).
    std::string_view list = flags.status_allow;
    while (!list.empty()) {
      size_t comma = list.find(',');
      auto added = server_options.status_access.add(true, list.substr(0, comma));
      if (!added) usage("--status-allow: " + added.error());
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    (void)server_options.status_access.add(false, "all");
  }

  // Checked before the store is opened (the server checks again when it binds): a refused start
  // creates and changes nothing.
  if (std::string other = http::otherListener(server_options.http.host, server_options.http.port);
      !other.empty()) {
    std::fprintf(stderr, "surge-origin: %s:%d is already in use by %s: one server per port\n",
                 server_options.http.host.c_str(), server_options.http.port, other.c_str());
    return 1;
  }
  auto store = origin::openBookingStore(flags.db);
  if (!store) {
    std::fprintf(stderr, "surge-origin: %s\n", store.error().c_str());
    return 1;
  }
  auto catalog = (*store)->loadCatalog();
  if (!catalog) {
    std::fprintf(stderr, "surge-origin: %s\n", catalog.error().c_str());
    return 1;
  }
  if ((*catalog)->slotCount() == 0 && !flags.catalog.empty()) {
    std::optional<std::string> text = base::readFile(flags.catalog);
    if (!text) usage("cannot read " + flags.catalog);
    auto parsed =
        origin::parseCatalog(*text, origin::catalogFormatFor(flags.catalog), flags.catalog);
    if (!parsed) {
      for (const auto& p : parsed.error())
        std::fprintf(stderr, "%s\n", p.toString().c_str());
      return 1;
    }
    std::fprintf(stderr, "surge-origin: importing %s (%zu clinics, %zu slots)\n",
                 flags.catalog.c_str(), parsed->clinics.size(), parsed->slots.size());
    auto imported = (*store)->importCatalog(parsed.value());
    if (!imported) {
      std::fprintf(stderr, "surge-origin: import: %s\n", imported.error().c_str());
      return 1;
    }
    catalog = (*store)->loadCatalog();
    if (!catalog) {
      std::fprintf(stderr, "surge-origin: %s\n", catalog.error().c_str());
      return 1;
    }
  }

  cache::MemcachedOptions mc_options;
  mc_options.servers = servers.value();
  auto memcached = cache::MemcachedClient::create(mc_options);
  if (!memcached) usage(memcached.error());
  auto pacer_memcached = memcached.value()->clone();
  if (!pacer_memcached) usage(pacer_memcached.error());

  base::MetricsRegistry metrics;
  // CDNs in front of the edges, told by tag when a snapshot changes (issue 19).
  std::unique_ptr<origin::CdnPurger> purger;
  if (!cdn_endpoints.empty()) {
    origin::CdnPurger::Options purge_options;
    purge_options.delay = std::chrono::milliseconds(flags.cdn_purge_delay_ms);
    purger = std::make_unique<origin::CdnPurger>(std::move(cdn_endpoints), metrics, purge_options);
  }
  origin::BookingWriter writer(*store.value(), catalog.value(), metrics, {});
  origin::SnapshotPublisher::Options publisher_options;
  publisher_options.coalesce = std::chrono::milliseconds(flags.coalesce_ms);
  publisher_options.busy_target = std::chrono::milliseconds(flags.busy_target_ms);
  publisher_options.max_age_s = static_cast<uint32_t>(flags.max_age_s);
  publisher_options.full_publish_interval = std::chrono::seconds(flags.full_publish_s);
  if (purger) {
    // Each snapshot's tag, and its region's as the coarser one (cdn_purger.h).
    publisher_options.changed = [&purger, &writer](const std::vector<std::string>& names) {
      origin::CatalogIndexPtr catalog = writer.catalog();
      std::vector<origin::CdnPurger::Tag> tags;
      tags.reserve(names.size());
      for (const std::string& name : names) {
        std::string coarse;
        if (name.starts_with("clinic/")) {
          const origin::Clinic* c = catalog->clinic(std::atoll(name.c_str() + 7));
          if (c != nullptr) coarse = cache::regionTag(c->region);
        } else if (name.starts_with("region/")) {
          coarse = cache::regionTag(std::string_view(name).substr(7));
        }
        tags.push_back({cache::snapshotTag(name), std::move(coarse)});
      }
      purger->purge(tags);
    };
    purger->start();
  }
  // Several origins on one PostgreSQL: versions from its sequence, seat counts from its feed.
  const bool shared = (*store)->sharedByOrigins();
  origin::PostgresConnection versions_db;
  std::mutex versions_mutex;
  if (shared) {
    auto connected = origin::PostgresConnection::connect(flags.db, "surge-origin versions");
    if (!connected) {
      std::fprintf(stderr, "surge-origin: %s\n", connected.error().c_str());
      return 1;
    }
    versions_db = std::move(connected.value());
    publisher_options.shared_versions =
        [&](size_t n) -> base::Result<std::vector<int64_t>, std::string> {
      std::lock_guard lock(versions_mutex);
      if (auto ok = versions_db.ensure(); !ok) return base::fail(ok.error());
      std::string count = std::to_string(n);
      origin::PgResult r = versions_db.exec(
          "SELECT nextval('snapshot_version') FROM generate_series(1, $1::integer)", {count});
      if (!r.ok()) return base::fail(r.error());
      std::vector<int64_t> drawn;
      drawn.reserve(static_cast<size_t>(r.rows()));
      for (int i = 0; i < r.rows(); ++i)
        drawn.push_back(r.int64(i, 0));
      return drawn;
    };
  }
  origin::SnapshotPublisher publisher(std::move(memcached.value()), snapshot_keys.value(), writer,
                                      metrics, publisher_options);
  auto slots_changed = [&publisher](const std::vector<origin::SlotChange>& c) {
    publisher.slotsChanged(c);
  };
  writer.setChangeListener(slots_changed);
  std::unique_ptr<origin::SlotFollower> follower;
  if (shared) {
    // A catalog imported through any origin: reload it here on the writer thread, which owns
    // the store, and publish everything (new clinics, changed capacities). The follower waits
    // until it is installed; a writer that has stopped (shutting down) is waited for 30 s at most.
    auto catalog_changed = [&writer, &publisher] {
      auto installed = std::make_shared<std::promise<void>>();
      std::future<void> done = installed->get_future();
      writer.runExclusive([&publisher, installed](origin::BookingStore& store) {
        if (auto reloaded = publisher.reloadCatalog(store); !reloaded) {
          std::fprintf(stderr, "surge-origin: reloading the catalog another origin imported: %s\n",
                       reloaded.error().c_str());
        }
        installed->set_value();
      });
      done.wait_for(std::chrono::seconds(30));
    };
    follower = std::make_unique<origin::SlotFollower>(flags.db, writer, metrics, slots_changed,
                                                      catalog_changed);
    if (auto followed = follower->start(); !followed) {
      std::fprintf(stderr, "surge-origin: %s\n", followed.error().c_str());
      return 1;
    }
  }
  writer.start();
  auto published = publisher.start();
  if (!published) {
    std::fprintf(stderr, "surge-origin: %s\n", published.error().c_str());
    return 1;
  }
  origin::QueuePacer::Options pacer_options;
  pacer_options.keyring = snapshot_keys.value();
  pacer_options.rate = flags.queue_rate;
  pacer_options.open = flags.queue_open;
  pacer_options.seat_factor = flags.queue_seat_factor;
  pacer_options.admission_window = std::chrono::seconds(flags.queue_session_s);
  pacer_options.absent_after = std::chrono::seconds(flags.queue_absent_after_s);
  // Several origins: one paces at a time, under a lease in the database.
  std::unique_ptr<origin::LeaderLease> lease;
  if (shared) {
    lease = std::make_unique<origin::LeaderLease>(flags.db, "queue pacer", metrics,
                                                  origin::LeaderLease::Options{});
    lease->start();
    pacer_options.leading = [&lease] { return lease->leading(); };
  }
  origin::QueuePacer pacer(std::move(pacer_memcached.value()), writer, metrics, pacer_options);
  if (auto paced = pacer.start(); !paced) {
    std::fprintf(stderr, "surge-origin: waiting room: %s\n", paced.error().c_str());
    return 1;
  }
  origin::AdminAuth admin(admin_keys.value());
  origin::OriginServer server(server_options, writer, publisher, admin, metrics, &pacer,
                              purger.get());
  auto started = server.start();
  if (!started) {
    std::fprintf(stderr, "surge-origin: %s\n", started.error().c_str());
    return 1;
  }
  std::fprintf(stderr,
               "surge-origin: listening on %s:%d (%d workers), %zu clinics, %zu slots, "
               "store %s, memcached %s\n",
               server_options.http.host.c_str(), server.port(), flags.workers,
               writer.catalog()->clinics().size(), writer.catalog()->slotCount(), flags.db.c_str(),
               flags.memcached.c_str());

  cache::notifyServiceManager("READY=1\nSTATUS=serving");
  // Idempotency keys are kept 24 hours; expire old ones every 10 minutes.
  auto last_expiry = std::chrono::steady_clock::now();
  while (true) {
    timespec wait{10, 0};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (sig == SIGHUP) {
      publisher.requestFullPublish();
      continue;
    }
    if (std::chrono::steady_clock::now() - last_expiry > std::chrono::minutes(10)) {
      last_expiry = std::chrono::steady_clock::now();
      writer.runExclusive([](origin::BookingStore& s) {
        s.expireIdempotencyKeys(origin::unixNowMs() - 24 * 3600 * 1000);
      });
    }
  }
  std::fprintf(stderr, "surge-origin: stopping\n");
  cache::notifyServiceManager("STOPPING=1");
  server.stop();
  pacer.stop();
  if (lease) lease->stop();
  if (follower) follower->stop();
  publisher.stop();
  writer.stop();
  return 0;
}
