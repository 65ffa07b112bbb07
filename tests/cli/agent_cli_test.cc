// `signet agent run` against `signet server run`: both real processes on loopback, administered
// with the real admin commands. The agent's status.json shows what it holds.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/file_util.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/certificate.h"
#include "src/spiffe/bundle.h"
#include "tests/cli/agent_cli_fixture.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::TempDir;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

TEST_F(AgentCliTest, JoinTokenAgentAttestsAndSeesNewEntriesWithinASecond) {
  auto agent = StartAgent("a", AgentConfig("a", Token()));
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << agent->Log();
  EXPECT_EQ(Status("a")["agent_id"], kAgentId);
  nlohmann::json node = AdminJson(absl::StrCat("agent show --spiffe-id ", kAgentId));
  EXPECT_EQ(node["attestation_type"], "join_token") << node.dump();
  EXPECT_EQ(EntryCount("a"), 0);
  std::string shown;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " agent status --data-dir ",
                                    dir_.File("agent-a"), " 2>&1"),
                       &shown),
            0)
      << shown;
  EXPECT_THAT(shown, HasSubstr("server reachable: yes"));
  EXPECT_NE(RunCommand(absl::StrCat(SIGNET_BINARY, " agent status --data-dir ",
                                    dir_.File("nowhere"), " 2>&1"),
                       &shown),
            0);
  EXPECT_THAT(shown, HasSubstr("no agent status"));

  const absl::Time created = absl::Now();
  std::string out;
  ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org/web --parent-id ",
                               kAgentId, " --selector unix:uid:1000"),
                  &out),
            0)
      << out;
  ASSERT_TRUE(WaitFor([&] { return EntryCount("a") == 1; }, absl::Seconds(5))) << agent->Log();
  EXPECT_LT(absl::Now() - created, absl::Seconds(1)) << "entry create -> agent cache";
  // Its key is private to it, its SVID and bundle are there for its own restarts.
  struct stat st {};
  ASSERT_EQ(stat(dir_.File("agent-a/agent_key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(stat(dir_.File("agent-a/agent_svid.pem").c_str(), &st), 0);

  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait(), 0) << agent->Log();
}

TEST_F(AgentCliTest, UsedAndExpiredTokensAreRefused) {
  const std::string token = Token();
  auto first = StartAgent("a", AgentConfig("a", token));
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << first->Log();
  // The same token for a second node: refused, the process says why and exits 1.
  auto second = StartAgent("b", AgentConfig("b", token));
  EXPECT_EQ(second->Wait(), 1) << second->Log();
  EXPECT_THAT(second->Log(), HasSubstr("unknown, used or expired token"));
  // An expired token.
  const std::string short_lived = AdminJson("token generate --ttl 1")["token"];
  absl::SleepFor(absl::Milliseconds(2100));
  auto third = StartAgent("c", AgentConfig("c", short_lived));
  EXPECT_EQ(third->Wait(), 1) << third->Log();
  EXPECT_THAT(third->Log(), HasSubstr("expired"));
}

TEST_F(AgentCliTest, BannedAgentIsCutOffWithinTwoSeconds) {
  auto agent = StartAgent("a", AgentConfig("a", Token()));
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << agent->Log();
  const absl::Time banned = absl::Now();
  std::string out;
  ASSERT_EQ(Admin(absl::StrCat("agent ban --spiffe-id ", kAgentId), &out), 0) << out;
  ASSERT_TRUE(WaitFor([&] { return Status("a")["server_reachable"] == false; }, absl::Seconds(5)))
      << agent->Log();
  EXPECT_LT(absl::Now() - banned, absl::Seconds(2));
  EXPECT_THAT(Status("a")["last_error"].get<std::string>(), HasSubstr("banned"));
  EXPECT_THAT(agent->Log(), HasSubstr("refuses this agent"));
}

TEST_F(AgentCliTest, RestartResumesWithoutAttestingAndEvictionIsFinalForJoinTokens) {
  const std::string config = AgentConfig("a", Token());
  auto agent = StartAgent("a", config);
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << agent->Log();
  agent->Signal(SIGTERM);
  ASSERT_EQ(agent->Wait(), 0) << agent->Log();
  // The token is spent; the agent comes back on its stored SVID.
  std::remove(dir_.File("agent-a/status.json").c_str());  // the last run's
  agent = StartAgent("a", config);
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("resumed with the stored svid"));

  // Evicted: its calls are refused, and with its state gone it cannot attest again.
  std::string out;
  ASSERT_EQ(Admin(absl::StrCat("agent evict --spiffe-id ", kAgentId), &out), 0) << out;
  ASSERT_TRUE(WaitFor([&] { return Status("a")["server_reachable"] == false; }, absl::Seconds(5)))
      << agent->Log();
  agent->Signal(SIGTERM);
  ASSERT_EQ(agent->Wait(), 0) << agent->Log();
  for (const char* file : {"agent_svid.pem", "agent_key.pem", "bundle.pem"}) {
    std::remove(dir_.File(absl::StrCat("agent-a/", file)).c_str());
  }
  agent = StartAgent("a", config);
  EXPECT_EQ(agent->Wait(), 1) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("used"));
}

