// BookingWriter's group commit with the flush out of the writer's way: no answer, no snapshot mark
// and no exclusive job before the flush that covers the batch has returned; one batch ahead of
// the disk at most; a failed flush stops the process before anything is answered.
#include "surge/origin/booking_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "surge/cache/hmac.h"
#include "surge/origin/sqlite_booking_store.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using namespace std::chrono_literals;

// The real SQLite store, with a flush() the test holds at a gate (or makes fail).
class GatedStore final : public BookingStore {
 public:
  explicit GatedStore(std::unique_ptr<SqliteBookingStore> real) : real_(std::move(real)) {}

  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void failFlushes() { fail_ = true; }
  int commits() const { return commits_; }
  int flushes() const { return flushes_; }

  base::Result<base::Done, std::string> begin(Flush flush) override {
    deferred_ = flush == Flush::kDeferred;
    return real_->begin(flush);
  }
  base::Result<base::Done, std::string> commit() override {
    auto r = real_->commit();
    if (r) ++commits_;
    return r;
  }
  void rollback() override { real_->rollback(); }
  base::Result<base::Done, std::string> flush() override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
    if (fail_) return base::fail(std::string("injected: disk gone"));
    ++flushes_;
    return real_->flush();
  }
  StoredResponse createBooking(const NewBooking& b) override { return real_->createBooking(b); }
  StoredResponse cancelBooking(const std::string& id, const std::string& token,
                               int64_t now_ms) override {
    return real_->cancelBooking(id, token, now_ms);
  }
  FoundBooking findBooking(const std::string& id, const std::string& token) override {
    return real_->findBooking(id, token);
  }
  StoredResponse lookupBooking(const std::string& person, const std::string& code,
                               const FreshToken& fresh) override {
    return real_->lookupBooking(person, code, fresh);
  }
  std::vector<SlotChange> takeSlotChanges() override { return real_->takeSlotChanges(); }
  base::Result<size_t, std::string> importCatalog(const CatalogData& c) override {
    return real_->importCatalog(c);
  }
  base::Result<CatalogIndexPtr, std::string> loadCatalog() override { return real_->loadCatalog(); }
  base::Result<base::Done, std::string> putNamedSnapshot(const NamedSnapshot& s) override {
    return real_->putNamedSnapshot(s);
  }
  base::Result<bool, std::string> removeNamedSnapshot(const std::string& name) override {
    return real_->removeNamedSnapshot(name);
  }
  base::Result<std::vector<NamedSnapshot>, std::string> namedSnapshots() override {
    return real_->namedSnapshots();
  }
  base::Result<int64_t, std::string> reserveCounter(const std::string& name,
                                                    int64_t step) override {
    return real_->reserveCounter(name, step);
  }
  size_t expireIdempotencyKeys(int64_t cutoff_ms) override {
    return real_->expireIdempotencyKeys(cutoff_ms);
  }

  std::atomic<bool> deferred_{false};

 private:
  std::unique_ptr<SqliteBookingStore> real_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<bool> fail_{false};
  std::atomic<int> commits_{0};
  std::atomic<int> flushes_{0};
};

class BookingWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::testStorePath("surge-writer");
    test::removeStoreFiles(path_);
    auto real = SqliteBookingStore::open(path_.string());
    ASSERT_TRUE(real.ok()) << real.error();
    ASSERT_TRUE(real.value()->importCatalog(test::smallCatalog()).ok());
    auto index = real.value()->loadCatalog();
    ASSERT_TRUE(index.ok()) << index.error();
    index_ = index.value();
    store_ = std::make_unique<GatedStore>(std::move(real.value()));
    writer_ = std::make_unique<BookingWriter>(*store_, index_, metrics_, BookingWriter::Options{});
    writer_->setChangeListener(
        [this](const std::vector<SlotChange>& c) { changes_seen_ += static_cast<int>(c.size()); });
  }
  void TearDown() override {
    if (store_) store_->open();
    writer_.reset();
    store_.reset();
    test::removeStoreFiles(path_);
  }

  NewBooking booking(const std::string& person, int slot_index) {
    const IndexedSlot& slot = index_->slotsOf(100001)[static_cast<size_t>(slot_index)];
    NewBooking b;
    b.slot_id = slot.id;
    b.clinic_id = 100001;
    b.day = slot.day;
    b.minute = slot.minute;
    b.person_id = person;
    b.idempotency_key = "key-" + person;
    auto d = cache::sha256({std::to_string(slot.id), "|", person});
    b.request_sha256.assign(reinterpret_cast<const char*>(d.data()), d.size());
    b.now_ms = 1795737600000;
    EXPECT_TRUE(issueCredentials(b));
    return b;
  }

  // Books `person` and counts the answer when it comes back.
  void book(const std::string& person, int slot_index = 0) {
    writer_->createBooking(booking(person, slot_index), [this](StoredResponse r) {
      if (r.status == 201) ++answered_;
    });
  }

  template <typename F>
  static bool eventually(F done) {
    for (int i = 0; i < 1000 && !done(); ++i)
      std::this_thread::sleep_for(5ms);
    return done();
  }

  std::filesystem::path path_;
  base::MetricsRegistry metrics_;
  CatalogIndexPtr index_;
  std::unique_ptr<GatedStore> store_;
  std::unique_ptr<BookingWriter> writer_;
  std::atomic<int> answered_{0};
  std::atomic<int> changes_seen_{0};
};

