// What X509Source and JwtSource share: waiting for the first update, and saying why a stream
// ended.
#ifndef SIGNET_CLIENT_SOURCE_UTIL_H_
#define SIGNET_CLIENT_SOURCE_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

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

}  // namespace signet::client

#endif  // SIGNET_CLIENT_SOURCE_UTIL_H_
