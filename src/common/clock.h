// Clock: the only way logic reads the time, so that tests can control it.
//
// Thread-safe: every implementation may be called from any thread.
#ifndef SIGNET_COMMON_CLOCK_H_
#define SIGNET_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace signet {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real wall clock. RealClock() returns a process-wide instance that is never destroyed.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};
Clock& RealClock();

// A clock that moves only when told to. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override;
  void Set(absl::Time t);
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet

#endif  // SIGNET_COMMON_CLOCK_H_
