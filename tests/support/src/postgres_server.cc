#include "surge/testing/postgres_server.h"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace surge::testing {
namespace {

std::string binDir() {
  for (const char* v : {"15", "16", "17"}) {
    std::string dir = std::string("/usr/lib/postgresql/") + v + "/bin";
    if (std::filesystem::exists(dir + "/postgres")) return dir;
  }
  throw std::runtime_error("PostgreSQL is not installed (apt-get install postgresql-15)");
}

// initdb and postgres refuse to run as root: run them as `postgres` (setpriv execs, so the PID
// the test holds is the postmaster's own).
std::vector<std::string> asPostgres(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out = {findProgram("setpriv"), "--reuid=postgres", "--regid=postgres",
                                  "--init-groups", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::filesystem::path logDir() {
  std::filesystem::path logs = std::filesystem::temp_directory_path() / "surge-test-logs";
  std::filesystem::create_directories(logs);
  return logs;
}

}  // namespace

std::string postgresQuery(const std::string& uri, const std::string& sql) {
  PGconn* c = PQconnectdb(uri.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("connect " + uri + ": " + e);
  }
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, sql.c_str());
  ExecStatusType s = PQresultStatus(r);
  std::string out;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    std::string e = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    throw std::runtime_error(sql + ": " + e);
  }
  if (s == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  PQfinish(c);
  return out;
}

PostgresServer::PostgresServer() {
  dir_ = (std::filesystem::temp_directory_path() /
          ("surge-pg-" + std::to_string(::getpid()) + "-" +
           std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffffff)))
             .string();
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("no postgres user (apt-get install postgresql-15)");
    if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot chown " + dir_);
    }
  }
  ChildProcess init(asPostgres({binDir() + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U",
                                "postgres", "--no-sync", "-E", "UTF8", "--locale=C"}),
                    (logDir() / ("initdb-" + std::to_string(::getpid()) + ".log")).string());
  if (init.wait(std::chrono::seconds(60)) != 0) throw std::runtime_error("initdb failed");
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = freeLoopbackPort();
    try {
      start();
      return;
    } catch (const std::exception&) {
      process_.kill();
    }
  }
  throw std::runtime_error("PostgreSQL did not start (see " + logDir().string() + ")");
}

PostgresServer::PostgresServer(std::string external_uri) {
  // postgresql://user@host:port/db: only host and port are needed here.
  std::string rest = external_uri.substr(external_uri.find("://") + 3);
  rest = rest.substr(rest.find('@') + 1);
  host_ = rest.substr(0, rest.find(':'));
  port_ = std::atoi(rest.c_str() + rest.find(':') + 1);
}

PostgresServer::~PostgresServer() {
  if (process_.running()) stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

PostgresServer& PostgresServer::shared() {
  static std::unique_ptr<PostgresServer> server = [] {
    if (const char* env = std::getenv("SURGE_TEST_POSTGRES"); env && *env) {
      return std::unique_ptr<PostgresServer>(new PostgresServer(std::string(env)));
    }
    return std::make_unique<PostgresServer>();
  }();
  return *server;
}

void PostgresServer::start() {
  // Durable as in production (fsync and synchronous_commit on); connections for every test in a
  // ctest -j run; short keepalives so a session whose origin vanished ends soon.
  process_ = ChildProcess(
      asPostgres({binDir() + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k",
                  dir_, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c",
                  "shared_buffers=128MB", "-c", "tcp_keepalives_idle=5", "-c",
                  "tcp_keepalives_interval=1", "-c", "tcp_keepalives_count=3"}),
      (logDir() / ("postgres-" + std::to_string(port_) + ".log")).string());
  for (int i = 0; i < 300; ++i) {
    if (!process_.alive()) throw std::runtime_error("postgres exited");
    PGPing ping = PQping(uri("postgres").c_str());
    if (ping == PQPING_OK) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("postgres did not accept connections");
}

void PostgresServer::stop() {
  if (!process_.running()) return;
  ::kill(process_.pid(), SIGINT);  // fast shutdown
  process_.wait(std::chrono::seconds(30));
}

std::string PostgresServer::uri(const std::string& database) const {
  return "postgresql://postgres@" + host_ + ":" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::createDatabase() {
  static std::atomic<int> counter{0};
  std::string name = "surge_t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  postgresQuery(uri("postgres"), "DROP DATABASE IF EXISTS " + name);
  postgresQuery(uri("postgres"), "CREATE DATABASE " + name);
  return uri(name);
}

}  // namespace surge::testing
