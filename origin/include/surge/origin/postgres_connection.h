// PostgresConnection: one libpq connection, the way every PostgreSQL user in surge-origin needs it
// (the booking store, the slot follower, the lease, the version counter, `surgectl store`).
//
// Bounded waits: connect_timeout=2 and tcp_user_timeout=5000 are put before the operator's own
// connection string (which may override them), so an unreachable or silent server turns into an
// error within seconds, never a thread stuck for the kernel's 15-minute TCP give-up. Parameters
// are sent as text; bytea travels as hex (encode/decode in the SQL).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "surge/base/result.h"

namespace surge::origin {

// Is `spec` (the origin's --store) a PostgreSQL connection string rather than a SQLite path?
bool isPostgresConnectionString(std::string_view spec);

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r, PQclear) {}
  // COMMAND_OK or TUPLES_OK.
  bool ok() const;
  int rows() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool isNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;
  // A column sent as encode(x, 'hex'), decoded.
  std::string bytes(int row, int col) const;
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t affected() const;
  // The SQLSTATE of a failed statement ("" when there is none: a lost connection).
  std::string sqlstate() const;
  std::string error() const;

 private:
  std::shared_ptr<PGresult> r_;
};

using PgParam = std::optional<std::string_view>;  // nullopt: NULL

class PostgresConnection {
 public:
  // `application` names the connection in pg_stat_activity.
  static base::Result<PostgresConnection, std::string> connect(const std::string& conninfo,
                                                               const char* application);
  PostgresConnection() = default;
  PostgresConnection(PostgresConnection&&) = default;
  PostgresConnection& operator=(PostgresConnection&&) = default;

  // Connects again when the connection was lost (one attempt, bounded by connect_timeout).
  base::Result<base::Done, std::string> ensure();
  bool connected() const;
  PgResult exec(const char* sql, std::initializer_list<PgParam> params = {});
  // For LISTEN: the socket and the notifications that arrived.
  PGconn* raw() const { return conn_.get(); }
  // The database's message for the last failure, on one line.
  std::string lastError() const;
  const std::string& conninfo() const { return conninfo_; }

 private:
  base::Result<base::Done, std::string> open();
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn_{nullptr, PQfinish};
  std::string conninfo_;
  std::string application_;
};

// Array parameters in PostgreSQL's text form, built element by element and closed with
// closeArray ("{" + elements + "}"): text quoted and escaped, numbers bare, NULL.
void appendArrayElement(std::string& array, std::string_view element);
void appendArrayNumber(std::string& array, int64_t n);
void appendArrayNull(std::string& array);
std::string closeArray(std::string array);

}  // namespace surge::origin
