// The `signet` command: flag parsing and wiring only.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "src/cli/admin_commands.h"
#include "src/cli/core_commands.h"
#include "src/cli/output.h"

int main(int argc, char** argv) {
#ifdef NDEBUG
  // Debian builds Abseil with its debug checks on, so every absl::Mutex acquisition updates a
  // lock-order graph (~1 % of the agent's CPU on cached Workload API calls). Builds without
  // NDEBUG (the dev and sanitizer presets) keep the check; release builds turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  CLI::App app{
      "signet: workload identity for services, containers, VMs, CI jobs and AI agents.\n"
      "Implements SPIFFE: X.509 and JWT SVIDs, trust bundles and the Workload API.",
      "signet"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  int exit_code = signet::cli::kExitOk;
  signet::cli::RegisterVersionCommand(app, &exit_code);
  signet::cli::RegisterIdCommands(app, &exit_code);
  signet::cli::RegisterBundleCommands(app, &exit_code);
  signet::cli::RegisterJwtCommands(app, &exit_code);
  signet::cli::RegisterDemoCommand(app, &exit_code);
  signet::cli::RegisterWorkloadCommands(app, &exit_code);
  signet::cli::RegisterServerCommands(app, &exit_code);
  signet::cli::RegisterDevCommand(app, &exit_code);
  signet::cli::RegisterHelperCommands(app, &exit_code);
  signet::cli::RegisterProxyCommands(app, &exit_code);
  signet::cli::RegisterEntryCommands(app, &exit_code);
  signet::cli::RegisterAgentCommands(app, &exit_code);
  signet::cli::RegisterBundleAdminCommands(app, &exit_code);
  signet::cli::RegisterSvidAdminCommands(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? signet::cli::kExitOk : signet::cli::kExitUsage;
  }
  return exit_code;
}
