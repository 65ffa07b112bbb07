// AgentLimiter: the agent API's overload protection. Two limits, both answered at once with
// Unavailable (agents retry with exponential backoff and jitter) rather than by queueing:
//   - a global cap on calls doing signing work at the same time (attest, renew, batch signing,
//     JWT signing), so that a thousand agents reconnecting together cannot pile up unbounded
//     work and memory;
//   - a token bucket per agent on the SVIDs it asks for (a batch of N costs N), so that one
//     agent cannot starve the others.
// Time comes from the injected Clock. The per-agent buckets are bounded: buckets idle long
// enough to be full again are dropped when the table grows. Thread-safe.
#ifndef SIGNET_SERVER_AGENTAPI_AGENT_LIMITER_H_
#define SIGNET_SERVER_AGENTAPI_AGENT_LIMITER_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/server/config/server_config.h"

namespace signet::server {

class AgentLimiter {
 public:
  AgentLimiter(const AgentLimits& limits, const Clock& clock) : limits_(limits), clock_(clock) {}

  // A slot of signing work, held for the duration of a call. Check ok() first.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), status_(std::move(other.status_)) {
      other.owner_ = nullptr;
    }
    ~Slot();
    const absl::Status& status() const { return status_; }
    bool ok() const { return status_.ok(); }

   private:
    friend class AgentLimiter;
    Slot(AgentLimiter* owner, absl::Status status) : owner_(owner), status_(std::move(status)) {}
    AgentLimiter* owner_;  // null when the slot was refused
    absl::Status status_;
  };

  // A slot for a call of `agent` that will sign `svids` SVIDs ("" and 0 for calls that are not
  // an agent's or sign nothing per item). Unavailable when the server is at its concurrency
  // limit or the agent is over its rate.
  Slot Acquire(absl::string_view agent, int svids);

  int in_flight() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many agents have a bucket (at most kMaxBuckets plus those not yet refilled).
  size_t tracked_agents() const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr size_t kMaxBuckets = 100000;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  void Release() ABSL_LOCKS_EXCLUDED(mu_);
  bool TakeTokens(absl::string_view agent, int count, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PruneFullBuckets(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AgentLimits limits_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_AGENTAPI_AGENT_LIMITER_H_
