#include "src/cli/output.h"

#include <pthread.h>

#include <iostream>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "src/common/logging.h"

namespace signet::cli {

void AddOutputFlag(CLI::App* cmd, OutputFormat* format) {
  cmd->add_option("-o,--output", *format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, OutputFormat>{{"text", OutputFormat::kText},
                                              {"json", OutputFormat::kJson}},
          CLI::ignore_case));
}

int Fail(const absl::Status& status) {
  std::cerr << "signet: " << status.message() << "\n";
  return kExitError;
}

void PrintJson(const nlohmann::json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

int ReportConfigProblems(const ConfigProblems& problems, const std::string& path,
                         OutputFormat output) {
  if (output == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const ConfigProblem& p : problems) {
      list.push_back({{"line", p.line}, {"key", p.path}, {"message", p.message}});
    }
    PrintJson({{"valid", problems.empty()}, {"problems", list}});
  } else if (problems.empty()) {
    std::cout << path << ": configuration is valid\n";
  } else {
    for (const ConfigProblem& p : problems) std::cerr << p.ToString(path) << "\n";
    std::cerr << "signet: " << problems.size() << (problems.size() == 1 ? " problem" : " problems")
              << " in " << path << "\n";
  }
  return problems.empty() ? kExitOk : kExitError;
}

sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void AwaitStopSignal(const sigset_t& signals) {
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogInfo("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"}});
}

}  // namespace signet::cli
