#include "surge/origin/sqlite_booking_store.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>

#include <chrono>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {

using cache::Done;
using cache::fail;
using cache::Result;

// A prepared statement, reset after each use.
class SqliteBookingStore::Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bindReal(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Statement& bindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  Statement& bindOptional(int i, std::string_view v) {
    return v.empty() ? bindNull(i) : bind(i, v);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code (extended).
  int step() {
    int rc = sqlite3_step(stmt_);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? rc : sqlite3_extended_errcode(db_);
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

namespace {

using Statement = SqliteBookingStore::Statement;

// Resets on scope exit, so an early return never leaves a statement holding a read lock.
struct Resetting {
  Statement& s;
  ~Resetting() { s.reset(); }
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS regions(
  code TEXT PRIMARY KEY, name TEXT NOT NULL, parent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clinics(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, region TEXT NOT NULL,
  lat REAL NOT NULL, lng REAL NOT NULL);
-- booked is the number of active bookings; the CHECK is a second line behind the conditional
-- UPDATE that takes a seat.
CREATE TABLE IF NOT EXISTS slots(
  id INTEGER PRIMARY KEY, clinic_id INTEGER NOT NULL, day INTEGER NOT NULL,
  minute INTEGER NOT NULL, capacity INTEGER NOT NULL CHECK(capacity BETWEEN 1 AND 10000),
  booked INTEGER NOT NULL DEFAULT 0 CHECK(booked >= 0 AND booked <= capacity),
  UNIQUE(clinic_id, day, minute));
CREATE TABLE IF NOT EXISTS bookings(
  id TEXT PRIMARY KEY, slot_id INTEGER NOT NULL, person_id TEXT NOT NULL,
  token_sha256 BLOB NOT NULL, idempotency_key TEXT, ticket TEXT,
  created_ms INTEGER NOT NULL, canceled_ms INTEGER) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS bookings_one_active_per_person
  ON bookings(person_id) WHERE canceled_ms IS NULL;
-- The first answer to each Idempotency-Key, as it was sent.
CREATE TABLE IF NOT EXISTS idempotency(
  key TEXT PRIMARY KEY, request_sha256 BLOB NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency(created_ms);
CREATE TABLE IF NOT EXISTS named_snapshots(
  name TEXT PRIMARY KEY, content_type TEXT NOT NULL, body BLOB NOT NULL,
  updated_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Booking ids start with the creation time, so new rows append at the right edge of the bookings
// B-tree instead of dirtying a random page each: fewer WAL bytes per commit.
std::string bookingId(int64_t now_ms) {
  std::string raw(12, '\0');
  for (int i = 0; i < 6; ++i)
    raw[static_cast<size_t>(i)] = static_cast<char>(now_ms >> (40 - 8 * i));
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data() + 6), 6) != 1) return std::string();
  return cache::encodeHex(raw);
}

std::string randomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return std::string();
  }
  return cache::encodeHex(raw);
}

std::string digestBytes(const cache::Sha256Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

StoredResponse conflict(const char* code, const char* message) {
  return StoredResponse{409, jsonError(code, message), false};
}

}  // namespace

SqliteBookingStore::SqliteBookingStore(sqlite3* db) : db_(db) {}

SqliteBookingStore::~SqliteBookingStore() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    closing_ = true;
  }
  checkpoint_wake_.notify_one();
  if (checkpointer_.joinable()) checkpointer_.join();
  idem_get_.reset();
  idem_put_.reset();
  slot_take_.reset();
  slot_release_.reset();
  booking_insert_.reset();
  booking_get_.reset();
  booking_cancel_.reset();
  savepoint_.reset();
  release_.reset();
  rollback_to_.reset();
  sqlite3_close(db_);
}

std::string SqliteBookingStore::lastError() const {
  return sqlite3_errmsg(db_);
}

Result<Done, std::string> SqliteBookingStore::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : lastError();
    sqlite3_free(error);
    return fail(std::move(message));
  }
  return Done{};
}

