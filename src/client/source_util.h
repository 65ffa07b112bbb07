// What X509Source and JwtSource share: a watched stream with its last good state and
// subscribers, waiting for the first update, and saying why a stream ended.
#ifndef SIGNET_CLIENT_SOURCE_UTIL_H_
#define SIGNET_CLIENT_SOURCE_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "signet/workload.h"
#include "src/client/stream_watcher.h"

namespace signet::client {

inline std::string DescribeEnd(const grpc::Status& status) {
  if (status.ok()) return "the Workload API ended the stream";
  return absl::StrCat("the Workload API answered code ", static_cast<int>(status.error_code()),
                      ": ", status.error_message());
}

// Waits until `updates` > 0 (guarded by `mu`) for options.first_update_timeout; Unavailable
// with `last_error` otherwise.
inline absl::Status AwaitFirst(absl::Mutex& mu, const uint64_t& updates,
                               const std::string& last_error, const SourceOptions& options,
                               const char* what) {
  absl::MutexLock lock(&mu);
  const absl::Duration timeout = absl::FromChrono(options.first_update_timeout);
  if (mu.AwaitWithTimeout(absl::Condition(
                              +[](const uint64_t* n) { return *n > 0; }, &updates),
                          timeout)) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("no ", what, " from the Workload API within ",
                                             absl::FormatDuration(timeout), ": ", last_error));
}

// A source's update callbacks. Publish and Add are serialized, so a new subscriber gets the
// current value and then every later one, none missed and none twice out of order.
template <typename T>
class Subscribers {
 public:
  using Callback = std::function<void(const T&)>;

  // Calls `callback` with `current()` (when it has a value) on the calling thread, then
  // registers it; later calls come from the publishing thread.
  int Add(Callback callback, const std::function<std::optional<T>()>& current)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (std::optional<T> now = current(); now.has_value()) callback(*now);
    const int handle = next_++;
    callbacks_.emplace(handle, std::move(callback));
    return handle;
  }
  void Remove(int handle) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    callbacks_.erase(handle);
  }
  // Runs `commit` (which makes `value` current), then every callback with `value`.
  void Publish(const T& value, const std::function<void()>& commit) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    commit();
    for (auto& [handle, callback] : callbacks_) callback(value);
  }

 private:
  absl::Mutex mu_;  // held while callbacks run: they must not call Add or Remove
  int next_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<int, Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

// One watched Workload API stream and what a source keeps from it: the last good State (each
// message converted, a message that does not convert ignored), how many have arrived, why the
// stream last ended, and the subscribers. The stream runs on a StreamWatcher.
template <typename Response, typename State>
class WatchedStream {
 public:
  using Open =
      std::function<std::unique_ptr<grpc::ClientReaderInterface<Response>>(grpc::ClientContext*)>;
  using Convert = std::function<absl::StatusOr<State>(const Response&)>;

  WatchedStream(const SourceOptions& options, Open open, Convert convert)
      : options_(options),
        open_(std::move(open)),
        convert_(std::move(convert)),
        watcher_(options.min_backoff, options.max_backoff,
                 [this](grpc::ClientContext* ctx) { return Session(ctx); }) {}
  ~WatchedStream() { watcher_.Stop(); }

  // Starts watching; waits for the first State (`what` names it in the error).
  absl::Status Start(const char* what) {
    watcher_.Start();
    return AwaitFirst(mu_, updates_, last_error_, options_, what);
  }
  // `f(current, last_error)` under the lock.
  template <typename F>
  auto With(F&& f) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return f(current_, last_error_);
  }
  int Subscribe(std::function<void(const State&)> callback) {
    return subscribers_.Add(std::move(callback), [this]() -> std::optional<State> {
      absl::MutexLock lock(&mu_);
      if (updates_ == 0) return std::nullopt;
      return current_;
    });
  }
  void Unsubscribe(int handle) { subscribers_.Remove(handle); }
  uint64_t updates() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return updates_;
  }

 private:
  bool Session(grpc::ClientContext* ctx) ABSL_LOCKS_EXCLUDED(mu_) {
    bool delivered = false;
    std::unique_ptr<grpc::ClientReaderInterface<Response>> reader = open_(ctx);
    Response resp;
    while (reader->Read(&resp)) {
      absl::StatusOr<State> state = convert_(resp);
      if (!state.ok()) {  // keep the last good one; the next message may be fine
        absl::MutexLock lock(&mu_);
        last_error_ = absl::StrCat("a bad message was ignored: ", state.status().message());
        continue;
      }
      delivered = true;
      subscribers_.Publish(*state, [&] {
        absl::MutexLock lock(&mu_);
        current_ = *state;
        ++updates_;
      });
    }
    const grpc::Status status = reader->Finish();
    absl::MutexLock lock(&mu_);
    last_error_ = DescribeEnd(status);
    return delivered;
  }

  const SourceOptions options_;
  const Open open_;
  const Convert convert_;
  mutable absl::Mutex mu_;
  State current_ ABSL_GUARDED_BY(mu_);
  uint64_t updates_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_) = "not connected yet";
  Subscribers<State> subscribers_;  // taken before mu_
  StreamWatcher watcher_;           // last: stopped before the members it uses go
};

}  // namespace signet::client

#endif  // SIGNET_CLIENT_SOURCE_UTIL_H_
