// Latency histogram shared by the bench drivers: bucket i holds values in [1.02^i, 1.02^(i+1))
// microseconds, so a percentile read from it is exact to within 2%.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace surge::bench {

struct LogHistogram {
  static constexpr int kBuckets = 1200;
  std::vector<uint64_t> counts = std::vector<uint64_t>(kBuckets, 0);
  uint64_t total = 0;

  void add(double micros) {
    int i = micros < 1 ? 0 : static_cast<int>(std::log(micros) / std::log(1.02));
    counts[static_cast<size_t>(std::min(i, kBuckets - 1))]++;
    ++total;
  }
  void merge(const LogHistogram& o) {
    for (int i = 0; i < kBuckets; ++i)
      counts[static_cast<size_t>(i)] += o.counts[static_cast<size_t>(i)];
    total += o.total;
  }
  void clear() {
    std::fill(counts.begin(), counts.end(), 0);
    total = 0;
  }
  static double bucketUpperMs(int i) { return std::pow(1.02, i + 1) / 1000.0; }
  // The upper bound of the bucket holding the q-th value, in milliseconds; 0 when empty.
  double percentileMs(double q) const {
    if (total == 0) return 0;
    uint64_t target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total))), seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts[static_cast<size_t>(i)];
      if (seen >= target) return bucketUpperMs(i);
    }
    return 0;
  }
};

}  // namespace surge::bench