TEST_F(AgentCliTest, X509PopAgentAttestsAndComesBackByItselfAfterEviction) {
  std::string config = AgentConfig("x", "unused");
  absl::StatusOr<std::string> text = ReadFile(config);
  ASSERT_TRUE(text.ok());
  std::string yaml = *text;
  const std::string join = "  join_token:\n    token: unused\n";
  yaml.replace(yaml.find(join), join.size(),
               absl::StrCat("  x509pop:\n    certificate_path: ", dir_.File("node.pem"),
                            "\n    private_key_path: ", dir_.File("node.key"), "\n"));
  WriteTestFile(config, yaml);
  auto agent = StartAgent("x", config);
  ASSERT_TRUE(WaitFor([&] { return Attested("x"); })) << agent->Log();
  const std::string id =
      absl::StrCat("spiffe://example.org/signet/agent/x509pop/", node_fingerprint_);
  EXPECT_EQ(Status("x")["agent_id"], id);
  nlohmann::json node = AdminJson(absl::StrCat("agent show --spiffe-id ", id));
  EXPECT_EQ(node["attestation_type"], "x509pop") << node.dump();
  std::string out;
  ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org/web --parent-id ", id,
                               " --selector unix:uid:1000"),
                  &out),
            0)
      << out;
  ASSERT_TRUE(WaitFor([&] { return EntryCount("x") == 1; })) << agent->Log();

  ASSERT_EQ(Admin(absl::StrCat("agent evict --spiffe-id ", id), &out), 0) << out;
  // The agent notices (its stream is refused), attests again with its certificate and is back.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string shown;
        return Admin(absl::StrCat("agent show --spiffe-id ", id), &shown) == 0 && Attested("x");
      },
      absl::Seconds(10)))
      << agent->Log();
  EXPECT_TRUE(WaitFor([&] {
    return agent->Log().find("attesting again after eviction") != std::string::npos;
  })) << agent->Log();
  // Its entry sync resumes from what it held (a delta, not a snapshot), and it still holds it.
  EXPECT_TRUE(WaitFor([&] {
    return server_->Log().find("agent sync started agent_id=" + id +
                               " resumed=true entries=0 deleted=0") != std::string::npos;
  })) << server_->Log();
  EXPECT_EQ(EntryCount("x"), 1);
}

TEST_F(AgentCliTest, X509PopWithAKeyThatIsNotTheCertificatesIsRefused) {
  // The right certificate, but the agent holds some other key: it cannot answer the challenge.
  WriteTestFile(dir_.File("other.key"),
                *::signet::testing::MustGenerate(crypto::KeyType::kEcP256).ToPkcs8Pem());
  const std::string config = AgentConfig("x", "unused");
  Edit(config, "  join_token:\n    token: unused\n",
       absl::StrCat("  x509pop:\n    certificate_path: ", dir_.File("node.pem"),
                    "\n    private_key_path: ", dir_.File("other.key"), "\n"));
  auto agent = StartAgent("x", config, "5s");
  EXPECT_EQ(agent->Wait(absl::Seconds(30)), 1) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(server_->Log(),
              HasSubstr("x509pop: the challenge was not signed by the certificate's key"));
  EXPECT_FALSE(Attested("x"));
  std::string out;
  EXPECT_NE(Admin(absl::StrCat("agent show --spiffe-id spiffe://example.org/signet/agent/x509pop/",
                               node_fingerprint_),
                  &out),
            0)
      << out;
}

TEST_F(AgentCliTest, InsecureBootstrapAttestsWithAWarningThenTrustsTheServedBundle) {
  std::string config = AgentConfig("a", Token());
  absl::StatusOr<std::string> text = ReadFile(config);
  ASSERT_TRUE(text.ok());
  std::string yaml = *text;
  const std::string line = absl::StrCat("trust_bundle_path: ", dir_.File("bundle.pem"));
  yaml.replace(yaml.find(line), line.size(), "insecure_bootstrap: true");
  WriteTestFile(config, yaml);
  auto agent = StartAgent("a", config);
  ASSERT_TRUE(WaitFor([&] { return Attested("a"); })) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("insecure_bootstrap"));
  // Later connections (the sync) verify the server against the bundle it sent.
  absl::StatusOr<std::string> stored = ReadFile(dir_.File("agent-a/bundle.pem"));
  ASSERT_TRUE(stored.ok());
  EXPECT_THAT(*stored, HasSubstr("BEGIN CERTIFICATE"));
}

TEST_F(AgentCliTest, ABundleThatDoesNotMatchTheServerFailsTheHandshake) {
  ::signet::testing::TestCa other("example.org");
  absl::StatusOr<std::string> pem = spiffe::X509AuthoritiesToPem(other.bundle());
  ASSERT_TRUE(pem.ok());
  WriteTestFile(dir_.File("bundle.pem"), *pem);
  auto agent = StartAgent("a", AgentConfig("a", Token()), "2s");
  // The server cannot be verified: the agent keeps retrying, then gives up (Unavailable).
  EXPECT_EQ(agent->Wait(absl::Seconds(30)), 1) << agent->Log();
  EXPECT_THAT(agent->Log(), HasSubstr("UNAVAILABLE"));
  EXPECT_FALSE(Attested("a"));
}

TEST_F(AgentCliTest, ValidateReportsProblemsWithLines) {
  WriteTestFile(dir_.File("bad.yaml"), "trust_domain: example.org\nserver_address: nowhere\n");
  std::string out;
  EXPECT_EQ(
      RunCommand(absl::StrCat(SIGNET_BINARY, " agent validate -c ", dir_.File("bad.yaml"), " 2>&1"),
                 &out),
      1);
  EXPECT_THAT(out, HasSubstr("bad.yaml:2: server_address: must be host:port"));
  EXPECT_THAT(out, HasSubstr("data_dir: required key is missing"));
  EXPECT_EQ(RunCommand(
                absl::StrCat(SIGNET_BINARY, " agent validate -c ", AgentConfig("ok", "t"), " 2>&1"),
                &out),
            0)
      << out;
}

}  // namespace
}  // namespace signet
