// Shared output helpers for CLI commands: text vs JSON, errors, exit codes.
#ifndef SIGNET_CLI_OUTPUT_H_
#define SIGNET_CLI_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace signet::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

enum class OutputFormat { kText, kJson };

// Prints "signet: <message>" to stderr and returns kExitError.
int Fail(const absl::Status& status);
// Prints `value` as one line of JSON to stdout.
void PrintJson(const nlohmann::json& value);
// RFC 3339 UTC.
std::string FormatRfc3339(absl::Time t);

}  // namespace signet::cli

#endif  // SIGNET_CLI_OUTPUT_H_
