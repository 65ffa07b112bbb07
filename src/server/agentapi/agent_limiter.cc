#include "src/server/agentapi/agent_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace signet::server {

AgentLimiter::Slot::~Slot() {
  if (owner_ != nullptr) owner_->Release();
}

AgentLimiter::Slot AgentLimiter::Acquire(absl::string_view agent, int svids) {
  absl::MutexLock lock(&mu_);
  if (in_flight_ >= limits_.max_concurrent_signing) {
    return Slot(nullptr, absl::UnavailableError(
                             "server busy: too many signing calls at once; retry with backoff"));
  }
  if (!agent.empty() && svids > 0 && !TakeTokens(agent, svids, clock_.Now())) {
    return Slot(nullptr,
                absl::UnavailableError(absl::StrCat(
                    "agent over its rate of ", limits_.svids_per_second,
                    " svids per second (burst ", limits_.svid_burst, "); retry with backoff")));
  }
  ++in_flight_;
  return Slot(this, absl::OkStatus());
}

void AgentLimiter::Release() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

int AgentLimiter::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

size_t AgentLimiter::tracked_agents() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

bool AgentLimiter::TakeTokens(absl::string_view agent, int count, absl::Time now) {
  if (buckets_.size() >= kMaxBuckets) PruneFullBuckets(now);
  auto [it, added] = buckets_.try_emplace(agent);
  Bucket& b = it->second;
  if (added) {
    b.tokens = limits_.svid_burst;
  } else {
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.updated));
    b.tokens = std::min<double>(limits_.svid_burst, b.tokens + elapsed * limits_.svids_per_second);
  }
  b.updated = now;
  if (b.tokens < count) return false;
  b.tokens -= count;
  return true;
}

void AgentLimiter::PruneFullBuckets(absl::Time now) {
  // A bucket that would be full by now behaves exactly like a missing one.
  const absl::Duration refill =
      absl::Seconds(static_cast<double>(limits_.svid_burst) / limits_.svids_per_second);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (now - it->second.updated >= refill) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace signet::server
