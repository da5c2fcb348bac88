// SnapshotPublisher in process against a real memcached: every dirty snapshot goes out once its
// own hold is over, changes during the hold ride along, and a busy publisher holds longer.
#include "surge/origin/snapshot_publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"
#include "surge/origin/sqlite_booking_store.h"
#include "surge/testing/memcached_server.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using namespace std::chrono_literals;

class SnapshotPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::testStorePath("surge-publisher");
    test::removeStoreFiles(path_);
    auto store = SqliteBookingStore::open(path_.string());
    ASSERT_TRUE(store.ok()) << store.error();
    store_ = std::move(store.value());
    ASSERT_TRUE(store_->importCatalog(test::smallCatalog()).ok());
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
    publisher_ = std::make_unique<SnapshotPublisher>(std::move(publishing.value()), keyring_,
                                                     *writer_, metrics_, options);
    ASSERT_TRUE(publisher_->start().ok());
    ASSERT_EQ(publishedSince(0, kAll), kAll);  // the full publish at start
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
  // regions, 5 regions and 4 clinics.
  static constexpr uint64_t kAll = 10;
  uint64_t version(const std::string& name) {
    auto got = reader_->get(cache::snapshotKey(name));
    if (!got.ok() || !got->has_value()) return 0;
    auto opened = cache::openSnapshot(keyring_, **got);
    return opened.ok() ? opened->version : 0;
  }
  SlotChange change(int64_t clinic) { return SlotChange{index_->slotsOf(clinic)[0].id, 1}; }

  testing::MemcachedServer memcached_;
  std::filesystem::path path_;
  cache::MetricsRegistry metrics_;
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

}  // namespace
}  // namespace surge::origin
