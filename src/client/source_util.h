// What X509Source and JwtSource share: waiting for the first update, and saying why a stream
// ended.
#ifndef SIGNET_CLIENT_SOURCE_UTIL_H_
#define SIGNET_CLIENT_SOURCE_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
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

}  // namespace signet::client

#endif  // SIGNET_CLIENT_SOURCE_UTIL_H_
