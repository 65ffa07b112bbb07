#include "src/agent/workload/snapshot_stream.h"

namespace signet::agent {

StreamHub::StreamHub(const SvidCache* cache, absl::Duration poll)
    : cache_(cache), poll_(poll), thread_([this] { Run(); }) {}

StreamHub::~StreamHub() { Stop(); }

void StreamHub::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    for (Pokeable* s : streams_) {
      s->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the agent is shutting down"));
    }
  }
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void StreamHub::Add(Pokeable* stream) {
  absl::MutexLock lock(&mu_);
  streams_.insert(stream);
}

void StreamHub::Remove(Pokeable* stream) {
  absl::MutexLock lock(&mu_);
  streams_.erase(stream);
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
    for (Pokeable* s : streams_) s->Poke();
  }
}

}  // namespace signet::agent
