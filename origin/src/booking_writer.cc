#include "surge/origin/booking_writer.h"

#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {
namespace {

std::string bookingJson(const BookingView& b) {
  std::string body = "{\"booking_id\":\"" + b.id + "\",";
  appendBookingFields(body, b.clinic_id, b.day, b.minute, b.person_id);
  body += ",\"status\":\"";
  body += b.canceled_ms ? "canceled" : "active";
  body += "\",\"created_at\":\"" + formatTimestamp(b.created_ms) + "\"";
  if (b.canceled_ms) body += ",\"canceled_at\":\"" + formatTimestamp(*b.canceled_ms) + "\"";
  body += "}";
  return body;
}

}  // namespace

BookingWriter::BookingWriter(BookingStore& store, CatalogIndexPtr catalog,
                             base::MetricsRegistry& metrics, Options options)
    : store_(store),
      catalog_(std::move(catalog)),
      options_(options),
      batches_(metrics.counter("surge_origin_store_batches_total", "Committed store batches")),
      batch_failures_(metrics.counter("surge_origin_store_batch_failures_total",
                                      "Store batches rolled back (answers were 503)")),
      batch_size_(metrics.histogram("surge_origin_store_batch_size", "Operations per batch",
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096})),
      commit_seconds_(metrics.histogram("surge_origin_store_commit_seconds",
                                        "One flush to disk (it makes every batch committed "
                                        "before it durable)",
                                        base::latencyBuckets())),
      queue_depth_(metrics.gauge("surge_origin_store_queue", "Operations waiting for the store")) {}

BookingWriter::~BookingWriter() {
  stop();
}

void BookingWriter::start() {
  flusher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-flush");
    flushLoop();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store-writer");
    loop();
  });
}

void BookingWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // The writer is done: what it committed is flushed and answered before the flusher ends.
  {
    std::lock_guard lock(flush_mutex_);
    flush_stopping_ = true;
  }
  flush_wake_.notify_one();
  if (flusher_.joinable()) flusher_.join();
}

size_t BookingWriter::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void BookingWriter::enqueue(Job job) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(job));
    queue_depth_.set(static_cast<int64_t>(queue_.size()));
  }
  // Wake the writer only on the empty -> non-empty edge; otherwise it is already busy.
  if (was_empty) wake_.notify_one();
}

void BookingWriter::createBooking(NewBooking booking, Reply reply) {
  enqueue(Job{nullptr, std::move(reply), nullptr, std::move(booking)});
}

void BookingWriter::cancelBooking(std::string id, std::string token, int64_t now_ms, Reply reply) {
  enqueue(Job{[id = std::move(id), token = std::move(token), now_ms](BookingStore& s) {
                return s.cancelBooking(id, token, now_ms);
              },
              std::move(reply), nullptr, std::nullopt});
}

void BookingWriter::findBooking(std::string id, std::string token, Reply reply) {
  enqueue(Job{[id = std::move(id), token = std::move(token)](BookingStore& s) {
                BookingStore::FoundBooking found = s.findBooking(id, token);
                if (!found.ok()) return found.error();
                if (!found.value()) {
                  return StoredResponse{404, jsonError("not_found", "no such booking")};
                }
                return StoredResponse{200, bookingJson(*found.value())};
              },
              std::move(reply), nullptr, std::nullopt});
}

void BookingWriter::lookupBooking(std::string person_id, std::string code, FreshToken fresh,
                                  Reply reply) {
  enqueue(Job{[person = std::move(person_id), code = std::move(code), fresh = std::move(fresh)](
                  BookingStore& s) { return s.lookupBooking(person, code, fresh); },
              std::move(reply), nullptr, std::nullopt});
}

void BookingWriter::runExclusive(ExclusiveJob job) {
  enqueue(Job{nullptr, nullptr, std::move(job), std::nullopt});
}

