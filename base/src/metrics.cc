#include "surge/base/metrics.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace surge::base {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (value > 0) {
    sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(value * 1e6)),
                          std::memory_order_relaxed);
  }
}

double Histogram::sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

std::vector<double> latencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

struct MetricsRegistry::Entry {
  std::string name, help, type, labels;
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  const std::string& labels) {
  std::lock_guard lock(mutex_);
  auto e = std::make_unique<Entry>(Entry{name, help, "counter", labels, nullptr, nullptr, nullptr});
  e->counter = std::make_unique<Counter>();
  Counter& out = *e->counter;
  entries_.push_back(std::move(e));
  return out;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              const std::string& labels) {
  std::lock_guard lock(mutex_);
  auto e = std::make_unique<Entry>(Entry{name, help, "gauge", labels, nullptr, nullptr, nullptr});
  e->gauge = std::make_unique<Gauge>();
  Gauge& out = *e->gauge;
  entries_.push_back(std::move(e));
  return out;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<double> bounds, const std::string& labels) {
  std::lock_guard lock(mutex_);
  auto e =
      std::make_unique<Entry>(Entry{name, help, "histogram", labels, nullptr, nullptr, nullptr});
  e->histogram = std::make_unique<Histogram>(std::move(bounds));
  Histogram& out = *e->histogram;
  entries_.push_back(std::move(e));
  return out;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  // Group series of one name under one HELP/TYPE header, in first-registration order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Entry*>> by_name;
  for (const auto& e : entries_) {
    auto& list = by_name[e->name];
    if (list.empty()) order.push_back(e->name);
    list.push_back(e.get());
  }
  std::string out;
  char buf[64];
  auto fmt = [&](double v) {
    if (std::isinf(v)) return std::string("+Inf");
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return std::string(buf);
  };
  for (const std::string& name : order) {
    const auto& list = by_name[name];
    out += "# HELP " + name + " " + list.front()->help + "\n";
    out += "# TYPE " + name + " " + list.front()->type + "\n";
    for (const Entry* e : list) {
      std::string braces = e->labels.empty() ? "" : "{" + e->labels + "}";
      if (e->counter) {
        out += name + braces + " " + std::to_string(e->counter->value()) + "\n";
      } else if (e->gauge) {
        out += name + braces + " " + std::to_string(e->gauge->value()) + "\n";
      } else {
        const Histogram& h = *e->histogram;
        std::string sep = e->labels.empty() ? "" : e->labels + ",";
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= h.bounds().size(); ++i) {
          cumulative += h.bucketCount(i);
          std::string le = i < h.bounds().size() ? fmt(h.bounds()[i]) : "+Inf";
          out +=
              name + "_bucket{" + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
        }
        out += name + "_sum" + braces + " " + fmt(h.sum()) + "\n";
        out += name + "_count" + braces + " " + std::to_string(h.count()) + "\n";
      }
    }
  }
  return out;
}

}  // namespace surge::base
