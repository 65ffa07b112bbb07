#include "src/server/agentapi/agent_limiter.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::server {
namespace {

using ::testing::HasSubstr;

class AgentLimiterTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
};

TEST_F(AgentLimiterTest, ConcurrentSigningIsCapped) {
  AgentLimiter limiter({.max_concurrent_signing = 2, .svids_per_second = 100, .svid_burst = 100},
                       clock_);
  std::optional<AgentLimiter::Slot> a(limiter.Acquire("", 0));
  std::optional<AgentLimiter::Slot> b(limiter.Acquire("spiffe://td/signet/agent/x", 1));
  ASSERT_TRUE(a->ok());
  ASSERT_TRUE(b->ok());
  EXPECT_EQ(limiter.in_flight(), 2);
  AgentLimiter::Slot refused = limiter.Acquire("", 0);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("too many signing calls"));
  EXPECT_EQ(limiter.in_flight(), 2) << "a refused slot holds nothing";
  a.reset();
  EXPECT_EQ(limiter.in_flight(), 1);
  EXPECT_TRUE(limiter.Acquire("", 0).ok());
  EXPECT_EQ(limiter.in_flight(), 1) << "released at the end of the statement";
}

TEST_F(AgentLimiterTest, EachAgentHasItsOwnBucket) {
  AgentLimiter limiter({.max_concurrent_signing = 10, .svids_per_second = 10, .svid_burst = 50},
                       clock_);
  EXPECT_TRUE(limiter.Acquire("a", 50).ok());
  AgentLimiter::Slot over = limiter.Acquire("a", 1);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(over.status().message(), HasSubstr("10 svids per second (burst 50)"));
  EXPECT_TRUE(limiter.Acquire("b", 50).ok()) << "another agent is not affected";
  // Refill: 10 per second.
  clock_.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter.Acquire("a", 5).ok());
  EXPECT_FALSE(limiter.Acquire("a", 1).ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_TRUE(limiter.Acquire("a", 50).ok()) << "refills up to the burst";
  EXPECT_FALSE(limiter.Acquire("a", 1).ok()) << "and no more than the burst";
  // A batch larger than the burst can never pass.
  EXPECT_FALSE(limiter.Acquire("c", 51).ok());
  // Calls that sign nothing per item are only counted against the concurrency cap.
  EXPECT_TRUE(limiter.Acquire("a", 0).ok());
}

TEST_F(AgentLimiterTest, ManyAgentsDoNotGrowTheTableWithoutBound) {
  AgentLimiter limiter({.max_concurrent_signing = 10, .svids_per_second = 1000, .svid_burst = 1},
                       clock_);
  for (int i = 0; i < 250000; ++i) {
    ASSERT_TRUE(limiter.Acquire(absl::StrCat("agent-", i), 1).ok()) << i;
    if (i % 1000 == 999) clock_.Advance(absl::Seconds(1));
  }
  EXPECT_LE(limiter.tracked_agents(), AgentLimiter::kMaxBuckets);
  // Pruning drops only full buckets: an agent that just spent its burst is still limited.
  ASSERT_TRUE(limiter.Acquire("last", 1).ok());
  EXPECT_FALSE(limiter.Acquire("last", 1).ok());
}

}  // namespace
}  // namespace signet::server
