// SnapshotPublisher in process against a real memcached: every dirty snapshot goes out once its
// own hold is over, changes during the hold ride along, and a busy publisher holds longer; a
// version moves only when its snapshot's content does; the clock takes slots away as they begin;
// gaps that edges report are filled at once.
#include "surge/origin/snapshot_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "surge/cache/catalog_names.h"
#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"
#include "surge/origin/sqlite_booking_store.h"
#include "surge/testing/memcached_server.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using namespace std::chrono_literals;

// Instrumented builds run several times slower: bounds on waits stretch with them.
constexpr int kSlow = SURGE_TEST_SLOWDOWN;

class SnapshotPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::testStorePath("surge-publisher");
    test::removeStoreFiles(path_);
    auto store = SqliteBookingStore::open(path_.string());
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = std::move(store.value());
    ASSERT_TRUE(store_->importCatalog(catalog_).ok());
    auto index = store_->loadCatalog();
    ASSERT_TRUE(index.ok()) << index.error();
    index_ = index.value();
    writer_ = std::make_unique<BookingWriter>(*store_, index_, metrics_, BookingWriter::Options{});
    writer_->start();
    auto keyring = cache::Keyring::parse("k1 " + std::string(64, 'a'), "test");
    ASSERT_TRUE(keyring.ok()) << keyring.error();
    keyring_ = keyring.value();
    cache::MemcachedOptions mc;
    mc.servers = {memcached_.address()};
    if (second_memcached_) mc.servers.push_back(second_memcached_->address());
    auto client = cache::MemcachedClient::create(mc);
    ASSERT_TRUE(client.ok()) << client.error();
    reader_ = std::move(client.value());
    auto publishing = reader_->clone();
    ASSERT_TRUE(publishing.ok());
    SnapshotPublisher::Options options;
    options.coalesce = 20ms;
    options.busy_target = 1000ms;
    options.busy_threshold = 4;  // one booking marks 3 snapshots: its clinic, 시/군/구 and 시/도
    options.full_publish_interval = std::chrono::seconds(0);
    options.clock = clock_;
    if (shared_versions_) {
      // Several origins on one store: versions drawn from one sequence (here a counter).
      options.shared_versions = [this](size_t n) {
        std::vector<int64_t> drawn;
        for (size_t i = 0; i < n; ++i)
          drawn.push_back(next_shared_version_++);
        return base::Result<std::vector<int64_t>, std::string>(std::move(drawn));
      };
    }
    publisher_ = std::make_unique<SnapshotPublisher>(std::move(publishing.value()), keyring_,
                                                     *writer_, metrics_, options);
    ASSERT_TRUE(publisher_->start().ok());
    ASSERT_EQ(publishedSince(0, allNames().size()), allNames().size());  // the full publish
  }
  void TearDown() override {
    publisher_.reset();
    writer_.reset();
    store_.reset();
    test::removeStoreFiles(path_);
  }

  // Read from the rendered metrics: the registry hands out a new counter on every call.
  uint64_t published() {
    const std::string text = metrics_.render();
    const std::string name = "\nsurge_origin_snapshots_published_total ";
    size_t at = text.find(name);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + name.size()));
  }
  // Waits (up to 10 s) until `count` snapshots went out after `from` were counted, then 300 ms
  // more for any that should not have: returns how many went out.
  uint64_t publishedSince(uint64_t from, uint64_t count) {
    for (int i = 0; i < 1000 && published() < from + count; ++i)
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(300ms);
    return published() - from;
  }
  // regions, 5 regions, 4 clinics and the catalog.
  static constexpr uint64_t kAll = 11;
  // Every snapshot the catalog makes.
  std::vector<std::string> allNames() const {
    std::vector<std::string> names = {"regions", "catalog"};
    for (const Region& r : catalog_.regions)
      names.push_back("region/" + r.code);
    for (const Clinic& c : catalog_.clinics)
      names.push_back("clinic/" + std::to_string(c.id));
    return names;
  }
  uint64_t version(const std::string& name) {
    auto got = reader_->get(cache::snapshotKey(name));
    if (!got.ok() || !got->has_value()) return 0;
    auto opened = cache::openSnapshot(keyring_, **got);
    return opened.ok() ? opened->version : 0;
  }
  nlohmann::json body(const std::string& name) {
    auto got = reader_->get(cache::snapshotKey(name));
    if (!got.ok() || !got->has_value()) return nullptr;
    auto opened = cache::openSnapshot(keyring_, **got);
    if (!opened.ok()) return nullptr;
    auto decoded = cache::decodeSnapshotBody(opened.value());
    return decoded.ok() ? nlohmann::json::parse(decoded.value(), nullptr, false) : nullptr;
  }
  // A booking's worth of change: one more seat taken in the clinic's first slot.
  SlotChange change(int64_t clinic) {
    IndexedSlot& slot = index_->slotsOf(clinic)[0];
    int32_t booked = slot.booked.load() + 1;
    index_->applyBooked(slot, booked);
    return SlotChange{slot.id, booked};
  }
  // Waits up to `bound` for `done()`.
  template <typename F>
  bool eventually(F done, std::chrono::milliseconds bound = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  CatalogData catalog_ = test::smallCatalog();
  bool shared_versions_ = false;
  std::atomic<int64_t> next_shared_version_{1};
  std::function<int64_t()> clock_;  // the publisher's wall clock; unset: the real one

  testing::MemcachedServer memcached_;
  std::unique_ptr<testing::MemcachedServer> second_memcached_;  // set before SetUp: two nodes
  std::filesystem::path path_;
  base::MetricsRegistry metrics_;
  cache::Keyring keyring_;
  std::unique_ptr<SqliteBookingStore> store_;
  CatalogIndexPtr index_;
  std::unique_ptr<BookingWriter> writer_;
  cache::MemcachedClientPtr reader_;
  std::unique_ptr<SnapshotPublisher> publisher_;
};

