// The in-flight cap on requests to origin and the Retry-After of what it sheds.
#include "surge/edge/inflight_cap.h"

#include <gtest/gtest.h>

namespace surge::edge {
namespace {

// ---------------------------------------------------------------------------------------------
// backlogRetryAfter

TEST(BacklogRetryAfterTest, NothingShedIsOneSecond) {
  EXPECT_EQ(backlogRetryAfter(0, 0, 0), 1);
  EXPECT_EQ(backlogRetryAfter(0, 500, 0), 1);
  EXPECT_EQ(backlogRetryAfter(0, 500, 0.99), 1);  // 1.495 s: whole seconds, rounded down
}

TEST(BacklogRetryAfterTest, GrowsWithTheShedPerAnswer) {
  // 3,000 shed while origin answered 1,500: the shed come back over 3 s, not 1.
  EXPECT_EQ(backlogRetryAfter(3000, 1500, 0), 3);
  EXPECT_EQ(backlogRetryAfter(3000, 1500, 0.5), 3);   // 3.75
  EXPECT_EQ(backlogRetryAfter(3000, 1500, 0.99), 4);  // 4.485
  EXPECT_EQ(backlogRetryAfter(100, 1000, 0), 1);      // a few shed: still 1
  EXPECT_EQ(backlogRetryAfter(1000, 1000, 0), 2);
}

TEST(BacklogRetryAfterTest, NothingAnsweredCountsAsOneAnswerAndTheTopIsTenSeconds) {
  EXPECT_EQ(backlogRetryAfter(3, 0, 0), 4);
  EXPECT_EQ(backlogRetryAfter(1000, 0, 0), kMaxShedRetryAfter);
  EXPECT_EQ(backlogRetryAfter(UINT64_MAX, 1, 0.99), kMaxShedRetryAfter);
  EXPECT_EQ(backlogRetryAfter(17, 2, 0.99), kMaxShedRetryAfter);  // 9.5 * 1.495
}

class InflightCapTest : public ::testing::Test {
 protected:
  base::MetricsRegistry metrics_;
  base::Counter& answered_ = metrics_.counter("test_answered_total", "answers");
  int64_t now_ = 1'000'000;
  InflightCap cap_{metrics_, answered_, [this] { return now_; }, [] { return 0.0; }};
  bool enter(size_t max, int64_t* retry_after = nullptr) {
    int64_t r = 0;
    bool ok = cap_.enter(max, r);
    if (retry_after != nullptr) *retry_after = r;
    return ok;
  }
  std::string metric(const std::string& name) {
    std::string text = metrics_.render();
    size_t at = text.find("\n" + name + " ");
    return at == std::string::npos
               ? ""
               : text.substr(at + name.size() + 2, text.find('\n', at + 1) - at - name.size() - 2);
  }
};

TEST_F(InflightCapTest, AdmitsUpToTheCapAndAPlaceGivenBackIsTakenAgain) {
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(enter(3)) << i;
  EXPECT_FALSE(enter(3));
  EXPECT_EQ(cap_.inflight(), 3u);
  EXPECT_EQ(metric("surge_edge_origin_inflight"), "3");
  cap_.leave();
  EXPECT_TRUE(enter(3));
  // Turned away after entering (origin failing): the place is back and it counts as shed.
  cap_.shedAfterEntering();
  EXPECT_EQ(cap_.inflight(), 2u);
  EXPECT_EQ(metric("surge_edge_origin_shed_total"), "2");
}

TEST_F(InflightCapTest, RetryAfterFollowsTheLastSecondsBacklog) {
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(enter(2));
  int64_t retry_after = 0;
  EXPECT_FALSE(enter(2, &retry_after));
  EXPECT_EQ(retry_after, 1) << "no full window yet";
  // Within the next second: 2,999 more shed while origin answered 1,000.
  now_ += 10;
  for (int i = 0; i < 2999; ++i)
    enter(2);
  answered_.add(1000);
  now_ += 1000;
  // The window rolls at this shed: 3,000 shed per 1,000 answers -> 1 + 3 = 4 s.
  EXPECT_FALSE(enter(2, &retry_after));
  EXPECT_EQ(retry_after, 4);
  EXPECT_EQ(metric("surge_edge_origin_shed_retry_after_seconds"), "4");
  // A quiet second later (one shed, origin answering): back to 1.
  answered_.add(1000);
  now_ += 1000;
  EXPECT_FALSE(enter(2, &retry_after));
  EXPECT_EQ(retry_after, 1);
}

}  // namespace
}  // namespace surge::edge
