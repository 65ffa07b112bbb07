#include "src/agent/workload/snapshot_stream.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/time/clock.h"
#include "src/crypto/signature.h"

namespace signet::agent {

StreamHub::StreamHub(const SvidCache* cache, absl::Duration poll)
    : cache_(cache), poll_(poll), thread_([this] { Run(); }) {}

StreamHub::~StreamHub() { Stop(); }

void StreamHub::Stop() {
  std::vector<std::shared_ptr<Pokeable>> streams;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    streams.swap(streams_);
  }
  for (const auto& s : streams) s->End(absl::UnavailableError("the agent is shutting down"));
  cache_->WakeWaiters();  // after stopped_: see Run
  if (thread_.joinable()) thread_.join();
}

void StreamHub::Add(std::shared_ptr<Pokeable> stream) {
  // The first poke is made here, outside mu_: an event loop opening a stream never waits for a
  // sweep of every other stream.
  const uint64_t version = cache_->version();
  if (!stream->Poke()) return;
  bool stopped = false;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopped_;
    if (!stopped) streams_.push_back(stream);
  }
  if (stopped) {
    stream->End(absl::UnavailableError("the agent is shutting down"));
  } else if (cache_->version() != version) {
    stream->Poke();  // a change that the sweep in between may have missed
  }
}

size_t StreamHub::size() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void StreamHub::Run() {
  uint64_t seen = cache_->version();
  for (;;) {
    // The epoch is read before stopped_: a Stop in between wakes the wait below.
    const uint64_t epoch = cache_->wake_epoch();
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
    }
    seen = cache_->WaitForChange(seen, absl::Now() + poll_, epoch);
    // Poked outside mu_, from a copy, so that Add never waits for a sweep.
    std::vector<std::shared_ptr<Pokeable>> streams;
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      streams = streams_;
    }
    absl::flat_hash_set<const Pokeable*> over;
    for (const auto& s : streams) {
      if (!s->Poke()) over.insert(s.get());
    }
    if (over.empty()) continue;
    absl::MutexLock lock(&mu_);
    std::erase_if(streams_,
                  [&](const std::shared_ptr<Pokeable>& s) { return over.contains(s.get()); });
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