Result<std::unique_ptr<SqliteBookingStore>, std::string> SqliteBookingStore::open(
    const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail(path + ": " + message);
  }
  std::unique_ptr<SqliteBookingStore> store(new SqliteBookingStore(db));
  // WAL + synchronous=FULL: a commit fsyncs the WAL before returning, so an acknowledged
  // booking survives kill -9 and power loss; readers never block the writer.
  auto pragmas = store->exec(
      "PRAGMA page_size=1024; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-262144;"
      "PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=4096;");
  if (!pragmas) return fail(path + ": " + pragmas.error());
  auto schema = store->exec(kSchema);
  if (!schema) return fail(path + ": schema: " + schema.error());
  auto prepared = store->prepareAll();
  if (!prepared) return fail(path + ": " + prepared.error());
  store->checkpointer_ = std::thread([s = store.get(), path] { s->checkpointLoop(path); });
  return store;
}

void SqliteBookingStore::checkpointLoop(std::string path) {
  pthread_setname_np(pthread_self(), "store-ckpt");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  sqlite3_busy_timeout(db, 1000);
  std::unique_lock lock(checkpoint_mutex_);
  while (!closing_) {
    checkpoint_wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return closing_; });
    lock.unlock();
    // PASSIVE never waits for the writer; whatever it copies back lets the WAL restart small.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
  lock.unlock();
  sqlite3_close(db);
}

Result<Done, std::string> SqliteBookingStore::prepareAll() {
  struct Entry {
    std::unique_ptr<Statement>* target;
    const char* sql;
  };
  const Entry entries[] = {
      {&idem_get_, "SELECT request_sha256, status, body FROM idempotency WHERE key = ?1"},
      {&idem_put_,
       "INSERT INTO idempotency(key, request_sha256, status, body, created_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      // The capacity check and the seat are one statement: no read-then-write race, ever.
      {&slot_take_,
       "UPDATE slots SET booked = booked + 1 WHERE id = ?1 AND booked < capacity "
       "RETURNING booked"},
      {&slot_release_,
       "UPDATE slots SET booked = booked - 1 WHERE id = ?1 AND booked > 0 RETURNING booked"},
      {&booking_insert_,
       "INSERT INTO bookings(id, slot_id, person_id, token_sha256, idempotency_key, ticket, "
       "created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&booking_get_,
       "SELECT b.slot_id, s.clinic_id, s.day, s.minute, b.person_id, b.token_sha256, "
       "b.created_ms, b.canceled_ms FROM bookings b JOIN slots s ON s.id = b.slot_id "
       "WHERE b.id = ?1"},
      {&booking_cancel_,
       "UPDATE bookings SET canceled_ms = ?2 WHERE id = ?1 AND canceled_ms IS NULL"},
      {&savepoint_, "SAVEPOINT booking"},
      {&release_, "RELEASE booking"},
      {&rollback_to_, "ROLLBACK TO booking"},
  };
  for (const Entry& e : entries) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, e.sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
        SQLITE_OK) {
      return fail(std::string("prepare: ") + lastError() + " in: " + e.sql);
    }
    *e.target = std::make_unique<Statement>(db_, stmt);
  }
  return Done{};
}

Result<Done, std::string> SqliteBookingStore::begin() {
  batch_failed_ = false;
  slot_changes_.clear();
  auto r = exec("BEGIN IMMEDIATE");
  in_batch_ = r.ok();
  return r;
}

Result<Done, std::string> SqliteBookingStore::commit() {
  if (!in_batch_) return fail(std::string("commit without begin"));
  if (batch_failed_) {
    rollback();
    return fail(std::string("batch abandoned after a store error"));
  }
  auto r = exec("COMMIT");
  if (!r) {
    rollback();
    return r;
  }
  in_batch_ = false;
  return Done{};
}

