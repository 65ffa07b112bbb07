// Admin CLI commands (talk to a running server over its admin socket) and `signet server`.
// Each Register* adds a subcommand whose callback stores its exit code in `*exit_code`.
#ifndef SIGNET_CLI_ADMIN_COMMANDS_H_
#define SIGNET_CLI_ADMIN_COMMANDS_H_

#include "CLI/CLI.hpp"

namespace signet::cli {

void RegisterEntryCommands(CLI::App& app, int* exit_code);
// `agent list|show|evict|ban` and `token generate`.
void RegisterAgentCommands(CLI::App& app, int* exit_code);
// `agent run` and `agent validate` (the agent process), under the `agent` command.
void RegisterAgentRunCommands(CLI::App* agent, int* exit_code);
// Adds show|set|list|delete to the existing `bundle` command.
void RegisterBundleAdminCommands(CLI::App& app, int* exit_code);
// `x509 mint`, adds `mint` to the existing `jwt` command, `authority`, `audit list`,
// `healthcheck`.
void RegisterSvidAdminCommands(CLI::App& app, int* exit_code);
// `server run|validate`.
void RegisterServerCommands(CLI::App& app, int* exit_code);
// signet dev (dev_command.cc): a server and an agent in one process.
void RegisterDevCommand(CLI::App& app, int* exit_code);
// signet helper run (helper_command.cc): SVID files on disk, refreshed on rotation.
void RegisterHelperCommands(CLI::App& app, int* exit_code);
void RegisterProxyCommands(CLI::App& app, int* exit_code);

}  // namespace signet::cli

#endif  // SIGNET_CLI_ADMIN_COMMANDS_H_
