// The pidfd protection with a real PID reuse: a caller connects to the agent's Workload API,
// exits, and its PID is given to another process (`sleep`, which an entry selects by path);
// the connection, kept open by the caller's child, must not be attested as that process.
// Runs alone (RUN_SERIAL): it steers the kernel's next PID through ns_last_pid (root).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/agent_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

std::string ExePath(pid_t pid) {
  char buf[PATH_MAX];
  ssize_t n = readlink(absl::StrCat("/proc/", pid, "/exe").c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Starts `sleep 30` under exactly `pid` (by setting ns_last_pid just before forking); -1 when
// another process took the PID first every time.
pid_t SpawnSleepAs(pid_t pid) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    FILE* f = std::fopen("/proc/sys/kernel/ns_last_pid", "w");
    if (f == nullptr) return -1;
    std::fprintf(f, "%d", pid - 1);
    std::fclose(f);
    const pid_t child = fork();
    if (child == 0) {
      execl("/usr/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (child == pid) return child;
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  return -1;
}

class PidReuseTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    StartWorkloadAgent();
  }

  void CreateEntry(const std::string& path, const std::string& selector) {
    std::string out;
    ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org", path,
                                 " --parent-id ", kAgentId, " --selector ", selector),
                    &out),
              0)
        << out;
  }

  // Runs the helper; returns its PID line's pid (the caller's) once printed.
  pid_t StartHelper(const std::string& mode, std::unique_ptr<Subprocess>* helper) {
    *helper = std::make_unique<Subprocess>(
        std::vector<std::string>{PID_REUSE_HELPER, SocketPath("w"), dir_.File("go-" + mode), mode},
        dir_.File("helper-" + mode + ".log"));
    pid_t pid = -1;
    WaitFor([&] {
      std::string log = (*helper)->Log();
      size_t at = log.find("PID ");
      return at != std::string::npos &&
             absl::SimpleAtoi(log.substr(at + 4, log.find('\n', at) - at - 4), &pid);
    });
    return pid;
  }
  std::string Result(Subprocess& helper) {
    WaitFor([&] { return helper.Log().find("RESULT ") != std::string::npos; });
    std::string log = helper.Log();
    size_t at = log.find("RESULT ");
    return at == std::string::npos ? log : log.substr(at);
  }
};

TEST_F(PidReuseTest, AReusedPidIsNeverAttestedAsTheProcessThatTookIt) {
  ASSERT_EQ(getuid(), 0u) << "steering PIDs needs root; CI runs this as root";
  const std::string sleep_path = "/usr/bin/sleep";
  CreateEntry("/sleeper", "unix:path:" + sleep_path);
  CreateEntry("/helper", "unix:path:" + std::string(PID_REUSE_HELPER));
  absl::SleepFor(absl::Milliseconds(500));  // the agent syncs and signs both

  // Control: a caller that stays alive is attested as itself, over the same kind of connection.
  std::unique_ptr<Subprocess> stay;
  ASSERT_GT(StartHelper("stay", &stay), 0) << stay->Log();
  WriteTestFile(dir_.File("go-stay"), "");
  EXPECT_EQ(Result(*stay), "RESULT 0 spiffe://example.org/helper\n") << agent_->Log();

  // The attack: the caller exits, `sleep` gets its PID, then the connection asks.
  std::unique_ptr<Subprocess> leave;
  const pid_t pid = StartHelper("exit", &leave);
  ASSERT_GT(pid, 0) << leave->Log();
  EXPECT_EQ(leave->Wait(absl::Seconds(10)), 0);  // reaped: the PID is free
  const pid_t sleeper = SpawnSleepAs(pid);
  ASSERT_EQ(sleeper, pid) << "could not hand PID " << pid << " to another process";
  ASSERT_TRUE(WaitFor([&] { return ExePath(pid) == sleep_path; })) << ExePath(pid);
  // /proc/<pid> now describes sleep, which the /sleeper entry selects by path.
  WriteTestFile(dir_.File("go-exit"), "");
  const std::string result = Result(*leave);
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  EXPECT_THAT(result, HasSubstr("RESULT 7 "));  // PERMISSION_DENIED
  EXPECT_THAT(result, HasSubstr("exited during attestation")) << agent_->Log();
  EXPECT_THAT(result, ::testing::Not(HasSubstr("sleeper")));
}

}  // namespace
}  // namespace signet
