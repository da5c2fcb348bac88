// A real PostgreSQL 15 for tests: a throwaway cluster in a temporary folder, run as the `postgres`
// user (initdb and postgres refuse root) on a free loopback port, stopped by PID.
//
// Most tests share one: `./surge test` starts it and names it in $SURGE_TEST_POSTGRES (a conninfo
// of the maintenance database); without it, the first test in a process starts one of its own.
// Each test takes a fresh database in it (createDatabase), so tests never see each other's rows.
// Tests that stop or cut off the server start a private one.
#pragma once

#include <memory>
#include <string>

#include "surge/testing/process.h"

namespace surge::testing {

class PostgresServer {
 public:
  // A private cluster, started.
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The shared server: $SURGE_TEST_POSTGRES, or one started for this process.
  static PostgresServer& shared();

  // A new, empty database; returns its postgresql:// URI.
  std::string createDatabase();
  int port() const { return port_; }
  std::string host() const { return host_; }

  // Fast shutdown (SIGINT to the postmaster: sessions are cut, everything committed stays), and
  // start again on the same port and data.
  void stop();
  void start();
  bool running() const { return process_.running(); }

 private:
  explicit PostgresServer(std::string external_uri);
  std::string uri(const std::string& database) const;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string dir_;  // empty for an external server
  ChildProcess process_;
};

// Runs one SQL command on `uri` (libpq); throws with the server's message on failure. Returns the
// first column of the first row ("" when none).
std::string postgresQuery(const std::string& uri, const std::string& sql);

}  // namespace surge::testing
