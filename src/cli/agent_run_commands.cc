// `signet agent run|validate -c agent.yaml`: the agent process and its config check.
#include <malloc.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/agent/agent.h"
#include "src/agent/agent_config.h"
#include "src/cli/admin_commands.h"
#include "src/cli/output.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"

namespace signet::cli {
namespace {

struct AgentRunFlags {
  std::string config_path;
  std::string data_dir;
  bool expand_env = false;
  std::string attest_timeout = "30s";
  OutputFormat output = OutputFormat::kText;
};

int AgentValidate(const AgentRunFlags& f) {
  auto text = ReadFile(f.config_path, kMaxConfigBytes);
  if (!text.ok()) return Fail(text.status());
  ConfigOptions options{.source_name = f.config_path, .expand_env = f.expand_env};
  return ReportConfigProblems(agent::ValidateAgentConfig(*text, options), f.config_path, f.output);
}

int AgentRun(const AgentRunFlags& f) {
  auto config = agent::LoadAgentConfigFile(
      f.config_path, ConfigOptions{.source_name = f.config_path, .expand_env = f.expand_env});
  if (!config.ok()) return Fail(config.status());
  absl::Duration attest_timeout;
  if (!absl::ParseDuration(f.attest_timeout, &attest_timeout) ||
      attest_timeout < absl::ZeroDuration()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--attest-timeout: not a duration: \"", f.attest_timeout, "\"")));
  }
  InitLogging({.level = config->log_level, .format = config->log_format});
  // The agent runs on every node: two malloc arenas instead of one per thread (gRPC has many)
  // keep its memory small; its allocations are short and not contended enough to need more.
  mallopt(M_ARENA_MAX, 2);
  const sigset_t stop_signals = BlockStopSignals();
  auto agent = agent::SignetAgent::Start(*config, RealClock(), attest_timeout);
  if (!agent.ok()) {
    LogError("agent failed to start", {{"error", agent.status()}});
    return Fail(agent.status());
  }
  LogInfo("agent ready",
          {{"agent_id", (*agent)->agent_id()}, {"server_address", config->server_address}});
  AwaitStopSignal(stop_signals);
  (*agent)->Shutdown();
  return kExitOk;
}

// Reads the running agent's status.json. Exit 0 when the agent holds an SVID and reaches its
// server, 1 otherwise (or when there is no status), so that it can serve as a health check.
int AgentStatus(const AgentRunFlags& f) {
  absl::StatusOr<std::string> text = ReadFile(f.data_dir + "/status.json", 1 << 20);
  if (!text.ok()) {
    return Fail(absl::NotFoundError(absl::StrCat("no agent status in ", f.data_dir,
                                                 " (is `signet agent run` using this data_dir?)")));
  }
  nlohmann::json status = nlohmann::json::parse(*text, nullptr, false);
  if (!status.is_object()) return Fail(absl::DataLossError("status.json: not a json object"));
  const bool healthy = status.value("attested", false) && status.value("server_reachable", false);
  if (f.output == OutputFormat::kJson) {
    PrintJson(status);
  } else {
    std::cout << "agent id:         " << status.value("agent_id", "") << "\n"
              << "attested:         " << (status.value("attested", false) ? "yes" : "no") << "\n"
              << "server reachable: " << (status.value("server_reachable", false) ? "yes" : "no")
              << "\n"
              << "svid expires at:  "
              << FormatRfc3339(absl::FromUnixSeconds(status.value("svid_expires_at", 0))) << "\n"
              << "entries:          " << status.value("entries", 0) << "\n"
              << "cached svids:     " << status.value("svids", 0) << "\n"
              << "sync revision:    " << status.value("revision", 0) << "\n";
    const std::string error = status.value("last_error", "");
    if (!error.empty()) std::cout << "last error:       " << error << "\n";
  }
  return healthy ? kExitOk : kExitError;
}

}  // namespace

void RegisterAgentRunCommands(CLI::App* agent, int* exit_code) {
  auto f = std::make_shared<AgentRunFlags>();
  CLI::App* run = agent->add_subcommand(
      "run", "Run this node's agent until SIGTERM or SIGINT (attests, renews, syncs entries)");
  run->add_option("-c,--config", f->config_path, "Path to agent.yaml")->required();
  run->add_flag("--expand-env", f->expand_env, "Substitute ${VAR} in the config file");
  run->add_option("--attest-timeout", f->attest_timeout,
                  "How long to keep retrying an unreachable server before giving up (default 30s)");
  run->callback([=] { *exit_code = AgentRun(*f); });

  CLI::App* validate = agent->add_subcommand(
      "validate", "Check an agent config file; print every problem with its line number");
  validate->add_option("-c,--config", f->config_path, "Path to agent.yaml")->required();
  validate->add_flag("--expand-env", f->expand_env, "Substitute ${VAR} in the config file");
  AddOutputFlag(validate, &f->output);
  validate->callback([=] { *exit_code = AgentValidate(*f); });

  CLI::App* status = agent->add_subcommand(
      "status", "Show what the local agent holds; exit 1 unless attested and reaching its server");
  status->add_option("--data-dir", f->data_dir, "The agent's data_dir")->required();
  AddOutputFlag(status, &f->output);
  status->callback([=] { *exit_code = AgentStatus(*f); });
}

}  // namespace signet::cli
