#include "src/common/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace signet {
namespace {

TEST(WorkerPoolTest, RunsEverythingSubmittedOnAtMostMaxThreads) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(3, 1000);
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(pool.Submit([&] { done.fetch_add(1); }));
    EXPECT_LE(pool.threads(), 3u);
  }  // the destructor runs what is queued
  EXPECT_EQ(done.load(), 200);
}

TEST(WorkerPoolTest, AFullQueueRefusesMoreWork) {
  absl::Notification started;
  absl::Notification release;
  WorkerPool pool(1, 2);
  ASSERT_TRUE(pool.Submit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the only thread is busy from now on
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_TRUE(pool.Submit([] {}));
  EXPECT_FALSE(pool.Submit([] {}));  // two queued: full
  release.Notify();
}

TEST(WorkerPoolTest, ThreadsStartOnlyWhenThereIsWork) {
  WorkerPool pool(4, 10);
  EXPECT_EQ(pool.threads(), 0u);
  absl::Notification ran;
  ASSERT_TRUE(pool.Submit([&] { ran.Notify(); }));
  ran.WaitForNotification();
  EXPECT_EQ(pool.threads(), 1u);
}

TEST(WorkerPoolTest, StopRunsWhatIsQueuedThenRefuses) {
  std::atomic<int> done{0};
  WorkerPool pool(1, 100);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(pool.Submit([&] { done.fetch_add(1); }));
  pool.Stop();
  EXPECT_EQ(done.load(), 20);
  EXPECT_FALSE(pool.Submit([] {}));
  pool.Stop();  // idempotent
}

}  // namespace
}  // namespace signet
