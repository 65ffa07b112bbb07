// `signet helper run` against a real agent and server: SVID files written with their modes,
// rewritten on rotation with a command run and a process signalled, JWT-SVIDs to files.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/agent_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

class HelperCliTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    StartWorkloadAgent();
  }
  void Entry(const std::string& extra = "") {
    std::string out;
    ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org/web --parent-id ",
                                 kAgentId, " --selector unix:uid:", getuid(), " ", extra),
                    &out),
              0)
        << out;
  }
  std::string Config(const std::string& extra) {
    const std::string path = dir_.File("helper.yaml");
    WriteTestFile(path, absl::StrCat("agent_address: ", SocketPath("w"),
                                     "\ncert_dir: ", dir_.File("certs"), "\n", extra));
    return path;
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
  }
};

TEST_F(HelperCliTest, OnceWritesTheFilesWithTheirModesAndExits) {
  Entry();
  const std::string config = Config("jwt_svids:\n  - audience: db\n    file_name: db.jwt\n");
  std::string out;
  ASSERT_TRUE(WaitFor(
      [&] {
        return RunCommand(absl::StrCat(SIGNET_BINARY, " helper run --once -c ", config, " 2>&1"),
                          &out) == 0;
      },
      absl::Seconds(10)))
      << out;
  EXPECT_THAT(out, HasSubstr("wrote spiffe://example.org/web"));
  const std::string certs = dir_.File("certs");
  EXPECT_EQ(Mode(certs + "/svid.pem"), 0644u);
  EXPECT_EQ(Mode(certs + "/svid_key.pem"), 0600u);
  EXPECT_EQ(Mode(certs + "/svid_bundle.pem"), 0644u);
  EXPECT_EQ(Mode(certs + "/db.jwt"), 0600u) << "a JWT-SVID is a bearer credential";
  EXPECT_EQ(RunCommand(absl::StrCat("openssl verify -x509_strict -CAfile ", certs,
                                    "/svid_bundle.pem ", certs, "/svid.pem 2>&1"),
                       &out),
            0)
      << out;
  absl::StatusOr<std::string> jwt = ReadFile(certs + "/db.jwt");
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(std::count(jwt->begin(), jwt->end(), '.'), 2);
}

TEST_F(HelperCliTest, EveryRotationRewritesTheFilesRunsTheCommandAndSignals) {
  Entry("--x509-svid-ttl 10s");
  // The command appends a line per update; the "server" is a sleep that SIGHUP ends.
  const std::string script = dir_.File("reload.sh");
  WriteTestFile(script, absl::StrCat("#!/bin/sh\necho reloaded >> ", dir_.File("reloads"), "\n"));
  chmod(script.c_str(), 0755);
  Subprocess server({"/usr/bin/sleep", "60"}, dir_.File("sleep.log"));
  WriteTestFile(dir_.File("server.pid"), std::to_string(server.pid()));
  const std::string config = Config(absl::StrCat(
      "cmd: ", script, "\npid_file_name: ", dir_.File("server.pid"), "\nrenew_signal: SIGHUP\n"));
  Subprocess helper({SIGNET_BINARY, "helper", "run", "-c", config}, dir_.File("helper.log"));
  // The first write signals the process (SIGHUP ends a sleep).
  EXPECT_EQ(server.Wait(absl::Seconds(15)), 128 + SIGHUP) << helper.Log();
  // A rotation (10 s TTL: about every 5 s) runs the command again.
  EXPECT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::string> lines = ReadFile(dir_.File("reloads"));
        return lines.ok() && std::count(lines->begin(), lines->end(), '\n') >= 2;
      },
      absl::Seconds(15)))
      << helper.Log();
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat("openssl verify -x509_strict -CAfile ", dir_.File("certs"),
                                    "/svid_bundle.pem ", dir_.File("certs"), "/svid.pem 2>&1"),
                       &out),
            0)
      << out;
  helper.Signal(SIGTERM);
  EXPECT_EQ(helper.Wait(), 0) << helper.Log();
}

TEST_F(HelperCliTest, ConfigProblemsAreNamed) {
  const std::string config =
      Config("svid_file_name: ../x.pem\ncmd_args: -s reload\nrenew_signal: SIGHUP\ncolour: red\n");
  std::string out;
  EXPECT_EQ(
      RunCommand(absl::StrCat(SIGNET_BINARY, " helper run --once -c ", config, " 2>&1"), &out), 1);
  EXPECT_THAT(out, HasSubstr("svid_file_name: must be a file name"));
  EXPECT_THAT(out, HasSubstr("cmd_args: only applies with cmd"));
  EXPECT_THAT(out, HasSubstr("pid_file_name and renew_signal go together"));
  EXPECT_THAT(out, HasSubstr("unknown key \"colour\""));
}

}  // namespace
}  // namespace signet
