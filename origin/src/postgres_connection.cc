#include "surge/origin/postgres_connection.h"

#include <cstdlib>
#include <vector>

#include "surge/cache/keyring.h"

namespace surge::origin {

using base::Done;
using base::fail;
using base::Result;

bool isPostgresConnectionString(std::string_view spec) {
  return spec.starts_with("postgresql://") || spec.starts_with("postgres://") ||
         spec.find("host=") != std::string_view::npos ||
         spec.find("dbname=") != std::string_view::npos;
}

bool PgResult::ok() const {
  if (!r_) return false;
  ExecStatusType s = PQresultStatus(r_.get());
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

std::string PgResult::text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t PgResult::int64(int row, int col) const {
  return std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
}

std::string PgResult::bytes(int row, int col) const {
  if (isNull(row, col)) return {};
  auto decoded = cache::decodeHex(text(row, col));
  return decoded ? std::move(decoded.value()) : std::string();
}

int64_t PgResult::affected() const {
  return r_ ? std::strtoll(PQcmdTuples(r_.get()), nullptr, 10) : 0;
}

std::string PgResult::sqlstate() const {
  if (!r_) return {};
  const char* s = PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE);
  return s ? s : "";
}

std::string PgResult::error() const {
  if (!r_) return "no connection to PostgreSQL";
  std::string e = PQresultErrorMessage(r_.get());
  while (!e.empty() && (e.back() == '\n' || e.back() == ' '))
    e.pop_back();
  for (char& c : e)
    if (c == '\n') c = ' ';
  return e.empty() ? "PostgreSQL failed without a message" : e;
}

Result<PostgresConnection, std::string> PostgresConnection::connect(const std::string& conninfo,
                                                                    const char* application) {
  PostgresConnection c;
  c.conninfo_ = conninfo;
  c.application_ = application;
  auto opened = c.open();
  if (!opened) return fail(opened.error());
  return c;
}

Result<Done, std::string> PostgresConnection::open() {
  // Defaults first: the operator's string (expanded from dbname) overrides any of them.
  const char* keys[] = {"connect_timeout",
                        "tcp_user_timeout",
                        "keepalives_idle",
                        "keepalives_interval",
                        "application_name",
                        "dbname",
                        nullptr};
  const char* values[] = {"2", "5000", "5", "2", application_.c_str(), conninfo_.c_str(), nullptr};
  conn_.reset(PQconnectdbParams(keys, values, 1));
  if (!conn_) return fail(std::string("PostgreSQL: out of memory"));
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string e = lastError();
    conn_.reset();
    return fail("cannot connect to PostgreSQL: " + e);
  }
  // NOTICEs ("already exists, skipping") are for psql users, not an origin's log.
  PQsetNoticeProcessor(
      conn_.get(), [](void*, const char*) {}, nullptr);
  return Done{};
}

bool PostgresConnection::connected() const {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

Result<Done, std::string> PostgresConnection::ensure() {
  if (connected()) return Done{};
  return open();
}

PgResult PostgresConnection::exec(const char* sql, std::initializer_list<PgParam> params) {
  if (!connected()) return PgResult();
  // Without parameters a text may hold several statements (a migration).
  if (params.size() == 0) return PgResult(PQexec(conn_.get(), sql));
  std::vector<std::string> owned;
  owned.reserve(params.size());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) {
    if (!p) {
      values.push_back(nullptr);
      continue;
    }
    owned.emplace_back(*p);  // NUL-terminated for libpq
    values.push_back(owned.back().c_str());
  }
  PgResult r(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0));
  return r;
}

std::string PostgresConnection::lastError() const {
  if (!conn_) return "not connected";
  std::string e = PQerrorMessage(conn_.get());
  while (!e.empty() && (e.back() == '\n' || e.back() == ' '))
    e.pop_back();
  for (char& c : e)
    if (c == '\n') c = ' ';
  return e;
}

void appendArrayElement(std::string& array, std::string_view element) {
  if (!array.empty()) array += ',';
  array += '"';
  for (char c : element) {
    if (c == '"' || c == '\\') array += '\\';
    array += c;
  }
  array += '"';
}

void appendArrayNumber(std::string& array, int64_t n) {
  if (!array.empty()) array += ',';
  array += std::to_string(n);
}

void appendArrayNull(std::string& array) {
  if (!array.empty()) array += ',';
  array += "NULL";
}

std::string closeArray(std::string array) {
  return "{" + array + "}";
}

}  // namespace surge::origin
