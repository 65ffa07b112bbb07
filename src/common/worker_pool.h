// WorkerPool: a few threads for work that may block (attestation that asks Docker or the
// kubelet, a JWT-SVID the server must sign), so that event loops never wait on it.
//
// Threads start on demand, up to `max_threads`; the queue is bounded, and work beyond it is
// refused (Submit returns false) rather than queued without end. Thread-safe.
#ifndef SIGNET_COMMON_WORKER_POOL_H_
#define SIGNET_COMMON_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace signet {

class WorkerPool {
 public:
  WorkerPool(size_t max_threads, size_t max_queued);
  ~WorkerPool();  // Stop()s

  // Refuses new work, runs what is queued, and joins the threads. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `work`; false when the queue is full or the pool is stopping.
  bool Submit(std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);
  size_t threads() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_threads_;
  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet

#endif  // SIGNET_COMMON_WORKER_POOL_H_