TEST_F(BookingWriterTest, NothingIsAnsweredOrPublishedBeforeItsFlush) {
  writer_->start();
  book("ara");
  ASSERT_TRUE(eventually([&] { return store_->commits() == 1; }));
  EXPECT_TRUE(store_->deferred_);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(answered_, 0);      // committed, not yet on disk: no answer,
  EXPECT_EQ(changes_seen_, 0);  // and no snapshot shows it
  EXPECT_EQ(index_->slotsOf(100001)[0].booked.load(), 0);

  store_->open();
  ASSERT_TRUE(eventually([&] { return answered_ == 1; }));
  EXPECT_EQ(changes_seen_, 1);
  EXPECT_EQ(index_->slotsOf(100001)[0].booked.load(), 1);
  EXPECT_GE(store_->flushes(), 1);
}

// While a flush runs the writer commits the next batch, but not the one after: batches stay big
// (they grow while the disk works) instead of shrinking to whatever arrived since the last commit.
TEST_F(BookingWriterTest, TheWriterRunsOneBatchAheadOfTheDiskAndNoMore) {
  writer_->start();
  book("bora", 0);
  ASSERT_TRUE(eventually([&] { return store_->commits() == 1; }));
  book("chae", 1);  // committed while the first batch's flush waits at the gate
  ASSERT_TRUE(eventually([&] { return store_->commits() == 2; }));
  book("dami", 2);
  book("eunji", 3);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(store_->commits(), 2);  // a third batch would be two ahead of the disk
  EXPECT_EQ(answered_, 0);

  store_->open();
  ASSERT_TRUE(eventually([&] { return answered_ == 4; }));
  EXPECT_EQ(store_->commits(), 3);  // dami and eunji waited together: one batch
}

TEST_F(BookingWriterTest, AnExclusiveJobRunsOnlyAfterEveryEarlierBatchIsDurable) {
  writer_->start();
  book("gaeun");
  ASSERT_TRUE(eventually([&] { return store_->commits() == 1; }));
  std::atomic<int> answered_when_run{-1};
  writer_->runExclusive([&](BookingStore&) { answered_when_run = answered_.load(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(answered_when_run, -1);

  store_->open();
  ASSERT_TRUE(eventually([&] { return answered_when_run != -1; }));
  EXPECT_EQ(answered_when_run, 1);
}

TEST_F(BookingWriterTest, StopAnswersEverythingCommitted) {
  writer_->start();
  for (int i = 0; i < 4; ++i)
    book("person-" + std::to_string(i), i);
  store_->open();
  writer_->stop();
  EXPECT_EQ(answered_, 4);
}

// After a failed flush nothing may be promised about the committed batch (the kernel may have
// dropped its pages): the process stops before answering, and the restart recovers from disk.
TEST_F(BookingWriterTest, AFailedFlushStopsTheProcessBeforeAnyAnswer) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        store_->failFlushes();
        store_->open();
        writer_->createBooking(booking("hyejin", 0), [](StoredResponse) {
          std::fprintf(stderr, "answered\n");
          std::_Exit(0);  // a clean exit fails the death test
        });
        writer_->start();
        std::this_thread::sleep_for(10s);
      },
      "cannot reach the disk: injected: disk gone");
}

}  // namespace
}  // namespace surge::origin
