// What a server said, shown when the test that ran it has failed: its folder (and log) is removed
// when the test ends, so this is the last chance to see why.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

namespace surge::testing {

inline void printLogIfTestFailed(const std::string& log_path, size_t tail_bytes = 4000) {
  if (!::testing::Test::HasFailure()) return;
  std::ifstream log(log_path);
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  if (text.size() > tail_bytes) text = "..." + text.substr(text.size() - tail_bytes);
  std::fprintf(stderr, "--- %s ---\n%s\n", log_path.c_str(), text.c_str());
}

}  // namespace surge::testing
