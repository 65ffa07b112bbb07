// The core-library commands of the `signet` binary: version, id, bundle inspect, jwt inspect,
// demo. Each Register* adds a subcommand to `app` whose callback stores its exit code in `*exit`.
#ifndef SIGNET_CLI_CORE_COMMANDS_H_
#define SIGNET_CLI_CORE_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace signet::cli {

void RegisterVersionCommand(CLI::App& app, int* exit_code);
void RegisterIdCommands(CLI::App& app, int* exit_code);
void RegisterBundleCommands(CLI::App& app, int* exit_code);
void RegisterJwtCommands(CLI::App& app, int* exit_code);
void RegisterDemoCommand(CLI::App& app, int* exit_code);
// Workload API clients (workload_commands.cc): fetch x509|jwt|jwt-bundle, validate jwt, watch.
void RegisterWorkloadCommands(CLI::App& app, int* exit_code);

}  // namespace signet::cli

#endif  // SIGNET_CLI_CORE_COMMANDS_H_
