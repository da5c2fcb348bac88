// BookingWriter: the one thread that talks to the BookingStore, with group commit.
//
// Requests from every HTTP worker queue here. The writer takes everything queued (up to
// max_batch), runs it in one transaction and commits it without waiting for the disk
// (Flush::kDeferred); a second thread, the flusher, then makes it durable (one fdatasync for all
// the batches committed since its last one) and only then hands the answers back, in commit
// order. So the writer runs the next batch while the disk writes the last one, and no answer
// ever claims what a crash could take back.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "surge/base/metrics.h"
#include "surge/origin/booking_store.h"

namespace surge::origin {

class BookingWriter {
 public:
  using Reply = std::function<void(StoredResponse)>;
  // Runs on the writer thread between batches, with the store to itself (imports, counters):
  // every batch before it is durable and answered.
  using ExclusiveJob = std::function<void(BookingStore&)>;
  // Called on the flusher thread once a batch is durable, with the slots whose booked count
  // changed (the index already shows the new counts).
  using ChangeListener = std::function<void(const std::vector<SlotChange>&)>;

  struct Options {
    size_t max_batch = 4096;
  };

  BookingWriter(BookingStore& store, CatalogIndexPtr catalog, base::MetricsRegistry& metrics,
                Options options);
  ~BookingWriter();

  void setChangeListener(ChangeListener listener) { listener_ = std::move(listener); }
  void start();
  // Finishes everything queued, then stops the thread.
  void stop();

  // `reply` runs on the writer or the flusher thread: it must only hand the answer over (post it to
  // a loop).
  void createBooking(NewBooking booking, Reply reply);
  void cancelBooking(std::string id, std::string token, int64_t now_ms, Reply reply);
  void findBooking(std::string id, std::string token, Reply reply);
  // `code` normalized (booking_code.h); `fresh` becomes the booking's token when the code fits.
  void lookupBooking(std::string person_id, std::string code, FreshToken fresh, Reply reply);
  void runExclusive(ExclusiveJob job);

  // The current catalog (replaced after an import). Safe from any thread.
  CatalogIndexPtr catalog() const { return std::atomic_load(&catalog_); }
  // Writer thread only (inside an ExclusiveJob): installs a freshly loaded index.
  void replaceCatalog(CatalogIndexPtr catalog) { std::atomic_store(&catalog_, std::move(catalog)); }

  size_t queued() const;

 private:
  struct Job {
    std::function<StoredResponse(BookingStore&)> run;  // cancel, find, lookup
    Reply reply;
    ExclusiveJob exclusive;
    // A booking attempt: consecutive ones go to the store together (createBookings).
    std::optional<NewBooking> booking;
    bool isExclusive() const { return exclusive != nullptr; }
  };
  // A batch committed, waiting for its flush.
  struct Committed {
    std::vector<Job> jobs;
    std::vector<StoredResponse> answers;
    std::vector<SlotChange> changes;
  };
  void enqueue(Job job);
  void loop();
  void runBatch(std::vector<Job>& jobs);
  void flushLoop();
  void waitFlushed();

  BookingStore& store_;
  CatalogIndexPtr catalog_;
  Options options_;
  ChangeListener listener_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;

  std::mutex flush_mutex_;  // guards committed_, flushing_ and flush_stopping_
  std::condition_variable flush_wake_;
  std::condition_variable flushed_;
  std::vector<Committed> committed_;
  bool flushing_ = false;  // the flusher holds batches taken from committed_
  bool flush_stopping_ = false;
  std::thread flusher_;

  base::Counter& batches_;
  base::Counter& batch_failures_;
  base::Histogram& batch_size_;
  base::Histogram& commit_seconds_;
  base::Gauge& queue_depth_;
};

}  // namespace surge::origin
