#include "surge/origin/booking_writer.h"

#include <pthread.h>

#include <chrono>

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
                             cache::MetricsRegistry& metrics, Options options)
    : store_(store),
      catalog_(std::move(catalog)),
      options_(options),
      batches_(metrics.counter("surge_origin_store_batches_total", "Committed store batches")),
      batch_failures_(metrics.counter("surge_origin_store_batch_failures_total",
                                      "Store batches rolled back (answers were 503)")),
      batch_size_(metrics.histogram("surge_origin_store_batch_size", "Operations per batch",
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096})),
      commit_seconds_(metrics.histogram("surge_origin_store_commit_seconds",
                                        "Time to make one batch durable", cache::latencyBuckets())),
      queue_depth_(metrics.gauge("surge_origin_store_queue", "Operations waiting for the store")) {}

BookingWriter::~BookingWriter() {
  stop();
}

void BookingWriter::start() {
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
  enqueue(Job{[b = std::move(booking)](BookingStore& s) { return s.createBooking(b); },
              std::move(reply), nullptr});
}

void BookingWriter::cancelBooking(std::string id, std::string token, int64_t now_ms, Reply reply) {
  enqueue(Job{[id = std::move(id), token = std::move(token), now_ms](BookingStore& s) {
                return s.cancelBooking(id, token, now_ms);
              },
              std::move(reply), nullptr});
}

void BookingWriter::findBooking(std::string id, std::string token, Reply reply) {
  enqueue(Job{[id = std::move(id), token = std::move(token)](BookingStore& s) {
                auto found = s.findBooking(id, token);
                if (!found) return StoredResponse{404, jsonError("not_found", "no such booking")};
                return StoredResponse{200, bookingJson(*found)};
              },
              std::move(reply), nullptr});
}

void BookingWriter::runExclusive(ExclusiveJob job) {
  enqueue(Job{nullptr, nullptr, std::move(job)});
}

void BookingWriter::loop() {
  std::vector<Job> jobs;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      // A batch ends before an exclusive job, which then runs alone.
      while (!queue_.empty() && jobs.size() < options_.max_batch) {
        if (!queue_.front().run && !jobs.empty()) break;
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (!jobs.back().run) break;
      }
      queue_depth_.set(static_cast<int64_t>(queue_.size()));
    }
    if (!jobs.front().run) {
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
  auto began = store_.begin();
  if (began) {
    for (Job& job : jobs)
      answers.push_back(job.run(store_));
  }
  auto start = std::chrono::steady_clock::now();
  auto committed =
      began ? store_.commit() : cache::Result<cache::Done, std::string>(cache::fail(began.error()));
  commit_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
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
  std::vector<SlotChange> changes = store_.takeSlotChanges();
  if (!changes.empty()) {
    CatalogIndexPtr index = catalog();
    for (const SlotChange& c : changes) {
      if (IndexedSlot* slot = index->slotById(c.slot_id)) index->applyBooked(*slot, c.booked);
    }
    if (listener_) listener_(changes);
  }
  for (size_t i = 0; i < jobs.size(); ++i)
    jobs[i].reply(std::move(answers[i]));
}

}  // namespace surge::origin
