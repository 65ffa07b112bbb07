// signet server run|validate
#include <signal.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/cli/admin_commands.h"
#include "src/cli/output.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/server/config/server_config.h"
#include "src/server/nodeattestor/node_attestor.h"
#include "src/server/server.h"

namespace signet::cli {
namespace {

struct ServerFlags {
  std::string config_path;
  bool expand_env = false;
  OutputFormat output = OutputFormat::kText;
};

int ServerValidate(const ServerFlags& f) {
  auto text = ReadFile(f.config_path, kMaxConfigBytes);
  if (!text.ok()) return Fail(text.status());
  ConfigOptions options{.source_name = f.config_path, .expand_env = f.expand_env};
  server::ServerConfig config(*spiffe::TrustDomain::Parse("unset.invalid"));
  ConfigProblems problems = server::ValidateServerConfig(*text, options, &config);
  if (problems.empty()) {
    // Each plugin checks its own keys (and files) when it is created.
    problems = server::ValidateNodeAttestorConfigs(config.node_attestors, config.trust_domain);
  }
  return ReportConfigProblems(problems, f.config_path, f.output);
}

int ServerRun(const ServerFlags& f) {
  auto config = server::LoadServerConfigFile(
      f.config_path, ConfigOptions{.source_name = f.config_path, .expand_env = f.expand_env});
  if (!config.ok()) return Fail(config.status());
  InitLogging({.level = config->log_level, .format = config->log_format});
  const sigset_t stop_signals = BlockStopSignals();
  auto server = server::SignetServer::Start(*config);
  if (!server.ok()) {
    LogError("server failed to start", {{"error", server.status()}});
    return Fail(server.status());
  }
  AwaitStopSignal(stop_signals);
  (*server)->Shutdown(absl::Seconds(10));
  return kExitOk;
}

}  // namespace

void RegisterServerCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ServerFlags>();
  CLI::App* server = app.add_subcommand("server", "Run or check a Signet server");
  server->require_subcommand(1);

  CLI::App* run = server->add_subcommand(
      "run", "Run the server until SIGTERM or SIGINT (then stop gracefully)");
  run->add_option("-c,--config", f->config_path, "Path to server.yaml")->required();
  run->add_flag("--expand-env", f->expand_env, "Substitute ${VAR} in the config file");
  run->callback([=] { *exit_code = ServerRun(*f); });

  CLI::App* validate = server->add_subcommand(
      "validate", "Check a config file; print every problem with its line number");
  validate->add_option("-c,--config", f->config_path, "Path to server.yaml")->required();
  validate->add_flag("--expand-env", f->expand_env, "Substitute ${VAR} in the config file");
  AddOutputFlag(validate, &f->output);
  validate->callback([=] { *exit_code = ServerValidate(*f); });
}

}  // namespace signet::cli