void SqliteBookingStore::rollback() {
  if (sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
  in_batch_ = false;
  slot_changes_.clear();
}

StoredResponse SqliteBookingStore::storeFailure(const char* what) {
  batch_failed_ = true;
  return StoredResponse{503, jsonError("store_unavailable", std::string(what) + ": " + lastError()),
                        false};
}

StoredResponse SqliteBookingStore::remember(const NewBooking& booking, StoredResponse response) {
  if (booking.idempotency_key.empty()) return response;
  Statement& put = *idem_put_;
  Resetting reset{put};
  put.bind(1, booking.idempotency_key)
      .bindBlob(2, booking.request_sha256)
      .bind(3, int64_t{response.status})
      .bind(4, response.body)
      .bind(5, booking.now_ms);
  if (put.step() != SQLITE_DONE) return storeFailure("idempotency record");
  return response;
}

StoredResponse SqliteBookingStore::createBooking(const NewBooking& b) {
  if (!in_batch_ || batch_failed_) {
    return StoredResponse{503, jsonError("store_unavailable", "the store is recovering"), false};
  }
  if (!b.idempotency_key.empty()) {
    Statement& get = *idem_get_;
    Resetting reset{get};
    get.bind(1, b.idempotency_key);
    int rc = get.step();
    if (rc == SQLITE_ROW) {
      if (get.text(0) != b.request_sha256) {
        return StoredResponse{422,
                              jsonError("idempotency_key_reused",
                                        "this Idempotency-Key was used with a different request"),
                              false};
      }
      return StoredResponse{static_cast<int>(get.int64(1)), get.text(2), true};
    }
    if (rc != SQLITE_DONE) return storeFailure("idempotency lookup");
  }

  {
    Resetting reset{*savepoint_};
    if (savepoint_->step() != SQLITE_DONE) return storeFailure("savepoint");
  }
  auto undo = [&] {
    Resetting r1{*rollback_to_};
    Resetting r2{*release_};
    rollback_to_->step();
    release_->step();
  };

  int32_t booked = 0;
  {
    Statement& take = *slot_take_;
    Resetting reset{take};
    take.bind(1, b.slot_id);
    int rc = take.step();
    if (rc == SQLITE_DONE) {
      undo();
      return remember(b, conflict("slot_full", "this time slot has no seats left"));
    }
    if (rc != SQLITE_ROW) {
      undo();
      return storeFailure("take seat");
    }
    booked = static_cast<int32_t>(take.int64(0));
  }

  std::string id = bookingId(b.now_ms);
  std::string token = randomHex(32);
  if (id.empty() || token.empty()) {
    undo();
    return storeFailure("random");
  }
  {
    Statement& insert = *booking_insert_;
    Resetting reset{insert};
    insert.bind(1, id)
        .bind(2, b.slot_id)
        .bind(3, b.person_id)
        .bindBlob(4, digestBytes(cache::sha256({token})))
        .bindOptional(5, b.idempotency_key)
        .bindOptional(6, b.ticket)
        .bind(7, b.now_ms);
    int rc = insert.step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      undo();
      return remember(
          b, conflict("person_already_booked", "this person already has an active booking"));
    }
    if (rc != SQLITE_DONE) {
      undo();
      return storeFailure("insert booking");
    }
  }
  {
    Resetting reset{*release_};
    if (release_->step() != SQLITE_DONE) return storeFailure("release savepoint");
  }
  slot_changes_[b.slot_id] = booked;

  std::string body = "{\"booking_id\":\"" + id + "\",\"token\":\"" + token +
                     "\",\"clinic_id\":" + std::to_string(b.clinic_id) + ",\"date\":\"" +
                     formatDate(b.day) + "\",\"time\":\"" + formatTime(b.minute) +
                     "\",\"person_id\":";
  appendJsonString(body, b.person_id);
  body += ",\"status\":\"active\",\"created_at\":\"" + formatTimestamp(b.now_ms) + "\"}";
  return remember(b, StoredResponse{201, std::move(body), false});
}

std::optional<BookingView> SqliteBookingStore::findBooking(const std::string& booking_id,
                                                           const std::string& token) {
  Statement& get = *booking_get_;
  Resetting reset{get};
  get.bind(1, booking_id);
  if (get.step() != SQLITE_ROW) return std::nullopt;
  // Constant-time: the token is a bearer secret.
  if (!cache::digestEquals(cache::sha256({token}), get.text(5))) return std::nullopt;
  BookingView v;
  v.id = booking_id;
  v.slot_id = get.int64(0);
  v.clinic_id = get.int64(1);
  v.day = static_cast<int32_t>(get.int64(2));
  v.minute = static_cast<int16_t>(get.int64(3));
  v.person_id = get.text(4);
  v.created_ms = get.int64(6);
  if (!get.isNull(7)) v.canceled_ms = get.int64(7);
  return v;
}

