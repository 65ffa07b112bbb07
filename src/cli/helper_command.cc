// signet helper run -c helper.yaml: keeps SVID files on disk for software that reads TLS
// material from files (nginx, databases), the way spiffe-helper does. After every rotation it
// rewrites the files atomically and then runs a command and/or signals a process; JWT-SVIDs
// for configured audiences are written too and refreshed at half their lifetime.
//
//   agent_address: /run/signet/agent.sock   # else $SPIFFE_ENDPOINT_SOCKET, else the default
//   cert_dir: /etc/nginx/svid                # required; created
//   svid_file_name: svid.pem                 # 0644
//   svid_key_file_name: svid_key.pem         # 0600
//   svid_bundle_file_name: svid_bundle.pem   # 0644
//   cmd: /usr/sbin/nginx                     # run (to completion) after every update
//   cmd_args: "-s reload"                    # split on spaces
//   pid_file_name: /run/nginx.pid            # and/or signal this process ...
//   renew_signal: SIGHUP                     # ... with this signal
//   jwt_svids: [{audience: db, file_name: db.jwt}]   # 0600, in cert_dir
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "src/cli/admin_commands.h"
#include "src/cli/output.h"
#include "src/cli/workload_client.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/common/yaml_config.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::cli {
namespace {

struct JwtFile {
  std::string audience;
  std::string file_name;
};

struct HelperConfig {
  std::string agent_address;
  std::string cert_dir;
  X509FileNames names{.svid = "svid.pem", .key = "svid_key.pem", .bundle = "svid_bundle.pem"};
  std::string cmd;
  std::vector<std::string> cmd_args;
  std::string pid_file;
  int renew_signal = 0;
  std::vector<JwtFile> jwts;
};

bool PlainFileName(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

absl::StatusOr<HelperConfig> LoadHelperConfig(const std::string& path) {
  SIGNET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  HelperConfig c;
  std::string args;
  std::string signal_name;
  ConfigProblems problems = WalkConfig(text, {.source_name = path}, [&](ConfigMap& root) {
    root.GetString("agent_address", &c.agent_address);
    root.GetString("cert_dir", &c.cert_dir, Need::kRequired);
    for (auto [key, out] :
         {std::pair{"svid_file_name", &c.names.svid}, std::pair{"svid_key_file_name", &c.names.key},
          std::pair{"svid_bundle_file_name", &c.names.bundle}}) {
      if (root.GetString(key, out) && !PlainFileName(*out)) {
        root.AddProblem(key, "must be a file name without '/'");
      }
    }
    root.GetString("cmd", &c.cmd);
    if (root.GetString("cmd_args", &args) && root.Has("cmd_args") && c.cmd.empty()) {
      root.AddProblem("cmd_args", "only applies with cmd");
    }
    root.GetString("pid_file_name", &c.pid_file);
    root.GetEnum("renew_signal", &c.renew_signal,
                 {{"SIGHUP", SIGHUP},
                  {"SIGUSR1", SIGUSR1},
                  {"SIGUSR2", SIGUSR2},
                  {"SIGTERM", SIGTERM},
                  {"SIGINT", SIGINT}});
    if (c.pid_file.empty() != (c.renew_signal == 0)) {
      root.AddProblem("renew_signal", "pid_file_name and renew_signal go together");
    }
    root.GetList("jwt_svids", [&](ConfigValue& v) {
      JwtFile jwt;
      if (!v.node().IsMap() || !v.node()["audience"] || !v.node()["file_name"]) {
        v.AddProblem("needs audience and file_name");
        return;
      }
      jwt.audience = v.node()["audience"].as<std::string>("");
      jwt.file_name = v.node()["file_name"].as<std::string>("");
      if (jwt.audience.empty() || !PlainFileName(jwt.file_name)) {
        v.AddProblem("audience must not be empty and file_name must be a file name");
        return;
      }
      c.jwts.push_back(std::move(jwt));
    });
    root.ReportUnknownKeys();
  });
  SIGNET_RETURN_IF_ERROR(ProblemsToStatus(problems, path));
  c.cmd_args = absl::StrSplit(args, ' ', absl::SkipEmpty());
  return c;
}

// Runs cmd with its args and waits for it; logs how it ended.
void RunCommand(const HelperConfig& c) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(c.cmd.c_str()));
  for (const std::string& a : c.cmd_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // the helper blocks stop signals; its child not
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) < 0) {
    LogError("helper: cannot run cmd", {{"cmd", c.cmd}});
    return;
  }
  LogInfo("helper: cmd ran",
          {{"cmd", c.cmd}, {"exit_code", WIFEXITED(status) ? WEXITSTATUS(status) : -1}});
}

void SignalProcess(const HelperConfig& c) {
  absl::StatusOr<std::string> text = ReadFile(c.pid_file, 64);
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) {
    LogWarn("helper: no pid to signal", {{"pid_file_name", c.pid_file}});
    return;
  }
  if (kill(pid, c.renew_signal) != 0) {
    LogWarn("helper: cannot signal the process", {{"pid", pid}});
  }
}