TEST_F(SnapshotPublisherTest, AFewChangesGoOutAfterTheShortHold) {
  const uint64_t before = version("clinic/100001");
  ASSERT_GT(before, 0u);
  publisher_->slotsChanged({change(100001)});  // 3 dirty snapshots: under the busy threshold
  const auto start = std::chrono::steady_clock::now();
  while (version("clinic/100001") == before && std::chrono::steady_clock::now() - start < 5s)
    std::this_thread::sleep_for(5ms);
  EXPECT_GT(version("clinic/100001"), before);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);  // not the 1 s busy hold
}

TEST_F(SnapshotPublisherTest, UnderLoadEachSnapshotWaitsItsHoldAndGoesOutOnce) {
  const uint64_t published_before = published();
  const uint64_t clinic_before = version("clinic/100001");
  // 100001 and 100002 are in different 시/군/구: 5 dirty snapshots, over the busy threshold.
  publisher_->slotsChanged({change(100001), change(100002)});
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 5; ++i)
    publisher_->slotsChanged({change(100001), change(100002)});  // ride along, no new deadline
  EXPECT_EQ(version("clinic/100001"), clinic_before);            // still held
  // Two clinics, their two 시/군/구 and their one 시/도: each once, however many changes came.
  EXPECT_EQ(publishedSince(published_before, 5), 5u);
  EXPECT_GT(version("clinic/100001"), clinic_before);
}

// Deadlines, not passes: what was marked later goes out later, not with the first ones.
TEST_F(SnapshotPublisherTest, EachSnapshotHasItsOwnDeadline) {
  const uint64_t first_before = version("clinic/100001");
  const uint64_t later_before = version("clinic/100003");
  publisher_->slotsChanged({change(100001), change(100002)});  // busy: held 1 s
  std::this_thread::sleep_for(500ms);
  // Due half a second after the others, and 4 of them: still busy once the first 5 are out.
  publisher_->slotsChanged({change(100003), change(100004)});
  const auto start = std::chrono::steady_clock::now();
  while (version("clinic/100001") == first_before &&
         std::chrono::steady_clock::now() - start < 10s) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(version("clinic/100001"), first_before);
  EXPECT_EQ(version("clinic/100003"), later_before);
  while (version("clinic/100003") == later_before &&
         std::chrono::steady_clock::now() - start < 10s) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GT(version("clinic/100003"), later_before);
}