StoredResponse SqliteBookingStore::cancelBooking(const std::string& booking_id,
                                                 const std::string& token, int64_t now_ms) {
  if (!in_batch_ || batch_failed_) {
    return StoredResponse{503, jsonError("store_unavailable", "the store is recovering"), false};
  }
  std::optional<BookingView> found = findBooking(booking_id, token);
  if (!found) return StoredResponse{404, jsonError("not_found", "no such booking"), false};
  if (found->canceled_ms) return StoredResponse{204, "", false};  // DELETE is idempotent
  {
    Statement& cancel = *booking_cancel_;
    Resetting reset{cancel};
    cancel.bind(1, booking_id).bind(2, now_ms);
    if (cancel.step() != SQLITE_DONE) return storeFailure("cancel booking");
  }
  {
    Statement& release = *slot_release_;
    Resetting reset{release};
    release.bind(1, found->slot_id);
    if (release.step() != SQLITE_ROW) return storeFailure("release seat");
    slot_changes_[found->slot_id] = static_cast<int32_t>(release.int64(0));
  }
  return StoredResponse{204, "", false};
}

std::vector<SlotChange> SqliteBookingStore::takeSlotChanges() {
  std::vector<SlotChange> out;
  out.reserve(slot_changes_.size());
  for (const auto& [id, booked] : slot_changes_)
    out.push_back(SlotChange{id, booked});
  slot_changes_.clear();
  return out;
}

Result<size_t, std::string> SqliteBookingStore::importCatalog(const CatalogData& catalog) {
  if (in_batch_) return fail(std::string("import inside a batch"));
  auto began = exec("BEGIN IMMEDIATE");
  if (!began) return fail(began.error());
  auto abort = [&](std::string message) -> Result<size_t, std::string> {
    (void)exec("ROLLBACK");
    return fail(std::move(message));
  };
  auto prepare = [&](const char* sql) -> std::unique_ptr<Statement> {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
    return std::make_unique<Statement>(db_, stmt);
  };
  auto region = prepare(
      "INSERT INTO regions(code, name, parent) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(code) DO UPDATE SET name = excluded.name, parent = excluded.parent");
  auto clinic = prepare(
      "INSERT INTO clinics(id, name, address, region, lat, lng) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(id) DO UPDATE SET name = excluded.name, address = excluded.address, "
      "region = excluded.region, lat = excluded.lat, lng = excluded.lng");
  // A capacity below what is already booked would overbook: the WHERE turns it into no change,
  // which is reported below.
  auto slot = prepare(
      "INSERT INTO slots(clinic_id, day, minute, capacity) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(clinic_id, day, minute) DO UPDATE SET capacity = excluded.capacity "
      "WHERE excluded.capacity >= slots.booked");
  if (!region || !clinic || !slot) return abort("prepare import: " + lastError());

  size_t rows = 0;
  for (const Region& r : catalog.regions) {
    Resetting reset{*region};
    region->bind(1, r.code).bind(2, r.name).bind(3, r.parent);
    if (region->step() != SQLITE_DONE) return abort("region " + r.code + ": " + lastError());
    ++rows;
  }
  for (const Clinic& c : catalog.clinics) {
    Resetting reset{*clinic};
    clinic->bind(1, c.id).bind(2, c.name).bind(3, c.address).bind(4, c.region);
    clinic->bindReal(5, c.lat).bindReal(6, c.lng);
    if (clinic->step() != SQLITE_DONE) {
      return abort("clinic " + std::to_string(c.id) + ": " + lastError());
    }
    ++rows;
  }
  for (const Slot& s : catalog.slots) {
    Resetting reset{*slot};
    slot->bind(1, s.clinic_id)
        .bind(2, int64_t{s.day})
        .bind(3, int64_t{s.minute})
        .bind(4, int64_t{s.capacity});
    if (slot->step() != SQLITE_DONE) {
      return abort("slot " + std::to_string(s.clinic_id) + " " + formatDate(s.day) + " " +
                   formatTime(s.minute) + ": " + lastError());
    }
    if (sqlite3_changes(db_) == 0) {
      return abort("slot " + std::to_string(s.clinic_id) + " " + formatDate(s.day) + " " +
                   formatTime(s.minute) + ": capacity " + std::to_string(s.capacity) +
                   " is below the seats already booked");
    }
    ++rows;
  }
  auto committed = exec("COMMIT");
  if (!committed) return abort("commit import: " + committed.error());
  return rows;
}

