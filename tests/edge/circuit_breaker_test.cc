// The circuit between an edge and a failing origin, on a clock the test moves.
#include "surge/edge/circuit_breaker.h"

#include <gtest/gtest.h>

namespace surge::edge {
namespace {

using Role = CircuitBreaker::Role;
using std::chrono::milliseconds;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  int64_t now_ = 1'000'000;
  CircuitBreaker circuit_{[this] { return now_; }};
  CircuitBreaker::Options options_{milliseconds(250), milliseconds(5000), milliseconds(5000)};

  // admit(): as what the next request goes, or kOps for "shed".
  Role next(int64_t* retry_after = nullptr) {
    int64_t r = 0;
    Role role = Role::kOps;
    bool admitted = circuit_.admit(options_, r, role);
    if (retry_after != nullptr) *retry_after = r;
    return admitted ? role : Role::kOps;
  }
  void failures(int n) {
    for (int i = 0; i < n; ++i)
      circuit_.failed(options_, Role::kNormal);
  }
};

TEST_F(CircuitBreakerTest, OpensAfterFiveFailuresInARowNotBefore) {
  failures(CircuitBreaker::kTripAfter - 1);
  EXPECT_EQ(next(), Role::kNormal);
  circuit_.succeeded(Role::kNormal);  // a success resets the count
  failures(CircuitBreaker::kTripAfter - 1);
  EXPECT_EQ(next(), Role::kNormal);
  failures(1);
  int64_t retry_after = 0;
  EXPECT_EQ(next(&retry_after), Role::kOps) << "shed while open";
  EXPECT_EQ(retry_after, 1);  // 250 ms left: one whole second
}

TEST_F(CircuitBreakerTest, HalfOpenLetsOneProbeThroughAndItsOutcomeDecides) {
  failures(CircuitBreaker::kTripAfter);
  now_ += 250;  // the backoff is over: half-open
  EXPECT_EQ(next(), Role::kProbe);
  EXPECT_EQ(next(), Role::kOps) << "one probe at a time";
  // The probe fails: open again for twice as long.
  circuit_.failed(options_, Role::kProbe);
  now_ += 499;
  EXPECT_EQ(next(), Role::kOps);
  now_ += 1;
  EXPECT_EQ(next(), Role::kProbe);
  // The probe succeeds: closed.
  circuit_.succeeded(Role::kProbe);
  EXPECT_EQ(next(), Role::kNormal);
  EXPECT_EQ(next(), Role::kNormal);
}

TEST_F(CircuitBreakerTest, BackoffDoublesUpToItsTop) {
  failures(CircuitBreaker::kTripAfter);
  int64_t backoff = 250;
  for (int i = 0; i < 8; ++i) {
    now_ += backoff;
    ASSERT_EQ(next(), Role::kProbe) << i;
    circuit_.failed(options_, Role::kProbe);
    backoff = std::min<int64_t>(backoff * 2, 5000);
    int64_t retry_after = 0;
    EXPECT_EQ(next(&retry_after), Role::kOps);
    EXPECT_EQ(retry_after, (backoff + 999) / 1000) << i;
  }
  EXPECT_EQ(backoff, 5000);
}

TEST_F(CircuitBreakerTest, LateOutcomesAndOperatorTrafficChangeNothing) {
  failures(CircuitBreaker::kTripAfter);
  // Timeouts of exchanges admitted before it opened: one failure, not more doublings.
  failures(10);
  now_ += 250;
  EXPECT_EQ(next(), Role::kProbe);
  // A late success of a normal exchange is not the probe's.
  circuit_.succeeded(Role::kNormal);
  EXPECT_EQ(next(), Role::kOps);
  // The dashboard's scrapes neither open nor close it.
  circuit_.succeeded(Role::kOps);
  EXPECT_EQ(next(), Role::kOps);
  circuit_.succeeded(Role::kProbe);
  for (int i = 0; i < 20; ++i)
    circuit_.failed(options_, Role::kOps);
  EXPECT_EQ(next(), Role::kNormal);
}

TEST_F(CircuitBreakerTest, AProbeThatNeverReportsIsReplacedAfterItsExpiry) {
  failures(CircuitBreaker::kTripAfter);
  now_ += 250;
  EXPECT_EQ(next(), Role::kProbe);
  now_ += 4999;
  EXPECT_EQ(next(), Role::kOps);
  now_ += 1;
  EXPECT_EQ(next(), Role::kProbe);
}

}  // namespace
}  // namespace surge::edge
