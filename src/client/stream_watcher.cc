#include "src/client/stream_watcher.h"

#include <algorithm>
#include <random>

#include "absl/time/time.h"
#include "src/client/endpoint.h"

namespace signet::client {

StreamWatcher::StreamWatcher(std::chrono::milliseconds min_backoff,
                             std::chrono::milliseconds max_backoff, Session session)
    : min_backoff_(std::max(min_backoff, std::chrono::milliseconds(1))),
      max_backoff_(std::max(max_backoff, min_backoff_)),
      session_(std::move(session)) {}

StreamWatcher::~StreamWatcher() { Stop(); }

void StreamWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void StreamWatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (open_ != nullptr) open_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void StreamWatcher::Run() {
  std::mt19937_64 rng(std::random_device{}());
  std::chrono::milliseconds backoff = min_backoff_;
  while (!stop_.HasBeenNotified()) {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kSecurityHeader, "true");
    {
      absl::MutexLock lock(&mu_);
      if (stop_.HasBeenNotified()) return;
      open_ = &ctx;
    }
    const bool delivered = session_(&ctx);
    {
      absl::MutexLock lock(&mu_);
      open_ = nullptr;
    }
    if (delivered) backoff = min_backoff_;
    // Full jitter in [backoff/2, backoff]: clients that lost the agent together do not all
    // come back in the same millisecond.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    stop_.WaitForNotificationWithTimeout(absl::Milliseconds(jitter(rng)));
    backoff = std::min(backoff * 2, max_backoff_);
  }
}

}  // namespace signet::client
