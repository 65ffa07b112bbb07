// Error-propagation macros for absl::Status / absl::StatusOr.
//
//   SIGNET_RETURN_IF_ERROR(DoThing());
//   SIGNET_ASSIGN_OR_RETURN(auto value, ComputeValue());
#ifndef SIGNET_COMMON_STATUS_MACROS_H_
#define SIGNET_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define SIGNET_STATUS_CONCAT_INNER_(a, b) a##b
#define SIGNET_STATUS_CONCAT_(a, b) SIGNET_STATUS_CONCAT_INNER_(a, b)

#define SIGNET_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status signet_status_ = (expr);          \
    if (!signet_status_.ok()) return signet_status_; \
  } while (false)

#define SIGNET_ASSIGN_OR_RETURN(lhs, expr) \
  SIGNET_ASSIGN_OR_RETURN_IMPL_(SIGNET_STATUS_CONCAT_(signet_statusor_, __LINE__), lhs, expr)

#define SIGNET_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

namespace signet {

// Returns `status` with `prefix + ": "` prepended to its message, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view prefix);

}  // namespace signet

#endif  // SIGNET_COMMON_STATUS_MACROS_H_