void BookingWriter::loop() {
  std::vector<Job> jobs;
  while (true) {
    {
      // One batch ahead of the disk, not more: while a flush runs, the next batch is committed,
      // and the one after waits for that flush to end and grows meanwhile. Running further ahead
      // makes smaller batches, each rewriting the table's last pages into the WAL.
      std::unique_lock lock(flush_mutex_);
      flushed_.wait(lock, [&] { return committed_.empty(); });
    }
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      // A batch ends before an exclusive job, which then runs alone.
      while (!queue_.empty() && jobs.size() < options_.max_batch) {
        if (queue_.front().isExclusive() && !jobs.empty()) break;
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (jobs.back().isExclusive()) break;
      }
      queue_depth_.set(static_cast<int64_t>(queue_.size()));
    }
    if (jobs.front().isExclusive()) {
      waitFlushed();
      jobs.front().exclusive(store_);
    } else {
      runBatch(jobs);
    }
    jobs.clear();
  }
}

void BookingWriter::runBatch(std::vector<Job>& jobs) {
  std::vector<StoredResponse> answers;
  answers.reserve(jobs.size());
  auto began = store_.begin(BookingStore::Flush::kDeferred);
  if (began) {
    std::vector<const NewBooking*> bookings;
    for (size_t i = 0; i < jobs.size();) {
      if (!jobs[i].booking) {
        answers.push_back(jobs[i].run(store_));
        ++i;
        continue;
      }
      bookings.clear();
      for (; i < jobs.size() && jobs[i].booking; ++i)
        bookings.push_back(&*jobs[i].booking);
      for (StoredResponse& answer : store_.createBookings(bookings))
        answers.push_back(std::move(answer));
    }
  }
  auto committed =
      began ? store_.commit() : base::Result<base::Done, std::string>(base::fail(began.error()));
  batch_size_.observe(static_cast<double>(jobs.size()));

  if (!committed) {
    // Nothing in the batch happened: no answer may claim otherwise. Clients retry with their
    // Idempotency-Key.
    batch_failures_.add();
    std::string body =
        jsonError("store_unavailable", "the booking store could not commit: " + committed.error());
    for (Job& job : jobs)
      job.reply(StoredResponse{503, body});
    return;
  }
  batches_.add();
  // The jobs move on to the flusher; loop() clears the moved-from vector for the next batch.
  Committed done{std::move(jobs), std::move(answers), store_.takeSlotChanges()};
  bool was_idle;
  {
    std::lock_guard lock(flush_mutex_);
    was_idle = committed_.empty();
    committed_.push_back(std::move(done));
  }
  if (was_idle) flush_wake_.notify_one();
}

void BookingWriter::flushLoop() {
  std::vector<Committed> batches;
  while (true) {
    {
      std::unique_lock lock(flush_mutex_);
      flushing_ = false;
      flushed_.notify_all();
      flush_wake_.wait(lock, [&] { return flush_stopping_ || !committed_.empty(); });
      if (committed_.empty()) return;  // stopping, and everything committed is answered
      batches.swap(committed_);
      flushing_ = true;
    }
    flushed_.notify_all();  // the writer may commit the next batch while this flush runs
    // One flush for every batch committed before it began.
    auto start = std::chrono::steady_clock::now();
    auto flushed = store_.flush();
    commit_seconds_.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!flushed) {
      // The batches are committed in the file but maybe not on the disk, and after a failed
      // fsync the kernel may have dropped the dirty pages: nothing can be promised about them. Stop
      // before answering, as PostgreSQL PANICs, and let the restart recover what the disk holds;
      // clients retry with their Idempotency-Keys.
      std::fprintf(stderr, "surge-origin: the booking store cannot reach the disk: %s\n",
                   flushed.error().c_str());
      std::abort();
    }
    CatalogIndexPtr index = catalog();
    for (Committed& batch : batches) {
      if (!batch.changes.empty()) {
        for (const SlotChange& c : batch.changes) {
          if (IndexedSlot* slot = index->slotById(c.slot_id)) index->applyBooked(*slot, c.booked);
        }
        if (listener_) listener_(batch.changes);
      }
      for (size_t i = 0; i < batch.jobs.size(); ++i)
        batch.jobs[i].reply(std::move(batch.answers[i]));
    }
    batches.clear();
  }
}

void BookingWriter::waitFlushed() {
  std::unique_lock lock(flush_mutex_);
  flushed_.wait(lock, [&] { return committed_.empty() && !flushing_; });
}

}  // namespace surge::origin
