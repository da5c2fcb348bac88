#include "surge/origin/postgres_booking_store.h"

#include <cstdio>
#include <string_view>
#include <unordered_set>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/booking_code.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"
#include "surge/origin/postgres_schema.h"
#include "surge/origin/time_zone.h"

namespace surge::origin {

using base::Done;
using base::fail;
using base::Result;

namespace {

// Deadlock with another origin's batch (40P01) or a serialization failure (40001): nothing of the
// call happened, and running it again is safe.
bool isRetryable(const PgResult& r) {
  std::string s = r.sqlstate();
  return s == "40P01" || s == "40001";
}

std::string hexOf(std::string_view bytes) {
  return cache::encodeHex(bytes);
}

std::string hexOf(const cache::Sha256Digest& d) {
  return cache::encodeHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// Array parameters, one element per booking attempt.
struct Arrays {
  std::string slot, person, key, request, ticket, now, id, token_sha, token, code, code_sha, past;
  void add(const NewBooking& b) {
    appendArrayNumber(slot, b.slot_id);
    appendArrayElement(person, b.person_id);
    optional(key, b.idempotency_key);
    appendArrayElement(request, hexOf(b.request_sha256));
    optional(ticket, b.ticket);
    appendArrayNumber(now, b.now_ms);
    appendArrayElement(id, b.booking_id);
    appendArrayElement(token_sha, hexOf(b.token_sha256));
    appendArrayElement(token, hexOf(b.token));
    optional(code, b.code);
    appendArrayElement(code_sha, hexOf(b.code_sha256));
    if (!past.empty()) past += ',';
    past += b.slot_past ? "t" : "f";
  }
  static void optional(std::string& array, const std::string& v) {
    if (v.empty()) {
      appendArrayNull(array);
    } else {
      appendArrayElement(array, v);
    }
  }
};

}  // namespace

Result<std::unique_ptr<PostgresBookingStore>, std::string> PostgresBookingStore::open(
    const std::string& conninfo) {
  auto db = PostgresConnection::connect(conninfo, "surge-origin");
  if (!db) return fail(db.error());
  auto version = storedSchemaVersion(db.value());
  if (!version) return fail(version.error());
  if (version.value() != postgresSchemaVersion()) {
    return fail("the database's schema is version " + std::to_string(version.value()) +
                ", this build needs " + std::to_string(postgresSchemaVersion()) +
                ": run `surgectl store migrate --store ...` first");
  }
  return std::unique_ptr<PostgresBookingStore>(new PostgresBookingStore(std::move(db.value())));
}

PostgresBookingStore::PostgresBookingStore(PostgresConnection connection)
    : db_(std::move(connection)) {}

StoredResponse PostgresBookingStore::unavailable(const std::string& what) {
  return StoredResponse{503, jsonError("store_unavailable", what + ": " + db_.lastError()), false};
}

Result<Done, std::string> PostgresBookingStore::begin(Flush) {
  // Each operation commits on its own; a batch only needs a live connection.
  return db_.ensure();
}

Result<Done, std::string> PostgresBookingStore::commit() {
  return Done{};
}

void PostgresBookingStore::rollback() {}

Result<Done, std::string> PostgresBookingStore::flush() {
  // synchronous_commit: every answer came after its COMMIT reached PostgreSQL's WAL on disk.
  return Done{};
}

StoredResponse PostgresBookingStore::createBooking(const NewBooking& booking) {
  return std::move(createBookings({&booking}).front());
}

std::vector<StoredResponse> PostgresBookingStore::createBookings(
    const std::vector<const NewBooking*>& bookings) {
  // surge_book takes no Idempotency-Key twice: a batch with a retry of an attempt still in it
  // (rare) goes in several calls, in order, each key's first attempt first.
  std::vector<StoredResponse> answers(bookings.size());
  std::vector<size_t> chunk;
  std::unordered_set<std::string_view> keys;
  for (size_t i = 0; i < bookings.size(); ++i) {
    const std::string& key = bookings[i]->idempotency_key;
    if (!key.empty() && !keys.insert(key).second) {
      decide(bookings, chunk, answers);
      chunk.clear();
      keys.clear();
      keys.insert(key);
    }
    chunk.push_back(i);
  }
  decide(bookings, chunk, answers);
  return answers;
}

void PostgresBookingStore::decide(const std::vector<const NewBooking*>& bookings,
                                  const std::vector<size_t>& chunk,
                                  std::vector<StoredResponse>& answers) {
  Arrays a;
  std::vector<size_t> sent;  // index in `bookings` of each array element
  for (size_t i : chunk) {
    const NewBooking& b = *bookings[i];
    if (b.booking_id.empty() || b.token_sha256.size() != 32 || b.token.size() != 32) {
      answers[i] = StoredResponse{503, jsonError("store_unavailable", "credentials"), false};
      continue;
    }
    a.add(b);
    sent.push_back(i);
  }
  if (sent.empty()) return;
  std::string slot = closeArray(a.slot), person = closeArray(a.person), key = closeArray(a.key),
              request = closeArray(a.request), ticket = closeArray(a.ticket),
              now = closeArray(a.now), id = closeArray(a.id), token_sha = closeArray(a.token_sha),
              token = closeArray(a.token), code = closeArray(a.code),
              code_sha = closeArray(a.code_sha), past = closeArray(a.past);
  PgResult r;
  for (int attempt = 0; attempt < 4; ++attempt) {
    r = db_.exec(
        "SELECT ord, outcome, status, booking_id, token, code, clinic_id, day, minute, "
        "person_id, created_ms FROM surge_book($1::bigint[], $2::text[], $3::text[], "
        "$4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], "
        "$11::text[], $12::boolean[])",
        {slot, person, key, request, ticket, now, id, token_sha, token, code, code_sha, past});
    if (r.ok() || !isRetryable(r)) break;
    ++deadlock_retries_;
  }
  if (!r.ok()) {
    // Nothing of the call is committed (or, when the connection broke while COMMIT was under
    // way, it may be: either way nothing is acknowledged, and a retry with the same
    // Idempotency-Key gets the true answer).
    std::string body = jsonError("store_unavailable", "the booking store failed: " + r.error());
    for (size_t i : sent)
      answers[i] = StoredResponse{503, body, false};
    return;
  }
  for (int row = 0; row < r.rows(); ++row) {
    auto ord = static_cast<size_t>(r.int64(row, 0));
    if (ord < 1 || ord > sent.size()) continue;
    size_t i = sent[ord - 1];
    const NewBooking& b = *bookings[i];
    std::string outcome = r.text(row, 1);
    int status = static_cast<int>(r.int64(row, 2));
    if (outcome == "created") {
      answers[i] = StoredResponse{201, b.created_body, false};
    } else if (outcome == "replay_created") {
      std::string stored_token = r.bytes(row, 4);
      if (stored_token.size() != 32) {
        answers[i] = StoredResponse{503, jsonError("store_unavailable", "stored token"), false};
        continue;
      }
      answers[i] = StoredResponse{
          201,
          createdBody(r.text(row, 3), stored_token, r.isNull(row, 5) ? "" : r.text(row, 5),
                      r.int64(row, 6), static_cast<int32_t>(r.int64(row, 7)),
                      static_cast<int16_t>(r.int64(row, 8)), r.text(row, 9), r.int64(row, 10)),
          true};
    } else if (outcome.starts_with("replay:")) {
      StoredResponse refused = bookingRefusal(std::string_view(outcome).substr(7));
      refused.status = status;
      refused.replayed = true;
      answers[i] = std::move(refused);
    } else {
      answers[i] = bookingRefusal(outcome);
    }
  }
  for (size_t i : sent) {
    if (answers[i].status == 0) {
      answers[i] = StoredResponse{503, jsonError("store_unavailable", "no answer"), false};
    }
  }
}

StoredResponse PostgresBookingStore::cancelBooking(const std::string& booking_id,
                                                   const std::string& token, int64_t now_ms) {
  std::string token_sha = hexOf(cache::sha256({token}));
  std::string now = std::to_string(now_ms);
  PgResult r = db_.exec("SELECT surge_cancel($1, $2, $3::bigint)", {booking_id, token_sha, now});
  if (!r.ok()) return unavailable("cancel booking");
  if (r.int64(0, 0) == 404) {
    return StoredResponse{404, jsonError("not_found", "no such booking"), false};
  }
  return StoredResponse{204, "", false};
}

BookingStore::FoundBooking PostgresBookingStore::findBooking(const std::string& booking_id,
                                                             const std::string& token) {
  PgResult r = db_.exec(
      "SELECT b.slot_id, s.clinic_id, s.day, s.minute, b.person_id, "
      "encode(b.token_sha256, 'hex'), b.created_ms, b.canceled_ms "
      "FROM bookings b JOIN slots s ON s.id = b.slot_id WHERE b.id = $1",
      {booking_id});
  if (!r.ok()) return base::fail(unavailable("find booking"));
  if (r.rows() != 1) return std::optional<BookingView>();
  // Constant-time: the token is a bearer secret.
  if (!cache::digestEquals(cache::sha256({token}), r.bytes(0, 5))) {
    return std::optional<BookingView>();
  }
  BookingView v;
  v.id = booking_id;
  v.slot_id = r.int64(0, 0);
  v.clinic_id = r.int64(0, 1);
  v.day = static_cast<int32_t>(r.int64(0, 2));
  v.minute = static_cast<int16_t>(r.int64(0, 3));
  v.person_id = r.text(0, 4);
  v.created_ms = r.int64(0, 6);
  if (!r.isNull(0, 7)) v.canceled_ms = r.int64(0, 7);
  return std::optional<BookingView>(std::move(v));
}

StoredResponse PostgresBookingStore::lookupBooking(const std::string& person_id,
                                                   const std::string& code,
                                                   const FreshToken& fresh) {
  if (fresh.token.size() != 32 || fresh.token_sha256.size() != 32) {
    return StoredResponse{503, jsonError("store_unavailable", "credentials"), false};
  }
  std::string code_sha = hexOf(bookingCodeDigest(code));
  std::string token_sha = hexOf(fresh.token_sha256), token = hexOf(fresh.token);
  // One statement either way: the same work whether or not the person has a booking.
  PgResult r = db_.exec(
      "UPDATE bookings b SET token_sha256 = decode($3, 'hex'), token = decode($4, 'hex') "
      "FROM slots s WHERE b.person_id = $1 AND b.canceled_ms IS NULL "
      "AND b.code_sha256 = decode($2, 'hex') AND s.id = b.slot_id "
      "RETURNING b.id, s.clinic_id, s.day, s.minute, b.created_ms",
      {person_id, code_sha, token_sha, token});
  if (!r.ok()) return unavailable("lookup");
  if (r.rows() != 1) {
    return StoredResponse{
        404, jsonError("not_found", "no booking matches this person id and booking code"), false};
  }
  return StoredResponse{200,
                        createdBody(r.text(0, 0), fresh.token, code, r.int64(0, 1),
                                    static_cast<int32_t>(r.int64(0, 2)),
                                    static_cast<int16_t>(r.int64(0, 3)), person_id, r.int64(0, 4)),
                        false};
}

std::vector<SlotChange> PostgresBookingStore::takeSlotChanges() {
  // Seat counts come to every origin, this one included, from NOTIFY surge_slots in commit order
  // (slot_follower.h): counts from this process's answers alone could be older than another
  // origin's commit that the follower already applied.
  return {};
}

Result<size_t, std::string> PostgresBookingStore::importCatalog(const CatalogData& catalog) {
  auto connected = db_.ensure();
  if (!connected) return fail(connected.error());
  std::string region_code, region_name, region_parent;
  for (const Region& r : catalog.regions) {
    appendArrayElement(region_code, r.code);
    appendArrayElement(region_name, r.name);
    appendArrayElement(region_parent, r.parent);
  }
  std::string clinic_id, clinic_name, clinic_address, clinic_region, clinic_lat, clinic_lng;
  for (const Clinic& c : catalog.clinics) {
    appendArrayNumber(clinic_id, c.id);
    appendArrayElement(clinic_name, c.name);
    appendArrayElement(clinic_address, c.address);
    appendArrayElement(clinic_region, c.region);
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", c.lat);
    appendArrayElement(clinic_lat, number);
    std::snprintf(number, sizeof number, "%.17g", c.lng);
    appendArrayElement(clinic_lng, number);
  }
  std::string slot_clinic, slot_day, slot_minute, slot_capacity;
  for (const Slot& s : catalog.slots) {
    appendArrayNumber(slot_clinic, s.clinic_id);
    appendArrayNumber(slot_day, s.day);
    appendArrayNumber(slot_minute, s.minute);
    appendArrayNumber(slot_capacity, s.capacity);
  }
  PgResult began = db_.exec("BEGIN");
  if (!began.ok()) return fail("import: " + began.error());
  auto abort = [&](std::string message) -> Result<size_t, std::string> {
    db_.exec("ROLLBACK");
    return fail(std::move(message));
  };
  // Imports from two origins at once take turns.
  PgResult locked = db_.exec("SELECT pg_advisory_xact_lock(hashtext('surge_import'))");
  if (!locked.ok()) return abort("import: " + locked.error());
  size_t rows = 0;
  int64_t changed = 0;  // rows an upsert really changed or added
  if (!catalog.time_zone.empty()) {
    PgResult zone = db_.exec(
        "INSERT INTO catalog_settings(name, value) VALUES ('time_zone', $1) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value "
        "WHERE catalog_settings.value IS DISTINCT FROM excluded.value",
        {catalog.time_zone});
    if (!zone.ok()) return abort("time zone: " + zone.error());
    changed += zone.affected();
    ++rows;
  }
  PgResult regions = db_.exec(
      "INSERT INTO regions(code, name, parent) "
      "SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) "
      "ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent "
      "WHERE (regions.name, regions.parent) IS DISTINCT FROM (excluded.name, excluded.parent)",
      {closeArray(region_code), closeArray(region_name), closeArray(region_parent)});
  if (!regions.ok()) return abort("regions: " + regions.error());
  changed += regions.affected();
  rows += catalog.regions.size();
  PgResult clinics = db_.exec(
      "INSERT INTO clinics(id, name, address, region, lat, lng) "
      "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
      "$5::double precision[], $6::double precision[]) "
      "ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address, "
      "region = excluded.region, lat = excluded.lat, lng = excluded.lng "
      "WHERE (clinics.name, clinics.address, clinics.region, clinics.lat, clinics.lng) "
      "IS DISTINCT FROM (excluded.name, excluded.address, excluded.region, excluded.lat, "
      "excluded.lng)",
      {closeArray(clinic_id), closeArray(clinic_name), closeArray(clinic_address),
       closeArray(clinic_region), closeArray(clinic_lat), closeArray(clinic_lng)});
  if (!clinics.ok()) return abort("clinics: " + clinics.error());
  changed += clinics.affected();
  rows += catalog.clinics.size();
  std::string sc = closeArray(slot_clinic), sd = closeArray(slot_day), sm = closeArray(slot_minute),
              scap = closeArray(slot_capacity);
  // A capacity below what is already booked would overbook: named, and nothing changes. (A
  // booking on another origin between this check and the update trips CHECK (booked <=
  // capacity) instead.)
  PgResult below = db_.exec(
      "SELECT s.clinic_id, s.day, s.minute, i.capacity, s.booked "
      "FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::integer[]) "
      "AS i(clinic_id, day, minute, capacity) "
      "JOIN slots s ON s.clinic_id = i.clinic_id AND s.day = i.day AND s.minute = i.minute "
      "WHERE i.capacity < s.booked LIMIT 1",
      {sc, sd, sm, scap});
  if (!below.ok()) return abort("slots: " + below.error());
  if (below.rows() > 0) {
    return abort(
        "slot " + below.text(0, 0) + " " + formatDate(static_cast<int32_t>(below.int64(0, 1))) +
        " " + formatTime(static_cast<int16_t>(below.int64(0, 2))) + ": capacity " +
        below.text(0, 3) + " is below the seats already booked (" + below.text(0, 4) + ")");
  }
  PgResult updated = db_.exec(
      "UPDATE slots s SET capacity = i.capacity "
      "FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::integer[]) "
      "AS i(clinic_id, day, minute, capacity) "
      "WHERE s.clinic_id = i.clinic_id AND s.day = i.day AND s.minute = i.minute "
      "AND s.capacity <> i.capacity",
      {sc, sd, sm, scap});
  if (!updated.ok()) return abort("slots: " + updated.error());
  changed += updated.affected();
  // New slots get ids in catalog order with no gaps (ON CONFLICT would spend ids on rows that
  // exist).
  PgResult inserted = db_.exec(
      "INSERT INTO slots(clinic_id, day, minute, capacity) "
      "SELECT i.clinic_id, i.day, i.minute, i.capacity "
      "FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::integer[]) "
      "WITH ORDINALITY AS i(clinic_id, day, minute, capacity, n) "
      "WHERE NOT EXISTS (SELECT 1 FROM slots s WHERE s.clinic_id = i.clinic_id "
      "AND s.day = i.day AND s.minute = i.minute) ORDER BY i.n",
      {sc, sd, sm, scap});
  if (!inserted.ok()) return abort("slots: " + inserted.error());
  changed += inserted.affected();
  rows += catalog.slots.size();
  if (changed == 0) {  // the same catalog again (an origin's restart): nobody need reload
    PgResult committed = db_.exec("COMMIT");
    if (!committed.ok()) return fail("commit import: " + committed.error());
    return rows;
  }
  // Every other origin reloads its catalog when this commits (SlotFollower): the generation says
  // there is a new one, the notification says it now.
  PgResult generation = db_.exec(
      "INSERT INTO catalog_settings(name, value) VALUES ('generation', '1') "
      "ON CONFLICT (name) DO UPDATE SET value = (catalog_settings.value::bigint + 1)::text "
      "RETURNING value");
  if (!generation.ok()) return abort("generation: " + generation.error());
  PgResult announced = db_.exec("SELECT pg_notify('surge_catalog', $1)", {generation.text(0, 0)});
  if (!announced.ok()) return abort("announce: " + announced.error());
  PgResult committed = db_.exec("COMMIT");
  if (!committed.ok()) return fail("commit import: " + committed.error());
  return rows;
}

Result<CatalogIndexPtr, std::string> PostgresBookingStore::loadCatalog() {
  auto connected = db_.ensure();
  if (!connected) return fail(connected.error());
  // One snapshot of the database for all four reads.
  PgResult began = db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!began.ok()) return fail("load catalog: " + began.error());
  PgResult r = db_.exec("SELECT code, name, parent FROM regions");
  PgResult c = db_.exec("SELECT id, name, address, region, lat, lng FROM clinics");
  PgResult s = db_.exec("SELECT id, clinic_id, day, minute, capacity, booked FROM slots");
  PgResult z = db_.exec("SELECT value FROM catalog_settings WHERE name = 'time_zone'");
  db_.exec("COMMIT");
  for (const PgResult* q : {&r, &c, &s, &z}) {
    if (!q->ok()) return fail("load catalog: " + q->error());
  }
  std::vector<Region> regions;
  for (int i = 0; i < r.rows(); ++i)
    regions.push_back(Region{r.text(i, 0), r.text(i, 1), r.text(i, 2)});
  std::vector<Clinic> clinics;
  for (int i = 0; i < c.rows(); ++i) {
    clinics.push_back(Clinic{c.int64(i, 0), c.text(i, 1), c.text(i, 2), c.text(i, 3),
                             std::strtod(c.text(i, 4).c_str(), nullptr),
                             std::strtod(c.text(i, 5).c_str(), nullptr)});
  }
  std::vector<StoredSlot> slots;
  slots.reserve(static_cast<size_t>(s.rows()));
  for (int i = 0; i < s.rows(); ++i) {
    StoredSlot row;
    row.id = s.int64(i, 0);
    row.slot.clinic_id = s.int64(i, 1);
    row.slot.day = static_cast<int32_t>(s.int64(i, 2));
    row.slot.minute = static_cast<int16_t>(s.int64(i, 3));
    row.slot.capacity = static_cast<int32_t>(s.int64(i, 4));
    row.booked = static_cast<int32_t>(s.int64(i, 5));
    slots.push_back(row);
  }
  std::string zone_name = z.rows() > 0 ? z.text(0, 0) : std::string(kDefaultTimeZone);
  auto zone = TimeZone::load(zone_name);
  if (!zone) return fail("the catalog's " + zone.error());
  return std::make_shared<CatalogIndex>(std::move(regions), std::move(clinics), std::move(slots),
                                        std::move(zone.value()));
}

Result<Done, std::string> PostgresBookingStore::putNamedSnapshot(const NamedSnapshot& snap) {
  std::string body = hexOf(snap.body), updated = std::to_string(snap.updated_ms);
  PgResult r = db_.exec(
      "INSERT INTO named_snapshots(name, content_type, body, updated_ms) "
      "VALUES ($1, $2, decode($3, 'hex'), $4::bigint) ON CONFLICT (name) DO UPDATE SET "
      "content_type = excluded.content_type, body = excluded.body, "
      "updated_ms = excluded.updated_ms",
      {snap.name, snap.content_type, body, updated});
  if (!r.ok()) return fail(r.error());
  return Done{};
}

Result<bool, std::string> PostgresBookingStore::removeNamedSnapshot(const std::string& name) {
  PgResult r = db_.exec("DELETE FROM named_snapshots WHERE name = $1 RETURNING name", {name});
  if (!r.ok()) return fail(r.error());
  return r.rows() > 0;
}

Result<std::vector<NamedSnapshot>, std::string> PostgresBookingStore::namedSnapshots() {
  PgResult r = db_.exec(
      "SELECT name, content_type, encode(body, 'hex'), updated_ms FROM named_snapshots "
      "ORDER BY name");
  if (!r.ok()) return fail(r.error());
  std::vector<NamedSnapshot> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back(NamedSnapshot{r.text(i, 0), r.text(i, 1), r.bytes(i, 2), r.int64(i, 3)});
  return out;
}

Result<int64_t, std::string> PostgresBookingStore::reserveCounter(const std::string& name,
                                                                  int64_t step) {
  std::string s = std::to_string(step);
  PgResult r = db_.exec(
      "INSERT INTO counters(name, value) VALUES ($1, $2::bigint) ON CONFLICT (name) DO UPDATE "
      "SET value = counters.value + $2::bigint RETURNING value - $2::bigint",
      {name, s});
  if (!r.ok()) return fail(r.error());
  return r.int64(0, 0);
}

size_t PostgresBookingStore::expireIdempotencyKeys(int64_t cutoff_ms) {
  std::string cutoff = std::to_string(cutoff_ms);
  PgResult r = db_.exec("DELETE FROM idempotency WHERE created_ms < $1::bigint", {cutoff});
  // A stored 201's token is dropped once no retry can ask for it.
  db_.exec(
      "UPDATE bookings SET token = NULL, code = NULL WHERE id < $1 "
      "AND (token IS NOT NULL OR code IS NOT NULL)",
      {bookingIdTimePrefix(cutoff_ms)});
  return r.ok() ? static_cast<size_t>(r.affected()) : 0;
}

}  // namespace surge::origin
