// signet dev: a server (SQLite) and an agent (join token) in one process, for trying Signet on
// one machine. Everything lives under the data dir (config files, datastore, CA keys, sockets),
// so several dev instances can run side by side and a second run resumes the first.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/agent/agent.h"
#include "src/agent/agent_config.h"
#include "src/cli/admin_commands.h"
#include "src/cli/output.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/config/server_config.h"
#include "src/server/datastore/datastore.h"
#include "src/server/server.h"
#include "src/spiffe/bundle.h"

namespace signet::cli {
namespace {

struct DevFlags {
  std::string data_dir = ".signet-dev";
  std::string trust_domain = "example.org";
  OutputFormat output = OutputFormat::kText;
};

absl::StatusOr<std::string> Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return absl::InternalError("getcwd failed");
  return absl::StrCat(cwd, "/", path);
}

struct Dev {
  std::string dir;
  std::string admin_socket;
  std::string workload_socket;
  std::string agent_id;
  std::unique_ptr<server::SignetServer> server;
  std::unique_ptr<agent::SignetAgent> agent;
};

absl::Status StartServer(const DevFlags& f, Dev& dev) {
  const std::string yaml =
      absl::StrCat("# Written by signet dev; edited copies are overwritten on the next run.\n",
                   "trust_domain: ", f.trust_domain, "\ndata_dir: ", dev.dir,
                   "/server\nadmin_socket: ", dev.admin_socket,
                   "\nbind_address: 127.0.0.1:0\nnode_attestors:\n  join_token: {}\n");
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dev.dir + "/server.yaml", yaml, 0644));
  SIGNET_ASSIGN_OR_RETURN(server::ServerConfig config,
                          server::LoadServerConfigFile(dev.dir + "/server.yaml", {}));
  SIGNET_ASSIGN_OR_RETURN(dev.server, server::SignetServer::Start(config));
  return absl::OkStatus();
}

absl::Status StartAgent(const DevFlags& f, Dev& dev) {
  // A fresh token every run: used only when the agent has nothing to resume from (its SVID
  // expired while dev was stopped); unused ones expire.
  SIGNET_ASSIGN_OR_RETURN(std::string token, server::NewJoinTokenValue());
  SIGNET_RETURN_IF_ERROR(dev.server->store().CreateJoinToken(
      {.token = token, .spiffe_id = dev.agent_id, .expires_at = absl::Now() + absl::Minutes(10)}));
  std::shared_ptr<const spiffe::Bundle> bundle = dev.server->ca().Bundle();
  if (bundle == nullptr) return absl::InternalError("the server has no bundle");
  SIGNET_ASSIGN_OR_RETURN(std::string pem, spiffe::X509AuthoritiesToPem(*bundle));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dev.dir + "/bundle.pem", pem, 0644));
  const std::string yaml =
      absl::StrCat("# Written by signet dev.\ntrust_domain: ", f.trust_domain,
                   "\nserver_address: 127.0.0.1:", dev.server->tcp_port(), "\ndata_dir: ", dev.dir,
                   "/agent\nsocket_path: ", dev.workload_socket, "\ntrust_bundle_path: ", dev.dir,
                   "/bundle.pem\nnode_attestor:\n  join_token:\n    token: ", token,
                   // sha256 on: entries may name a binary by its digest (unix:sha256:...).
                   "\nworkload_attestors:\n  unix:\n    sha256: true\n");
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dev.dir + "/agent.yaml", yaml, 0600));
  SIGNET_ASSIGN_OR_RETURN(agent::AgentConfig config,
                          agent::LoadAgentConfigFile(dev.dir + "/agent.yaml", {}));
  SIGNET_ASSIGN_OR_RETURN(dev.agent, agent::SignetAgent::Start(config));
  return absl::OkStatus();
}

void PrintReady(const DevFlags& f, const Dev& dev) {
  const std::string address = absl::StrCat("127.0.0.1:", dev.server->tcp_port());
  if (f.output == OutputFormat::kJson) {
    std::cout << nlohmann::json{{"trust_domain", f.trust_domain},
                                {"data_dir", dev.dir},
                                {"admin_socket", dev.admin_socket},
                                {"workload_socket", dev.workload_socket},
                                {"agent_id", dev.agent_id},
                                {"server_address", address}}
                     .dump()
              << std::endl;
    return;
  }
  std::cout << "signet dev is running (Ctrl-C to stop)\n"
            << "  trust domain:     " << f.trust_domain << "\n"
            << "  server:           " << address << "\n"
            << "  admin socket:     " << dev.admin_socket << "\n"
            << "  agent:            " << dev.agent_id << "\n"
            << "  workload socket:  " << dev.workload_socket << "\n\n"
            << "Next steps, in another terminal:\n"
            << "  signet entry create --socket " << dev.admin_socket << " \\\n"
            << "      --spiffe-id spiffe://" << f.trust_domain << "/my-service --parent-id "
            << dev.agent_id << " --selector unix:uid:$(id -u)\n"
            << "  signet fetch x509 --socket " << dev.workload_socket << " --write ./svid\n"
            << "  signet fetch jwt --socket " << dev.workload_socket << " --audience my-api\n"
            << std::flush;
}

int RunDev(const DevFlags& f) {
  absl::StatusOr<spiffe::TrustDomain> td = spiffe::TrustDomain::Parse(f.trust_domain);
  if (!td.ok()) return Fail(td.status());
  absl::StatusOr<std::string> dir = Absolute(f.data_dir);
  if (!dir.ok()) return Fail(dir.status());
  Dev dev{.dir = *dir,
          .admin_socket = *dir + "/admin.sock",
          .workload_socket = *dir + "/agent.sock",
          .agent_id = absl::StrCat("spiffe://", td->name(), "/signet/agent/dev")};
  if (dev.workload_socket.size() > server::kMaxUnixSocketPath) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--data-dir: ", dev.dir, " is too long for the sockets inside it (at most ",
                     server::kMaxUnixSocketPath - 10, " bytes); choose a shorter one")));
  }
  if (mkdir(dev.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(absl::FailedPreconditionError(absl::StrCat("cannot create ", dev.dir)));
  }
  InitLogging({.level = LogLevel::kWarn});
  const sigset_t stop_signals = BlockStopSignals();
  absl::Status started = StartServer(f, dev);
  if (started.ok()) started = StartAgent(f, dev);
  if (!started.ok()) {
    if (dev.agent != nullptr) dev.agent->Shutdown();
    if (dev.server != nullptr) dev.server->Shutdown(absl::Seconds(5));
    return Fail(started);
  }
  PrintReady(f, dev);
  AwaitStopSignal(stop_signals);
  dev.agent->Shutdown();
  dev.server->Shutdown(absl::Seconds(10));
  if (f.output == OutputFormat::kText) std::cout << "signet dev stopped\n";
  return kExitOk;
}

}  // namespace

void RegisterDevCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<DevFlags>();
  CLI::App* dev = app.add_subcommand(
      "dev", "Run a server and an agent together on this machine, for development");
  dev->add_option("--data-dir", f->data_dir,
                  "Where everything lives (configs, datastore, CA, sockets); a second run "
                  "resumes from it")
      ->capture_default_str();
  dev->add_option("--trust-domain", f->trust_domain, "The trust domain")->capture_default_str();
  AddOutputFlag(dev, &f->output);
  dev->callback([=] { *exit_code = RunDev(*f); });
}

}  // namespace signet::cli