// Fetches and writes each configured JWT-SVID; returns when the first of them should be
// refreshed (half its lifetime), or in 30 s after a failure; `*failed` tells whether one did.
absl::Time WriteJwts(const HelperConfig& c, bool* failed) {
  *failed = false;
  absl::Time next = absl::Now() + absl::Minutes(5);
  for (const JwtFile& jwt : c.jwts) {
    absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = WorkloadStub(c.agent_address);
    JWTSVIDRequest req;
    req.add_audience(jwt.audience);
    JWTSVIDResponse resp;
    absl::Status status = stub.ok() ? FromWorkloadGrpc((*stub)->FetchJWTSVID(
                                          WorkloadContext(absl::Seconds(10)).get(), req, &resp))
                                    : stub.status();
    if (status.ok() && resp.svids().empty()) status = absl::UnavailableError("no JWT-SVID");
    if (status.ok()) {
      status = WriteFileAtomic(c.cert_dir + "/" + jwt.file_name, resp.svids(0).svid(), 0600);
    }
    if (!status.ok()) {
      LogWarn("helper: cannot refresh a JWT-SVID", {{"audience", jwt.audience}, {"error", status}});
      *failed = true;
      next = std::min(next, absl::Now() + absl::Seconds(30));
      continue;
    }
    absl::StatusOr<spiffe::UnverifiedJwt> decoded =
        spiffe::DecodeJwtUnverified(resp.svids(0).svid());
    if (decoded.ok() && decoded->claims["exp"].is_number()) {
      const absl::Time exp = absl::FromUnixSeconds(decoded->claims["exp"].get<int64_t>());
      next = std::min(next, absl::Now() + (exp - absl::Now()) / 2);
    }
  }
  return std::max(next, absl::Now() + absl::Seconds(1));
}

int RunHelper(const std::string& config_path, bool once) {
  absl::StatusOr<HelperConfig> c = LoadHelperConfig(config_path);
  if (!c.ok()) return Fail(c.status());
  if (once) {
    absl::StatusOr<X509SVIDResponse> first = FirstX509(c->agent_address, absl::Seconds(30));
    if (!first.ok()) return Fail(first.status());
    absl::Status written = WriteX509Files(*first, c->cert_dir, c->names);
    if (!written.ok()) return Fail(written);
    bool failed = false;
    if (!c->jwts.empty()) WriteJwts(*c, &failed);
    if (failed) return Fail(absl::UnavailableError("helper: cannot fetch the JWT-SVIDs"));
    std::cout << "helper: wrote " << first->svids(0).spiffe_id() << " to " << c->cert_dir << "\n";
    return kExitOk;
  }
  InitLogging({});
  const sigset_t stop_signals = BlockStopSignals();
  absl::Notification stop;
  absl::Mutex live_mu;  // guards `live`, the open stream's context, for cancelling it
  grpc::ClientContext* live = nullptr;
  std::thread jwt_thread([&] {
    while (!c->jwts.empty() && !stop.HasBeenNotified()) {
      bool failed = false;
      const absl::Time next = WriteJwts(*c, &failed);
      stop.WaitForNotificationWithTimeout(next - absl::Now());
    }
  });
  std::thread x509_thread([&] {
    absl::Duration backoff = absl::Seconds(1);
    while (!stop.HasBeenNotified()) {
      absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub =
          WorkloadStub(c->agent_address);
      if (!stub.ok()) {
        LogError("helper: bad agent address", {{"error", stub.status()}});
        return;
      }
      auto ctx = WorkloadContext(absl::InfiniteDuration());
      {
        absl::MutexLock lock(&live_mu);
        if (stop.HasBeenNotified()) break;
        live = ctx.get();
      }
      auto reader = (*stub)->FetchX509SVID(ctx.get(), X509SVIDRequest());
      X509SVIDResponse resp;
      while (reader->Read(&resp)) {
        backoff = absl::Seconds(1);
        absl::Status written = WriteX509Files(resp, c->cert_dir, c->names);
        if (!written.ok()) {
          LogError("helper: cannot write the SVID files", {{"error", written}});
          continue;
        }
        LogInfo("helper: SVID files updated", {{"spiffe_id", resp.svids(0).spiffe_id()}});
        if (!c->cmd.empty()) RunCommand(*c);
        if (!c->pid_file.empty()) SignalProcess(*c);
      }
      absl::Status ended = FromWorkloadGrpc(reader->Finish());
      {
        absl::MutexLock lock(&live_mu);
        live = nullptr;
      }
      if (stop.HasBeenNotified()) break;
      LogWarn("helper: Workload API stream ended; reconnecting", {{"error", ended}});
      stop.WaitForNotificationWithTimeout(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(30));
    }
  });
  AwaitStopSignal(stop_signals);
  {
    absl::MutexLock lock(&live_mu);
    stop.Notify();
    if (live != nullptr) live->TryCancel();
  }
  x509_thread.join();
  jwt_thread.join();
  return kExitOk;
}

}  // namespace

void RegisterHelperCommands(CLI::App& app, int* exit_code) {
  CLI::App* helper = app.add_subcommand(
      "helper", "Keep SVID files on disk for software that reads TLS material from files");
  helper->require_subcommand(1);
  auto config = std::make_shared<std::string>();
  auto once = std::make_shared<bool>(false);
  CLI::App* run = helper->add_subcommand(
      "run", "Write the SVID files, then rewrite them and run cmd / signal on every rotation");
  run->add_option("-c,--config", *config, "Path to helper.yaml")->required();
  run->add_flag("--once", *once, "Write the files once and exit (init containers, cron)");
  run->callback([=] { *exit_code = RunHelper(*config, *once); });
}

}  // namespace signet::cli
