// StreamWatcher: keeps one Workload API stream open from its own thread. `session` opens the
// stream on the given context and returns when it ends, true if it delivered anything; after it
// ends the watcher waits (exponential backoff with jitter, reset by a session that delivered) and
// opens it again, until Stop().
#ifndef SIGNET_CLIENT_STREAM_WATCHER_H_
#define SIGNET_CLIENT_STREAM_WATCHER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace signet::client {

class StreamWatcher {
 public:
  using Session = std::function<bool(grpc::ClientContext* ctx)>;

  StreamWatcher(std::chrono::milliseconds min_backoff, std::chrono::milliseconds max_backoff,
                Session session);
  ~StreamWatcher();  // Stop()s

  void Start();
  // Cancels the open stream and joins the thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  const std::chrono::milliseconds min_backoff_;
  const std::chrono::milliseconds max_backoff_;
  const Session session_;
  absl::Notification stop_;
  absl::Mutex mu_;
  grpc::ClientContext* open_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_STREAM_WATCHER_H_
