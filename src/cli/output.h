// Shared output helpers for CLI commands: text vs JSON, errors, exit codes.
#ifndef SIGNET_CLI_OUTPUT_H_
#define SIGNET_CLI_OUTPUT_H_

#include <signal.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/common/yaml_config.h"

namespace CLI {
class App;
}  // namespace CLI

namespace signet::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

enum class OutputFormat { kText, kJson };

// Adds "-o,--output text|json" to `cmd`, stored in `*format`.
void AddOutputFlag(CLI::App* cmd, OutputFormat* format);

// Prints "signet: <message>" to stderr and returns kExitError.
int Fail(const absl::Status& status);
// Prints `value` as one line of JSON to stdout.
void PrintJson(const nlohmann::json& value);
// RFC 3339 UTC.
std::string FormatRfc3339(absl::Time t);

// What `server validate` and `agent validate` print for the problems found in `path` (JSON
// {"valid", "problems"} or one line per problem); the exit code.
int ReportConfigProblems(const ConfigProblems& problems, const std::string& path,
                         OutputFormat output);

// Blocks SIGTERM and SIGINT in the calling thread (call before any thread starts, so that every
// thread inherits the mask), for AwaitStopSignal.
sigset_t BlockStopSignals();
// Waits for one of them; logs which and returns.
void AwaitStopSignal(const sigset_t& signals);

}  // namespace signet::cli

#endif  // SIGNET_CLI_OUTPUT_H_
