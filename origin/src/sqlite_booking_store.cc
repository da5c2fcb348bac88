#include "surge/origin/sqlite_booking_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/booking_code.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {

using base::Done;
using base::fail;
using base::Result;

// A prepared statement, reset after each use. Text and blobs are bound without a copy
// (SQLITE_STATIC): the bytes must stay alive until the statement is reset.
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
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
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

constexpr int64_t kSchemaVersion = 4;
constexpr const char* kSchemaVersionPragma = "PRAGMA user_version = 4";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS regions(
  code TEXT PRIMARY KEY, name TEXT NOT NULL, parent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clinics(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, region TEXT NOT NULL,
  lat REAL NOT NULL, lng REAL NOT NULL);
CREATE TABLE IF NOT EXISTS slots(
  id INTEGER PRIMARY KEY, clinic_id INTEGER NOT NULL, day INTEGER NOT NULL,
  minute INTEGER NOT NULL, capacity INTEGER NOT NULL CHECK(capacity BETWEEN 1 AND 10000),
  UNIQUE(clinic_id, day, minute));
-- One row per booking, appended (ids begin with the creation time). `token` (32 bytes) is kept
-- while an idempotent retry may need the 201 again, which is rebuilt from the row; it is cleared
-- once the key has expired. `answer` (the 201's text) is only in rows of layout 2: 250 bytes of
-- every row that the page cache, the WAL and the checkpoints carried for nothing.
-- `code_sha256` checks a lookup by booking code for the booking's life; `code` itself is kept,
-- like `token`, only while a replayed 201 may need it (layout 4; rows of older layouts have
-- neither and cannot be looked up).
CREATE TABLE IF NOT EXISTS bookings(
  id TEXT PRIMARY KEY, slot_id INTEGER NOT NULL, person_id TEXT NOT NULL,
  token_sha256 BLOB NOT NULL, idempotency_key TEXT, request_sha256 BLOB, answer TEXT,
  ticket TEXT, created_ms INTEGER NOT NULL, canceled_ms INTEGER, token BLOB,
  code_sha256 BLOB, code TEXT) WITHOUT ROWID;
-- Answers other than 201 to an Idempotency-Key (409s), in arrival (rowid) order.
CREATE TABLE IF NOT EXISTS idempotency(
  key TEXT NOT NULL, request_sha256 BLOB NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS named_snapshots(
  name TEXT PRIMARY KEY, content_type TEXT NOT NULL, body BLOB NOT NULL,
  updated_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
-- Catalog-wide settings: `time_zone`, the zone of the slots' dates and times.
CREATE TABLE IF NOT EXISTS catalog_settings(
  name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
)sql";

constexpr int64_t kIdempotencyWindowMs = 24 * 3600 * 1000;

}  // namespace

SqliteBookingStore::SqliteBookingStore(sqlite3* db, StoreLock lock)
    : lock_(std::move(lock)), db_(db) {}

SqliteBookingStore::~SqliteBookingStore() {
  {
    std::lock_guard lock(checkpoint_mutex_);
    closing_ = true;
  }
  checkpoint_wake_.notify_one();
  if (checkpointer_.joinable()) checkpointer_.join();
  if (wal_fd_ >= 0) ::close(wal_fd_);
  idem_body_.reset();
  idem_put_.reset();
  booking_answer_.reset();
  booking_insert_.reset();
  booking_get_.reset();
  booking_cancel_.reset();
  booking_token_.reset();
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

std::unique_ptr<Statement> SqliteBookingStore::prepare(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  return std::make_unique<Statement>(db_, stmt);
}

Result<std::unique_ptr<SqliteBookingStore>, std::string> SqliteBookingStore::open(
    const std::string& path) {
  // Before SQLite touches the file: a second writer must change nothing.
  auto lock = StoreLock::acquire(path);
  if (!lock) return fail(lock.error());
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return fail(path + ": " + message);
  }
  std::unique_ptr<SqliteBookingStore> store(new SqliteBookingStore(db, std::move(lock.value())));
  // WAL + synchronous=FULL for what commits outside batches (imports, counters, named snapshots):
  // such a commit fsyncs the WAL before returning. Booking batches run with synchronous=NORMAL
  // (begin(kDeferred)) and are made durable by flush() - an fdatasync of the WAL - before anything
  // in them is acknowledged; either way an acknowledged write survives kill -9 and power loss.
  // Small pages: a commit writes whole pages, and the
  // few random ones (a cancel) then cost 1 KiB, not 4. A small page cache: SQLite walks all of it
  // at the end of each write transaction, and the OS caches the file anyway.
  auto pragmas = store->exec(
      "PRAGMA page_size=1024; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-2048;"
      "PRAGMA busy_timeout=5000; PRAGMA wal_autocheckpoint=4096;");
  if (!pragmas) return fail(path + ": " + pragmas.error());
  // user_version tells the layout of the tables; a file from another layout is refused, never
  // half-used.
  int64_t version = -1;
  if (auto v = store->prepare("PRAGMA user_version"); v && v->step() == SQLITE_ROW) {
    version = v->int64(0);
  }
  if (version == 2) {
    // Layout 2 to 3: the token column (rows of layout 2 keep their stored answers). One
    // transaction with the new user_version, so a crash cannot leave the column without the mark.
    auto added = store->exec(
        "BEGIN; ALTER TABLE bookings ADD COLUMN token BLOB; PRAGMA user_version = 3; COMMIT;");
    if (!added) return fail(path + ": upgrading the store layout: " + added.error());
    version = 3;
  }
  if (version == 3) {
    // Layout 3 to 4: booking codes and catalog settings, with the new user_version at once.
    auto added = store->exec(
        "BEGIN; ALTER TABLE bookings ADD COLUMN code_sha256 BLOB; "
        "ALTER TABLE bookings ADD COLUMN code TEXT; "
        "CREATE TABLE catalog_settings(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID; "
        "PRAGMA user_version = 4; COMMIT;");
    if (!added) return fail(path + ": upgrading the store layout: " + added.error());
    version = kSchemaVersion;
  }
  if (version != 0 && version != kSchemaVersion) {
    return fail(path + ": store layout " + std::to_string(version) + ", this build uses " +
                std::to_string(kSchemaVersion) + " (move the old file away)");
  }
  auto schema = store->exec(kSchema);
  if (!schema) return fail(path + ": schema: " + schema.error());
  auto stamped = store->exec(kSchemaVersionPragma);
  if (!stamped) return fail(path + ": " + stamped.error());
  auto prepared = store->prepareAll();
  if (!prepared) return fail(path + ": " + prepared.error());
  // The WAL exists from the first write (the schema above) until the last connection closes.
  store->wal_fd_ = ::open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  if (store->wal_fd_ < 0) return fail(path + "-wal: " + std::strerror(errno));
  auto loaded = store->loadMemory(unixNowMs());
  if (!loaded) return fail(path + ": " + loaded.error());
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
    // PASSIVE never waits for the writer.
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
      {&idem_body_, "SELECT status, body FROM idempotency WHERE rowid = ?1"},
      {&idem_put_,
       "INSERT INTO idempotency(key, request_sha256, status, body, created_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&booking_answer_,
       "SELECT b.answer, b.token, s.clinic_id, s.day, s.minute, b.person_id, b.created_ms, "
       "b.code FROM bookings b JOIN slots s ON s.id = b.slot_id WHERE b.id = ?1"},
      {&booking_insert_,
       "INSERT INTO bookings(id, slot_id, person_id, token_sha256, idempotency_key, "
       "request_sha256, token, ticket, created_ms, code_sha256, code) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
      {&booking_get_,
       "SELECT b.slot_id, s.clinic_id, s.day, s.minute, b.person_id, b.token_sha256, "
       "b.created_ms, b.canceled_ms, b.code_sha256 FROM bookings b "
       "JOIN slots s ON s.id = b.slot_id WHERE b.id = ?1"},
      {&booking_token_,
       "UPDATE bookings SET token_sha256 = ?2, token = CASE WHEN token IS NULL THEN NULL "
       "ELSE ?3 END WHERE id = ?1"},
      {&booking_cancel_,
       "UPDATE bookings SET canceled_ms = ?2 WHERE id = ?1 AND canceled_ms IS NULL"},
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

Result<std::unordered_map<int64_t, int32_t>, std::string> SqliteBookingStore::countBooked() {
  auto q =
      prepare("SELECT slot_id, count(*) FROM bookings WHERE canceled_ms IS NULL GROUP BY slot_id");
  if (!q) return fail("count bookings: " + lastError());
  std::unordered_map<int64_t, int32_t> booked;
  int rc;
  while ((rc = q->step()) == SQLITE_ROW)
    booked[q->int64(0)] = static_cast<int32_t>(q->int64(1));
  if (rc != SQLITE_DONE) return fail("count bookings: " + lastError());
  return booked;
}

Result<Done, std::string> SqliteBookingStore::loadSlots() {
  auto booked = countBooked();
  if (!booked) return fail(booked.error());
  auto q = prepare("SELECT id, capacity FROM slots");
  if (!q) return fail("load slots: " + lastError());
  std::vector<SlotCount> slots;
  int rc;
  while ((rc = q->step()) == SQLITE_ROW) {
    auto id = static_cast<size_t>(q->int64(0));
    if (id >= slots.size()) slots.resize(std::max(id + 1, slots.size() * 2));
    slots[id].capacity = static_cast<int32_t>(q->int64(1));
    auto it = booked->find(static_cast<int64_t>(id));
    slots[id].booked = it == booked->end() ? 0 : it->second;
  }
  if (rc != SQLITE_DONE) return fail("load slots: " + lastError());
  slots_ = std::move(slots);
  return Done{};
}

void SqliteBookingStore::rememberKey(const std::string& key, std::string request_sha256,
                                     std::string booking_id, int64_t rowid, int64_t created_ms) {
  idempotency_[key] = IdempotencyRecord{std::move(request_sha256), std::move(booking_id), rowid};
  idempotency_by_age_.emplace_back(created_ms, key);
}

Result<Done, std::string> SqliteBookingStore::loadMemory(int64_t now_ms) {
  auto slots = loadSlots();
  if (!slots) return slots;
  auto people = prepare("SELECT person_id, id FROM bookings WHERE canceled_ms IS NULL");
  if (!people) return fail("load bookings: " + lastError());
  int rc;
  while ((rc = people->step()) == SQLITE_ROW)
    active_person_[people->text(0)] = people->text(1);
  if (rc != SQLITE_DONE) return fail("load bookings: " + lastError());
  auto tickets = prepare("SELECT ticket FROM bookings WHERE ticket IS NOT NULL");
  if (!tickets) return fail("load tickets: " + lastError());
  while ((rc = tickets->step()) == SQLITE_ROW)
    used_tickets_.insert(tickets->text(0));
  if (rc != SQLITE_DONE) return fail("load tickets: " + lastError());

  // Keys still inside their 24 hours, oldest first: from bookings (201s) and idempotency (409s).
  int64_t cutoff = now_ms - kIdempotencyWindowMs;
  std::vector<std::tuple<int64_t, std::string, std::string, std::string, int64_t>> keys;
  auto from_bookings = prepare(
      "SELECT created_ms, idempotency_key, request_sha256, id FROM bookings "
      "WHERE id >= ?1 AND idempotency_key IS NOT NULL");
  if (!from_bookings) return fail("load keys: " + lastError());
  std::string floor = bookingIdTimePrefix(cutoff);  // bound without a copy: must outlive the query
  from_bookings->bind(1, floor);
  while ((rc = from_bookings->step()) == SQLITE_ROW) {
    keys.emplace_back(from_bookings->int64(0), from_bookings->text(1), from_bookings->text(2),
                      from_bookings->text(3), 0);
  }
  if (rc != SQLITE_DONE) return fail("load keys: " + lastError());
  auto from_table = prepare(
      "SELECT created_ms, key, request_sha256, rowid FROM idempotency WHERE created_ms >= ?1");
  if (!from_table) return fail("load keys: " + lastError());
  from_table->bind(1, cutoff);
  while ((rc = from_table->step()) == SQLITE_ROW) {
    keys.emplace_back(from_table->int64(0), from_table->text(1), from_table->text(2), "",
                      from_table->int64(3));
  }
  if (rc != SQLITE_DONE) return fail("load keys: " + lastError());
  std::sort(keys.begin(), keys.end());
  for (auto& [created, key, sha, booking, rowid] : keys) {
    rememberKey(key, std::move(sha), std::move(booking), rowid, created);
  }
  answers_cleared_below_.clear();
  return Done{};
}

Result<Done, std::string> SqliteBookingStore::begin(Flush flush) {
  batch_failed_ = false;
  slot_changes_.clear();
  undo_.clear();
  // The safety level cannot change inside a transaction: set before BEGIN, restored after the
  // batch ends (commit or rollback), so nothing outside a batch ever commits without an fsync.
  if (flush == Flush::kDeferred) {
    auto normal = exec("PRAGMA synchronous=NORMAL");
    if (!normal) return normal;
    deferred_flush_ = true;
  }
  auto r = exec("BEGIN IMMEDIATE");
  in_batch_ = r.ok();
  if (!r) restoreFullSync();
  return r;
}

void SqliteBookingStore::restoreFullSync() {
  if (!deferred_flush_) return;
  if (!exec("PRAGMA synchronous=FULL")) {
    // Not reachable with a valid connection; if it were, later commits outside batches would not
    // be durable: refuse to go on rather than acknowledge them.
    std::fprintf(stderr, "surge-origin: cannot restore synchronous=FULL: %s\n",
                 lastError().c_str());
    std::abort();
  }
  deferred_flush_ = false;
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
  undo_.clear();
  restoreFullSync();
  return Done{};
}

int SqliteBookingStore::synchronousLevel() {
  auto q = prepare("PRAGMA synchronous");
  return q && q->step() == SQLITE_ROW ? static_cast<int>(q->int64(0)) : -1;
}

Result<Done, std::string> SqliteBookingStore::flush() {
  // fdatasync covers every write to the file's inode made before the call, whichever descriptor
  // made it: SQLite's own writes of the commits that returned before this call.
  if (::fdatasync(wal_fd_) != 0) return fail(std::string("fdatasync WAL: ") + std::strerror(errno));
  return Done{};
}

void SqliteBookingStore::rollback() {
  if (sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
  restoreFullSync();
  in_batch_ = false;
  slot_changes_.clear();
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    switch (it->kind) {
      case Undo::kKeyAdded:
        idempotency_.erase(it->key);
        idempotency_by_age_.pop_back();
        break;
      case Undo::kPersonAdded:
        active_person_.erase(it->key);
        break;
      case Undo::kTicketUsed:
        used_tickets_.erase(it->key);
        break;
      case Undo::kPersonRemoved:
        active_person_[it->key] = it->value;
        break;
      case Undo::kSeatTaken:
        --slots_[static_cast<size_t>(it->slot_id)].booked;
        break;
      case Undo::kSeatReleased:
        ++slots_[static_cast<size_t>(it->slot_id)].booked;
        break;
    }
  }
  undo_.clear();
}

StoredResponse SqliteBookingStore::storeFailure(const char* what) {
  batch_failed_ = true;
  return StoredResponse{503, jsonError("store_unavailable", std::string(what) + ": " + lastError()),
                        false};
}

StoredResponse SqliteBookingStore::remember(const NewBooking& booking, StoredResponse response) {
  if (booking.idempotency_key.empty() || batch_failed_) return response;
  Statement& put = *idem_put_;
  Resetting reset{put};
  put.bind(1, booking.idempotency_key)
      .bindBlob(2, booking.request_sha256)
      .bind(3, int64_t{response.status})
      .bind(4, response.body)
      .bind(5, booking.now_ms);
  if (put.step() != SQLITE_DONE) return storeFailure("idempotency record");
  rememberKey(booking.idempotency_key, booking.request_sha256, "", sqlite3_last_insert_rowid(db_),
              booking.now_ms);
  undo_.push_back(Undo{Undo::kKeyAdded, booking.idempotency_key, "", 0});
  return response;
}

StoredResponse SqliteBookingStore::createBooking(const NewBooking& b) {
  if (!in_batch_ || batch_failed_) {
    return StoredResponse{503, jsonError("store_unavailable", "the store is recovering"), false};
  }
  if (!b.idempotency_key.empty()) {
    auto known = idempotency_.find(b.idempotency_key);
    if (known != idempotency_.end()) {
      const IdempotencyRecord& record = known->second;
      if (record.request_sha256 != b.request_sha256) {
        return bookingRefusal("idempotency_key_reused");
      }
      if (!record.booking_id.empty()) {
        Statement& get = *booking_answer_;
        Resetting reset{get};
        get.bind(1, record.booking_id);
        if (get.step() != SQLITE_ROW) return storeFailure("stored answer");
        if (!get.isNull(0)) return StoredResponse{201, get.text(0), true};  // layout 2 row
        std::string token = get.text(1);
        if (token.size() != 32) return storeFailure("stored token");
        return StoredResponse{
            201,
            createdBody(record.booking_id, token, get.text(7), get.int64(2),
                        static_cast<int32_t>(get.int64(3)), static_cast<int16_t>(get.int64(4)),
                        get.text(5), get.int64(6)),
            true};
      }
      Statement& get = *idem_body_;
      Resetting reset{get};
      get.bind(1, record.rowid);
      if (get.step() != SQLITE_ROW) return storeFailure("stored answer");
      return StoredResponse{static_cast<int>(get.int64(0)), get.text(1), true};
    }
  }
  if (b.slot_past) {
    // Not remembered: the slot stays past, so a retry gets this answer again anyway.
    return bookingRefusal("slot_past");
  }
  if (active_person_.count(b.person_id)) {
    return remember(b, bookingRefusal("person_already_booked"));
  }
  if (!b.ticket.empty() && used_tickets_.count(b.ticket)) {
    return remember(b, bookingRefusal("ticket_already_used"));
  }
  if (b.slot_id <= 0 || static_cast<size_t>(b.slot_id) >= slots_.size() ||
      slots_[static_cast<size_t>(b.slot_id)].capacity == 0) {
    return bookingRefusal("unknown_slot");
  }
  // The capacity check and the seat are one decision of the single writer, recorded in this
  // batch's transaction or, if it rolls back, undone in memory too.
  SlotCount& slot = slots_[static_cast<size_t>(b.slot_id)];
  if (slot.booked >= slot.capacity) {
    return remember(b, bookingRefusal("slot_full"));
  }
  if (b.booking_id.empty() || b.token_sha256.size() != 32 || b.token.size() != 32) {
    return storeFailure("credentials");
  }
  {
    Statement& insert = *booking_insert_;
    Resetting reset{insert};
    insert.bind(1, b.booking_id)
        .bind(2, b.slot_id)
        .bind(3, b.person_id)
        .bindBlob(4, b.token_sha256)
        .bindOptional(5, b.idempotency_key)
        .bindBlob(6, b.request_sha256)
        .bindBlob(7, b.token)
        .bindOptional(8, b.ticket)
        .bind(9, b.now_ms)
        .bindBlob(10, b.code_sha256)
        .bindOptional(11, b.code);
    if (insert.step() != SQLITE_DONE) return storeFailure("insert booking");
  }
  ++slot.booked;
  undo_.push_back(Undo{Undo::kSeatTaken, "", "", b.slot_id});
  slot_changes_[b.slot_id] = slot.booked;
  active_person_[b.person_id] = b.booking_id;
  undo_.push_back(Undo{Undo::kPersonAdded, b.person_id, "", 0});
  if (!b.ticket.empty()) {
    used_tickets_.insert(b.ticket);
    undo_.push_back(Undo{Undo::kTicketUsed, b.ticket, "", 0});
  }
  if (!b.idempotency_key.empty()) {
    rememberKey(b.idempotency_key, b.request_sha256, b.booking_id, 0, b.now_ms);
    undo_.push_back(Undo{Undo::kKeyAdded, b.idempotency_key, "", 0});
  }
  return StoredResponse{201, b.created_body, false};
}

std::optional<SqliteBookingStore::BookingRow> SqliteBookingStore::readBooking(
    const std::string& booking_id) {
  Statement& get = *booking_get_;
  Resetting reset{get};
  get.bind(1, booking_id);
  if (get.step() != SQLITE_ROW) return std::nullopt;
  BookingRow row;
  BookingView& v = row.view;
  v.id = booking_id;
  v.slot_id = get.int64(0);
  v.clinic_id = get.int64(1);
  v.day = static_cast<int32_t>(get.int64(2));
  v.minute = static_cast<int16_t>(get.int64(3));
  v.person_id = get.text(4);
  v.created_ms = get.int64(6);
  if (!get.isNull(7)) v.canceled_ms = get.int64(7);
  row.token_sha256 = get.text(5);
  row.code_sha256 = get.text(8);
  return row;
}

BookingStore::FoundBooking SqliteBookingStore::findBooking(const std::string& booking_id,
                                                           const std::string& token) {
  std::optional<BookingRow> row = readBooking(booking_id);
  if (!row) return std::optional<BookingView>();
  // Constant-time: the token is a bearer secret.
  if (!cache::digestEquals(cache::sha256({token}), row->token_sha256)) {
    return std::optional<BookingView>();
  }
  return std::optional<BookingView>(std::move(row->view));
}

StoredResponse SqliteBookingStore::lookupBooking(const std::string& person_id,
                                                 const std::string& code, const FreshToken& fresh) {
  if (!in_batch_ || batch_failed_) {
    return StoredResponse{503, jsonError("store_unavailable", "the store is recovering"), false};
  }
  const StoredResponse no_match{
      404, jsonError("not_found", "no booking matches this person id and booking code"), false};
  // The same read and the same comparison whether or not the person has a booking.
  auto person = active_person_.find(person_id);
  const std::string id = person == active_person_.end() ? std::string(24, '0') : person->second;
  std::optional<BookingRow> found = readBooking(id);
  std::string stored_code = found ? found->code_sha256 : std::string();
  if (stored_code.size() != 32) stored_code.assign(32, '\0');  // no code: matches nothing
  bool match = cache::digestEquals(bookingCodeDigest(code), stored_code) && found.has_value() &&
               person != active_person_.end();
  if (!match) return no_match;
  if (fresh.token.size() != 32 || fresh.token_sha256.size() != 32) {
    return storeFailure("credentials");
  }
  {
    Statement& set = *booking_token_;
    Resetting reset{set};
    set.bind(1, id).bindBlob(2, fresh.token_sha256).bindBlob(3, fresh.token);
    if (set.step() != SQLITE_DONE) return storeFailure("new token");
  }
  // The same answer as the booking's 201, with the fresh token.
  const BookingView& b = found->view;
  return StoredResponse{
      200,
      createdBody(id, fresh.token, code, b.clinic_id, b.day, b.minute, b.person_id, b.created_ms),
      false};
}

StoredResponse SqliteBookingStore::cancelBooking(const std::string& booking_id,
                                                 const std::string& token, int64_t now_ms) {
  if (!in_batch_ || batch_failed_) {
    return StoredResponse{503, jsonError("store_unavailable", "the store is recovering"), false};
  }
  std::optional<BookingView> found = findBooking(booking_id, token).value();  // never fails here
  if (!found) return StoredResponse{404, jsonError("not_found", "no such booking"), false};
  if (found->canceled_ms) return StoredResponse{204, "", false};  // DELETE is idempotent
  {
    Statement& cancel = *booking_cancel_;
    Resetting reset{cancel};
    cancel.bind(1, booking_id).bind(2, now_ms);
    if (cancel.step() != SQLITE_DONE) return storeFailure("cancel booking");
  }
  SlotCount& slot = slots_[static_cast<size_t>(found->slot_id)];
  --slot.booked;
  undo_.push_back(Undo{Undo::kSeatReleased, "", "", found->slot_id});
  slot_changes_[found->slot_id] = slot.booked;
  active_person_.erase(found->person_id);
  undo_.push_back(Undo{Undo::kPersonRemoved, found->person_id, booking_id, 0});
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
  auto booked = countBooked();
  if (!booked) return fail(booked.error());
  auto began = exec("BEGIN IMMEDIATE");
  if (!began) return fail(began.error());
  auto abort = [&](std::string message) -> Result<size_t, std::string> {
    (void)exec("ROLLBACK");
    return fail(std::move(message));
  };
  auto region = prepare(
      "INSERT INTO regions(code, name, parent) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(code) DO UPDATE SET name = excluded.name, parent = excluded.parent");
  auto clinic = prepare(
      "INSERT INTO clinics(id, name, address, region, lat, lng) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(id) DO UPDATE SET name = excluded.name, address = excluded.address, "
      "region = excluded.region, lat = excluded.lat, lng = excluded.lng");
  auto slot = prepare(
      "INSERT INTO slots(clinic_id, day, minute, capacity) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(clinic_id, day, minute) DO UPDATE SET capacity = excluded.capacity "
      "RETURNING id");
  if (!region || !clinic || !slot) return abort("prepare import: " + lastError());

  size_t rows = 0;
  if (!catalog.time_zone.empty()) {
    auto zone = prepare(
        "INSERT INTO catalog_settings(name, value) VALUES ('time_zone', ?1) "
        "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    if (!zone) return abort("prepare import: " + lastError());
    zone->bind(1, catalog.time_zone);
    if (zone->step() != SQLITE_DONE) return abort("time zone: " + lastError());
    ++rows;
  }
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
    slot->bind(1, s.clinic_id).bind(2, int64_t{s.day}).bind(3, int64_t{s.minute});
    slot->bind(4, int64_t{s.capacity});
    auto where = [&] {
      return "slot " + std::to_string(s.clinic_id) + " " + formatDate(s.day) + " " +
             formatTime(s.minute);
    };
    if (slot->step() != SQLITE_ROW) return abort(where() + ": " + lastError());
    // A capacity below what is already booked would overbook.
    auto it = booked->find(slot->int64(0));
    if (it != booked->end() && s.capacity < it->second) {
      return abort(where() + ": capacity " + std::to_string(s.capacity) +
                   " is below the seats already booked (" + std::to_string(it->second) + ")");
    }
    ++rows;
  }
  auto committed = exec("COMMIT");
  if (!committed) return abort("commit import: " + committed.error());
  auto reloaded = loadSlots();
  if (!reloaded) return fail(reloaded.error());
  return rows;
}

Result<CatalogIndexPtr, std::string> SqliteBookingStore::loadCatalog() {
  std::vector<Region> regions;
  std::vector<Clinic> clinics;
  std::vector<StoredSlot> slots;
  auto r = prepare("SELECT code, name, parent FROM regions");
  auto c = prepare("SELECT id, name, address, region, lat, lng FROM clinics");
  auto s = prepare("SELECT id, clinic_id, day, minute, capacity FROM slots");
  if (!r || !c || !s) return fail("load catalog: " + lastError());
  int rc;
  while ((rc = r->step()) == SQLITE_ROW) {
    regions.push_back(Region{r->text(0), r->text(1), r->text(2)});
  }
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
    auto id = static_cast<size_t>(row.id);
    row.booked = id < slots_.size() ? slots_[id].booked : 0;
    slots.push_back(row);
  }
  if (rc != SQLITE_DONE) return fail("load slots: " + lastError());
  std::string zone_name(kDefaultTimeZone);
  auto z = prepare("SELECT value FROM catalog_settings WHERE name = 'time_zone'");
  if (!z) return fail("load settings: " + lastError());
  if ((rc = z->step()) == SQLITE_ROW) {
    zone_name = z->text(0);
  } else if (rc != SQLITE_DONE) {
    return fail("load settings: " + lastError());
  }
  auto zone = TimeZone::load(zone_name);
  if (!zone) return fail("the catalog's " + zone.error());
  return std::make_shared<CatalogIndex>(std::move(regions), std::move(clinics), std::move(slots),
                                        std::move(zone.value()));
}

Result<Done, std::string> SqliteBookingStore::putNamedSnapshot(const NamedSnapshot& snap) {
  auto put = prepare(
      "INSERT INTO named_snapshots(name, content_type, body, updated_ms) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "
      "content_type = excluded.content_type, body = excluded.body, "
      "updated_ms = excluded.updated_ms");
  if (!put) return fail(lastError());
  put->bind(1, snap.name).bind(2, snap.content_type).bindBlob(3, snap.body);
  put->bind(4, snap.updated_ms);
  if (put->step() != SQLITE_DONE) return fail(lastError());
  return Done{};
}

Result<bool, std::string> SqliteBookingStore::removeNamedSnapshot(const std::string& name) {
  auto del = prepare("DELETE FROM named_snapshots WHERE name = ?1");
  if (!del) return fail(lastError());
  del->bind(1, name);
  if (del->step() != SQLITE_DONE) return fail(lastError());
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<NamedSnapshot>, std::string> SqliteBookingStore::namedSnapshots() {
  auto list =
      prepare("SELECT name, content_type, body, updated_ms FROM named_snapshots ORDER BY name");
  if (!list) return fail(lastError());
  std::vector<NamedSnapshot> out;
  int rc;
  while ((rc = list->step()) == SQLITE_ROW) {
    out.push_back(NamedSnapshot{list->text(0), list->text(1), list->text(2), list->int64(3)});
  }
  if (rc != SQLITE_DONE) return fail(lastError());
  return out;
}

Result<int64_t, std::string> SqliteBookingStore::reserveCounter(const std::string& name,
                                                                int64_t step) {
  if (in_batch_) return fail(std::string("counter inside a batch"));
  auto up = prepare(
      "INSERT INTO counters(name, value) VALUES (?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET value = value + ?2 RETURNING value - ?2");
  if (!up) return fail(lastError());
  // One statement in autocommit mode: its own durable transaction, done when it returns DONE.
  up->bind(1, name).bind(2, step);
  if (up->step() != SQLITE_ROW) return fail(lastError());
  int64_t old = up->int64(0);
  if (up->step() != SQLITE_DONE) return fail(lastError());
  return old;
}

size_t SqliteBookingStore::expireIdempotencyKeys(int64_t cutoff_ms) {
  if (in_batch_) return 0;
  // Records are in arrival order: the expired ones are a prefix in memory, in rowid order in the
  // idempotency table and in id order in bookings.
  int64_t last_rowid = -1;
  size_t expired = 0;
  while (!idempotency_by_age_.empty() && idempotency_by_age_.front().first < cutoff_ms) {
    auto it = idempotency_.find(idempotency_by_age_.front().second);
    if (it != idempotency_.end()) {
      if (it->second.booking_id.empty()) last_rowid = std::max(last_rowid, it->second.rowid);
      idempotency_.erase(it);
      ++expired;
    }
    idempotency_by_age_.pop_front();
  }
  if (last_rowid >= 0) {
    if (auto del = prepare("DELETE FROM idempotency WHERE rowid <= ?1 AND created_ms < ?2")) {
      del->bind(1, last_rowid).bind(2, cutoff_ms);
      del->step();
    }
  }
  // A stored 201 holds the bearer token: drop it once no retry can ask for it.
  std::string below = bookingIdTimePrefix(cutoff_ms);
  if (below > answers_cleared_below_) {
    if (auto clear = prepare("UPDATE bookings SET answer = NULL, token = NULL, code = NULL "
                             "WHERE id >= ?1 AND id < ?2 "
                             "AND (answer IS NOT NULL OR token IS NOT NULL OR code IS NOT NULL)")) {
      clear->bind(1, answers_cleared_below_).bind(2, below);
      if (clear->step() == SQLITE_DONE) answers_cleared_below_ = below;
    }
  }
  return expired;
}

}  // namespace surge::origin
