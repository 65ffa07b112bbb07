#include "src/agent/workload/snapshot_stream.h"

#include <utility>

#include "absl/time/clock.h"
#include "src/crypto/signature.h"

namespace signet::agent {

StreamHub::StreamHub(const SvidCache* cache, absl::Duration poll)
    : cache_(cache), poll_(poll), thread_([this] { Run(); }) {}

StreamHub::~StreamHub() { Stop(); }

void StreamHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (const auto& s : streams_) s->End(absl::UnavailableError("the agent is shutting down"));
    streams_.clear();
  }
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void StreamHub::Add(std::shared_ptr<Pokeable> stream) {
  absl::MutexLock lock(&mu_);
  if (stopped_) {
    stream->End(absl::UnavailableError("the agent is shutting down"));
    return;
  }
  if (stream->Poke()) streams_.push_back(std::move(stream));
}

size_t StreamHub::size() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void StreamHub::Run() {
  uint64_t seen = cache_->version();
  while (!stop_.HasBeenNotified()) {
    seen = cache_->WaitForChange(seen, absl::Now() + poll_);
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    std::erase_if(streams_, [](const std::shared_ptr<Pokeable>& s) { return !s->Poke(); });
  }
}

bool SnapshotStream::Poke() {
  absl::MutexLock lock(&mu_);
  if (call_->done()) return false;
  absl::StatusOr<std::optional<std::string>> built = build_();
  if (!built.ok()) {
    call_->Finish(built.status());
    return false;
  }
  if (!built->has_value()) {
    if (!sent_any_ && absl::Now() >= first_deadline_) {
      call_->Finish(absl::UnavailableError("the workload's SVID is not available yet; retry"));
      return false;
    }
    return true;
  }
  // Identical snapshots are not sent again; a digest is kept, not the bytes.
  std::string digest = crypto::Sha256(**built);
  if (digest == last_) return true;
  last_ = std::move(digest);
  sent_any_ = true;
  return call_->Write(**std::move(built));
}

}  // namespace signet::agent