TEST_F(SnapshotPublisherTest, AFullPublishTakesWhatWasMarked) {
  const uint64_t published_before = published();
  publisher_->slotsChanged({change(100001), change(100002)});
  publisher_->requestFullPublish();
  // Everything once: the marked ones are not published again after it.
  EXPECT_EQ(publishedSince(published_before, kAll), kAll);
}

// Regression: every full publish (each 60 s) gave every snapshot a new version and ETag, so
// conditional requests rarely hit. Now a version moves only when the content does.
TEST_F(SnapshotPublisherTest, AFullPublishThatChangesNothingKeepsEveryVersion) {
  const std::vector<std::string> names = {"regions",       "region/11",     "region/11110",
                                          "clinic/100001", "clinic/100003", "catalog"};
  std::map<std::string, uint64_t> before;
  for (const auto& n : names)
    before[n] = version(n);
  std::promise<SnapshotPublisher::Report> done;
  publisher_->requestFullPublish([&](const SnapshotPublisher::Report& r) { done.set_value(r); });
  SnapshotPublisher::Report report = done.get_future().get();
  EXPECT_EQ(report.changed, 0u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.clinics, 4u);
  EXPECT_EQ(report.regions, 6u);
  for (const auto& n : names)
    EXPECT_EQ(version(n), before[n]) << n;
  // A booking in 100001 (종로구, 서울): its clinic and both regions move, nothing else.
  publisher_->slotsChanged({change(100001)});
  ASSERT_TRUE(eventually([&] { return version("clinic/100001") != before["clinic/100001"]; }));
  std::promise<SnapshotPublisher::Report> again;
  publisher_->requestFullPublish([&](const SnapshotPublisher::Report& r) { again.set_value(r); });
  EXPECT_EQ(again.get_future().get().changed, 0u) << "already published with its change";
  EXPECT_GT(version("clinic/100001"), before["clinic/100001"]);
  EXPECT_GT(version("region/11110"), before["region/11110"]);
  EXPECT_GT(version("region/11"), before["region/11"]);
  EXPECT_EQ(version("clinic/100003"), before["clinic/100003"]);
  EXPECT_EQ(version("regions"), before["regions"]);
  EXPECT_EQ(version("catalog"), before["catalog"]);
}

class SharedVersionsPublisherTest : public SnapshotPublisherTest {
 protected:
  void SetUp() override {
    shared_versions_ = true;
    SnapshotPublisherTest::SetUp();
  }
  uint64_t superseded() {
    const std::string text = metrics_.render();
    const std::string name = "\nsurge_origin_snapshots_superseded_total ";
    size_t at = text.find(name);
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + name.size()));
  }
};

// Origins sharing a store race to memcached: one that drew its version earlier but writes later
// must leave the other's newer snapshot in place (edges without it would take the older one).
TEST_F(SharedVersionsPublisherTest, AnotherOriginsNewerSnapshotIsNeverWrittenOver) {
  cache::SnapshotFields fields;
  fields.version = 1'000'000;
  auto theirs =
      cache::sealSnapshot(keyring_, fields, "{\"theirs\":true}", cache::BodyEncoding::kIdentity);
  ASSERT_TRUE(theirs.ok()) << theirs.error();
  ASSERT_TRUE(reader_->set(cache::snapshotKey("clinic/100001"), theirs.value()).ok());
  const uint64_t region_before = version("region/11110");
  publisher_->slotsChanged({change(100001)});
  // Its region goes out in the same pass as the clinic.
  ASSERT_TRUE(eventually([&] { return version("region/11110") != region_before; }));
  EXPECT_LT(version("region/11110"), 1'000'000u);
  EXPECT_EQ(version("clinic/100001"), 1'000'000u);
  EXPECT_EQ(body("clinic/100001"), nlohmann::json({{"theirs", true}}));
  EXPECT_GE(superseded(), 1u);
  // A version drawn after theirs goes over it.
  next_shared_version_ = 2'000'000;
  publisher_->slotsChanged({change(100001)});
  ASSERT_TRUE(eventually([&] { return version("clinic/100001") >= 2'000'000u; }));
  EXPECT_FALSE(body("clinic/100001").contains("theirs"));
}

