// Workload API streams on gRPC's callback API: no thread per open stream. A SnapshotStream is
// one caller's stream of full snapshots; a StreamHub holds every open one and, from a single
// notifier thread, pokes them all whenever the SVID cache changes (and every `poll`, for expiry
// and first-message deadlines). A poke rebuilds the caller's message and writes it only when it
// differs from the last one sent.
#ifndef SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_
#define SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/agent/workload/svid_cache.h"
#include "src/crypto/signature.h"

namespace signet::agent {

// What the hub needs from a stream.
class Pokeable {
 public:
  virtual ~Pokeable() = default;
  // Rebuilds and, when it changed, writes the caller's snapshot; or finishes the stream.
  virtual void Poke() = 0;
  // Ends the stream with `status` (server shutdown).
  virtual void End(const grpc::Status& status) = 0;
};

class StreamHub {
 public:
  StreamHub(const SvidCache* cache, absl::Duration poll);
  ~StreamHub();  // Stop()s
  // Ends every stream with Unavailable and stops the notifier. Idempotent.
  void Stop();

  void Add(Pokeable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(Pokeable* stream) ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run();

  const SvidCache* cache_;
  const absl::Duration poll_;
  absl::Notification stop_;
  // Held while poking, so a stream cannot be removed (and deleted) during its poke.
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Pokeable*> streams_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One caller's stream. `build` turns the caller's current view into the message: an error
// status ends the stream, false means "nothing to send yet". Deletes itself when done.
template <typename Response>
class SnapshotStream final : public grpc::ServerWriteReactor<Response>, public Pokeable {
 public:
  using Builder = std::function<absl::StatusOr<bool>(Response*)>;

  // Starts the stream: registers it with `hub` and sends the first message if there is one.
  // `first_deadline`: without a message by then, the stream ends with Unavailable.
  static void Start(StreamHub* hub, Builder build, absl::Time first_deadline,
                    SnapshotStream** out) {
    *out = new SnapshotStream(hub, std::move(build), first_deadline);
    hub->Add(*out);
    (*out)->Poke();
  }
  // A stream that ends at once with `status` (the call was refused).
  static SnapshotStream* Refused(const grpc::Status& status) {
    auto* s = new SnapshotStream(nullptr, nullptr, absl::InfinitePast());
    s->End(status);
    return s;
  }

  void Poke() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (writing_) {
      pending_ = true;
      return;
    }
    Response message;
    absl::StatusOr<bool> built = build_(&message);
    if (!built.ok()) {
      FinishLocked(grpc::Status(static_cast<grpc::StatusCode>(built.status().code()),
                                std::string(built.status().message())));
      return;
    }
    if (!*built) {
      if (!sent_any_ && absl::Now() >= first_deadline_) {
        FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "the workload's SVID is not available yet; retry"));
      }
      return;
    }
    // Identical snapshots are not sent again; a digest is kept, not the bytes.
    std::string digest = crypto::Sha256(message.SerializeAsString());
    if (digest == last_) return;
    last_ = std::move(digest);
    message_ = std::move(message);
    writing_ = true;
    sent_any_ = true;
    this->StartWrite(&message_);
  }

  void End(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    FinishLocked(status);
  }

  void OnWriteDone(bool ok) override {
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      message_ = Response();  // the written message is not needed any more
      if (!ok) {              // the client went away
        FinishLocked(grpc::Status::CANCELLED);
        return;
      }
      again = pending_;
      pending_ = false;
    }
    if (again) Poke();
  }
  void OnCancel() override { End(grpc::Status::CANCELLED); }
  void OnDone() override {
    if (hub_ != nullptr) hub_->Remove(this);
    delete this;
  }

 private:
  SnapshotStream(StreamHub* hub, Builder build, absl::Time first_deadline)
      : hub_(hub), build_(std::move(build)), first_deadline_(first_deadline) {}

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  StreamHub* const hub_;
  const Builder build_;
  const absl::Time first_deadline_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_any_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_ ABSL_GUARDED_BY(mu_);  // SHA-256 of the last message sent
  Response message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_SNAPSHOT_STREAM_H_
