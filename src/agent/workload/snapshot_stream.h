// Workload API and SDS streams: no thread per open stream. A StreamHub holds every open stream
// and, from a single notifier thread, pokes them all whenever the SVID cache changes (and every
// `poll`, for expiry and first-message deadlines). A poke rebuilds the caller's message and
// writes it only when it differs from the last one sent. A stream whose call is over is dropped
// at the next poke.
#ifndef SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_
#define SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/agent/workload/svid_cache.h"
#include "src/rpc/h2/grpc_server.h"

namespace signet::agent {

// What the hub needs from a stream.
class Pokeable {
 public:
  virtual ~Pokeable() = default;
  // Rebuilds and, when it changed, writes the caller's snapshot; or finishes the stream.
  // False once the stream is over (the hub then lets go of it).
  virtual bool Poke() = 0;
  // Ends the stream with `status` (agent shutdown).
  virtual void End(const absl::Status& status) = 0;
};

class StreamHub {
 public:
  StreamHub(const SvidCache* cache, absl::Duration poll);
  ~StreamHub();  // Stop()s
  // Ends every stream with Unavailable and stops the notifier. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Holds `stream` and pokes it at once. After Stop, ends it with Unavailable instead.
  void Add(std::shared_ptr<Pokeable> stream) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  const SvidCache* cache_;
  const absl::Duration poll_;
  mutable absl::Mutex mu_;  // guards the list only: pokes run outside it
  std::vector<std::shared_ptr<Pokeable>> streams_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One caller's stream of full snapshots. `build` turns the caller's current view into the
// serialized message: an error status ends the stream, nullopt means "nothing to send yet".
class SnapshotStream final : public Pokeable {
 public:
  using Builder = std::function<absl::StatusOr<std::optional<std::string>>()>;

  // `first_deadline`: without a message by then, the stream ends with Unavailable.
  SnapshotStream(std::shared_ptr<rpc::h2::Call> call, Builder build, absl::Time first_deadline)
      : call_(std::move(call)), build_(std::move(build)), first_deadline_(first_deadline) {}

  bool Poke() override ABSL_LOCKS_EXCLUDED(mu_);
  void End(const absl::Status& status) override { call_->Finish(status); }

 private:
  const std::shared_ptr<rpc::h2::Call> call_;
  const Builder build_;
  const absl::Time first_deadline_;
  absl::Mutex mu_;  // one poke at a time (the hub's, or the first one from a worker)
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_ ABSL_GUARDED_BY(mu_);  // SHA-256 of the last message sent
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_