// Two memcached nodes, as every cluster has, and origins sharing a store.
class TwoNodePublisherTest : public SnapshotPublisherTest {
 protected:
  void SetUp() override {
    catalog_ = test::smallCatalog(24);
    shared_versions_ = true;
    second_memcached_ = std::make_unique<testing::MemcachedServer>();
    SnapshotPublisherTest::SetUp();
  }
  // How many of the catalog's snapshots a reader that has just started finds (its ring holds both
  // nodes, as an edge's that came up after the node came back).
  size_t foundByANewReader() {
    cache::MemcachedOptions mc;
    mc.servers = {memcached_.address(), second_memcached_->address()};
    auto fresh = cache::MemcachedClient::create(mc);
    if (!fresh.ok()) return 0;
    std::vector<std::string> keys;
    for (const std::string& name : allNames())
      keys.push_back(cache::snapshotKey(name));
    auto got = fresh.value()->getMulti(keys);
    return got.ok() ? got->values.size() : 0;
  }
  // A booking in each of the first half of the clinics: writes that reach both nodes.
  void bookInHalfTheClinics() {
    std::vector<SlotChange> changes;
    for (size_t i = 0; i < catalog_.clinics.size() / 2; ++i)
      changes.push_back(change(catalog_.clinics[i].id));
    publisher_->slotsChanged(changes);
  }
};

// Regression (the cluster's kill -9 of a memcached node): while a node was down the ring sent its
// keys to the other, and once it was back, empty, readers looked for them on it again. No write
// failed then, so the publisher did not know: every snapshot nobody changed stayed missing until
// the next full publish, a minute later, and an edge that had not held one answered 503.
TEST_F(TwoNodePublisherTest, ANodeBackFromAFailureGetsEverySnapshotAgain) {
  const size_t all = allNames().size();
  ASSERT_EQ(foundByANewReader(), all);
  second_memcached_->kill();
  // Bookings go on: the writes to the dead node fail, then go to the other.
  for (int i = 0; i < 20; ++i) {
    bookInHalfTheClinics();
    std::this_thread::sleep_for(100ms);
  }
  second_memcached_->restart();
  // Bookings go on. The publisher puts the node back in its ring after its retry delay (2 s)
  // and its next write to it says it is back.
  bool complete = false;
  for (auto deadline = std::chrono::steady_clock::now() + kSlow * 10s;
       !complete && std::chrono::steady_clock::now() < deadline;) {
    bookInHalfTheClinics();
    std::this_thread::sleep_for(200ms);
    complete = foundByANewReader() == all;
  }
  EXPECT_TRUE(complete) << foundByANewReader() << " of " << all << " snapshots found";
}

// The catalog lists every name, and goes out once everything it lists is out.
TEST_F(SnapshotPublisherTest, TheCatalogListsEveryPublishedName) {
  EXPECT_TRUE(publisher_->fullyPublished());
  nlohmann::json catalog = body("catalog");
  ASSERT_TRUE(catalog.is_object());
  auto names = cache::CatalogNames::parse(catalog.dump());
  ASSERT_TRUE(names.has_value());
  for (const char* n : {"regions", "region/11", "region/26110", "clinic/100001", "clinic/100004"})
    EXPECT_TRUE(names->contains(n)) << n;
  for (const char* n : {"region/99", "clinic/100005", "clinic/1", "named/notice", "clinic/x"})
    EXPECT_FALSE(names->contains(n)) << n;
  EXPECT_EQ(names->clinicCount(), 4u);
}