Result<CatalogIndexPtr, std::string> SqliteBookingStore::loadCatalog() {
  auto query = [&](const char* sql) -> std::unique_ptr<Statement> {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
    return std::make_unique<Statement>(db_, stmt);
  };
  std::vector<Region> regions;
  std::vector<Clinic> clinics;
  std::vector<StoredSlot> slots;
  auto r = query("SELECT code, name, parent FROM regions");
  auto c = query("SELECT id, name, address, region, lat, lng FROM clinics");
  auto s = query("SELECT id, clinic_id, day, minute, capacity, booked FROM slots");
  if (!r || !c || !s) return fail("load catalog: " + lastError());
  int rc;
  while ((rc = r->step()) == SQLITE_ROW)
    regions.push_back(Region{r->text(0), r->text(1), r->text(2)});
  if (rc != SQLITE_DONE) return fail("load regions: " + lastError());
  while ((rc = c->step()) == SQLITE_ROW) {
    clinics.push_back(
        Clinic{c->int64(0), c->text(1), c->text(2), c->text(3), c->real(4), c->real(5)});
  }
  if (rc != SQLITE_DONE) return fail("load clinics: " + lastError());
  while ((rc = s->step()) == SQLITE_ROW) {
    StoredSlot row;
    row.id = s->int64(0);
    row.slot.clinic_id = s->int64(1);
    row.slot.day = static_cast<int32_t>(s->int64(2));
    row.slot.minute = static_cast<int16_t>(s->int64(3));
    row.slot.capacity = static_cast<int32_t>(s->int64(4));
    row.booked = static_cast<int32_t>(s->int64(5));
    slots.push_back(row);
  }
  if (rc != SQLITE_DONE) return fail("load slots: " + lastError());
  return std::make_shared<CatalogIndex>(std::move(regions), std::move(clinics), std::move(slots));
}

Result<Done, std::string> SqliteBookingStore::putNamedSnapshot(const NamedSnapshot& snap) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO named_snapshots(name, content_type, body, updated_ms) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "
                         "content_type = excluded.content_type, body = excluded.body, "
                         "updated_ms = excluded.updated_ms",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return fail(lastError());
  }
  Statement put(db_, stmt);
  put.bind(1, snap.name).bind(2, snap.content_type).bindBlob(3, snap.body).bind(4, snap.updated_ms);
  if (put.step() != SQLITE_DONE) return fail(lastError());
  return Done{};
}

Result<bool, std::string> SqliteBookingStore::removeNamedSnapshot(const std::string& name) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM named_snapshots WHERE name = ?1", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return fail(lastError());
  }
  Statement del(db_, stmt);
  del.bind(1, name);
  if (del.step() != SQLITE_DONE) return fail(lastError());
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<NamedSnapshot>, std::string> SqliteBookingStore::namedSnapshots() {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT name, content_type, body, updated_ms FROM named_snapshots "
                         "ORDER BY name",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    return fail(lastError());
  }
  Statement list(db_, stmt);
  std::vector<NamedSnapshot> out;
  int rc;
  while ((rc = list.step()) == SQLITE_ROW) {
    out.push_back(NamedSnapshot{list.text(0), list.text(1), list.text(2), list.int64(3)});
  }
  if (rc != SQLITE_DONE) return fail(lastError());
  return out;
}

Result<int64_t, std::string> SqliteBookingStore::reserveCounter(const std::string& name,
                                                                int64_t step) {
  if (in_batch_) return fail(std::string("counter inside a batch"));
  auto began = exec("BEGIN IMMEDIATE");
  if (!began) return fail(began.error());
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "INSERT INTO counters(name, value) VALUES (?1, ?2) "
                         "ON CONFLICT(name) DO UPDATE SET value = value + ?2 "
                         "RETURNING value - ?2",
                         -1, &stmt, nullptr) != SQLITE_OK) {
    (void)exec("ROLLBACK");
    return fail(lastError());
  }
  int64_t old = 0;
  {
    Statement up(db_, stmt);
    up.bind(1, name).bind(2, step);
    if (up.step() != SQLITE_ROW) {
      std::string message = lastError();
      up.reset();
      (void)exec("ROLLBACK");
      return fail(message);
    }
    old = up.int64(0);
  }
  auto committed = exec("COMMIT");
  if (!committed) {
    (void)exec("ROLLBACK");
    return fail(committed.error());
  }
  return old;
}

size_t SqliteBookingStore::expireIdempotencyKeys(int64_t cutoff_ms) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM idempotency WHERE created_ms < ?1", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return 0;
  }
  Statement del(db_, stmt);
  del.bind(1, cutoff_ms);
  if (del.step() != SQLITE_DONE) return 0;
  return static_cast<size_t>(sqlite3_changes(db_));
}

}  // namespace surge::origin
