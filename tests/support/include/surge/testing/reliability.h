// Rows of tests/RELIABILITY.md. A fault or hostile-input test records what it tried and what
// happened; `./surge test` points $SURGE_RELIABILITY_LOG at a JSON-lines file and
// tests/reliability_report.py turns every row of every build (plain, ASan+UBSan, TSan) into the
// table. Without the variable nothing is written, so a test run by hand stays quiet.
//
// The row is written when the Row goes out of scope, marked failed when the test has failed by
// then, so a broken guarantee shows up in the table and not only in the ctest output.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>

namespace surge::testing {

class ReliabilityRow {
 public:
  // `area`: "fault", "hostile-http", "tampering". `what`: the class of fault or input, the same
  // text for every test that tries it (rows with equal area and what are summed).
  ReliabilityRow(std::string area, std::string what)
      : area_(std::move(area)), what_(std::move(what)) {}
  ~ReliabilityRow() { write(); }
  ReliabilityRow(const ReliabilityRow&) = delete;
  ReliabilityRow& operator=(const ReliabilityRow&) = delete;

  void tried(long n = 1) { tries_ += n; }
  // Counted outcomes, e.g. count("lost", 0), count("503 with Retry-After", 40).
  void count(std::string_view name, long n) {
    if (!counts_.empty()) counts_ += ",";
    counts_ += "\"" + escape(name) + "\":" + std::to_string(n);
  }
  // Free text: what the server did.
  void outcome(std::string text) { outcome_ = std::move(text); }

 private:
  static std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out += c;
    }
    return out;
  }

  void write() {
    const char* path = std::getenv("SURGE_RELIABILITY_LOG");
    if (path == nullptr || *path == '\0') return;
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
    bool failed = ::testing::Test::HasFailure();
    const char* build = std::getenv("SURGE_BUILD_KIND");
    std::string line = "{\"area\":\"" + escape(area_) + "\",\"what\":\"" + escape(what_) +
                       "\",\"tries\":" + std::to_string(tries_) + ",\"counts\":{" + counts_ +
                       "},\"outcome\":\"" + escape(outcome_) +
                       "\",\"ok\":" + (failed ? "false" : "true") + ",\"test\":\"" + escape(test) +
                       "\",\"build\":\"" + escape(build ? build : "plain") + "\"}\n";
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (std::FILE* f = std::fopen(path, "a")) {
      std::fputs(line.c_str(), f);  // one short append: whole lines even with ctest -j
      std::fclose(f);
    }
  }

  std::string area_, what_, outcome_, counts_;
  long tries_ = 0;
};

// How many times a looped fault test repeats: `normal` in ./surge test, `soak` under ./surge soak
// (which sets SURGE_SOAK=1 and runs the looped tests alone, bounded in time).
inline int iterations(int normal, int soak) {
  const char* s = std::getenv("SURGE_SOAK");
  return s != nullptr && std::string_view(s) == "1" ? soak : normal;
}

}  // namespace surge::testing