// Regression: a snapshot lost from memcached (a node killed, an eviction) came back only with
// the next full publish, up to 60 s later. An edge's report brings it back at once.
TEST_F(SnapshotPublisherTest, ReportedGapsAreRepublishedAtOnceAndOnlyKnownOnes) {
  const uint64_t v = version("clinic/100002");
  ASSERT_TRUE(reader_->remove(cache::snapshotKey("clinic/100002")).ok());
  ASSERT_TRUE(reader_->remove(cache::snapshotKey("region/11140")).ok());
  ASSERT_EQ(version("clinic/100002"), 0u);
  EXPECT_EQ(publisher_->fillGaps({"clinic/100002", "region/11140", "clinic/999999", "region/77",
                                  "named/nothing", "bogus"}),
            2u);
  ASSERT_TRUE(eventually([&] { return version("clinic/100002") != 0; }, kSlow * 1000ms));
  ASSERT_TRUE(eventually([&] { return version("region/11140") != 0; }, kSlow * 1000ms));
  EXPECT_EQ(version("clinic/100002"), v) << "the same content keeps its version";
  // Many edges report the same gap: it is republished once per interval, not once per report.
  EXPECT_EQ(publisher_->fillGaps({"clinic/100002"}), 0u);
}

// The clock: a publisher whose wall clock stands 1.5 s before a slot's start.
class PublisherClockTest : public SnapshotPublisherTest {
 protected:
  PublisherClockTest() {
    // The last minute of the first day and the first of the second (00:00).
    catalog_.slots.push_back(Slot{100001, *parseDate(test::kSecondDate), 0, 5});
    const TimeZone seoul = TimeZone::load(kDefaultTimeZone).value();
    // Local midnight of the second day, as Unix ms: its zone offset, applied backwards.
    const int64_t local_ms = static_cast<int64_t>(*parseDate(test::kSecondDate)) * 86400 * 1000;
    const int64_t midnight = local_ms - int64_t{seoul.offsetAt(local_ms / 1000)} * 1000;
    // Enough for SetUp (the store, the import, the first full publish) to finish before it.
    const int64_t offset = midnight - kSlow * 1500 - unixNowMs();
    clock_ = [offset] { return unixNowMs() + offset; };
  }
  bool offers(const std::string& date, const std::string& time) {
    return offersIn(body("clinic/100001"), date, time);
  }
  static bool offersIn(const nlohmann::json& clinic, const std::string& date,
                       const std::string& time) {
    if (!clinic.is_object()) return false;
    for (const auto& d : clinic["dates"]) {
      if (d["date"] != date) continue;
      for (const auto& s : d["slots"]) {
        if (s["time"] == time) return true;
      }
    }
    return false;
  }
};

// Regression: slots stayed in snapshots after their time had come, and the dates never rolled
// over. At midnight the 00:00 slot begins: it leaves the clinic's snapshot and its region's count
// by itself, without a booking or an operator.
TEST_F(PublisherClockTest, SnapshotsRollOverAtMidnightAndAsSlotsBegin) {
  ASSERT_TRUE(offers(test::kSecondDate, "00:00"));
  EXPECT_FALSE(offers(test::kFirstDate, "10:30")) << "23:59 on the first day: all of it begun";
  nlohmann::json region = body("region/11110");
  ASSERT_TRUE(region.is_object());
  ASSERT_EQ(region["dates"], nlohmann::json::array({test::kSecondDate}));
  const int before = region["clinics"][0]["remaining"][0];  // clinic 100001
  // One read of the snapshot that no longer offers 00:00 (a read that found none at all, as while
  // memcached is being written, proves nothing), and in it 09:00 still.
  nlohmann::json rolled;
  ASSERT_TRUE(eventually(
      [&] {
        rolled = body("clinic/100001");
        return rolled.is_object() && !offersIn(rolled, test::kSecondDate, "00:00");
      },
      kSlow * 4000ms));
  EXPECT_TRUE(offersIn(rolled, test::kSecondDate, "09:00")) << rolled.dump();
  // The region's count for the new day leaves out the 00:00 slot's 5 seats.
  ASSERT_TRUE(
      eventually([&] { return body("region/11110")["clinics"][0]["remaining"][0] == before - 5; },
                 kSlow * 2000ms));
}

}  // namespace
}  // namespace surge::origin
