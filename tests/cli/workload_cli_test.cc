// The Workload API of a real `signet agent run` (with a real `signet server run` behind it),
// driven by `signet fetch|watch|validate` run as the test's uid or another one, by the openssl
// CLI for the issued SVIDs, and by a raw gRPC client for calls the CLI never makes (no header).
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/agent_cli_fixture.h"
#include "workload.grpc.pb.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

class WorkloadCliTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    // Other users must reach the socket (it is 0777; the directory must be searchable).
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    StartWorkloadAgent();
  }

  // Registers an entry under the agent for workloads running as `uid`.
  std::string CreateEntry(const std::string& path, uid_t uid, const std::string& extra = "") {
    nlohmann::json created = AdminJson(absl::StrCat("entry create --spiffe-id spiffe://example.org",
                                                    path, " --parent-id ", kAgentId,
                                                    " --selector unix:uid:", uid, " ", extra));
    const nlohmann::json& id = created["results"][0]["entry"]["id"];
    return id.is_string() ? id.get<std::string>() : "";
  }

  // `python3 SCRIPT ARGS`, as `uid` when given. The script comes on stdin, opened by the shell
  // as root: a checkout under /root (0700 on a fresh Debian) is closed to python running as
  // another uid.
  static std::string Python(const char* script, const std::string& args, int uid = -1) {
    return absl::StrCat(AsUid(uid), "/usr/bin/python3 - ", args, " < ", script);
  }

  // What runs a command as `uid`; nothing when uid < 0.
  static std::string AsUid(int uid) {
    return uid < 0 ? ""
                   : absl::StrCat("setpriv --reuid=", uid, " --regid=", uid, " --clear-groups ");
  }

  // Runs `signet <args> --socket S` (as `uid` when given) and returns its exit code.
  int Workload(const std::string& args, std::string* out, int uid = -1) {
    return RunCommand(
        absl::StrCat(AsUid(uid), SIGNET_BINARY, " ", args, " --socket ", SocketPath("w"), " 2>&1"),
        out);
  }
};

TEST_F(WorkloadCliTest, FetchX509WritesAnSvidThatOpensslVerifies) {
  CreateEntry("/web", getuid());
  const std::string out_dir = dir_.File("svid");
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509 --write " + out_dir, &out) == 0; },
                      absl::Seconds(10)))
      << out << agent_->Log();
  EXPECT_THAT(out, HasSubstr("spiffe id:   spiffe://example.org/web"));
  std::string status;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " agent status --data-dir ",
                                    dir_.File("agent-w"), " 2>&1"),
                       &status),
            0)
      << status;
  EXPECT_THAT(status, HasSubstr("cached svids:     1"));
  EXPECT_EQ(RunCommand(absl::StrCat("openssl verify -x509_strict -CAfile ", out_dir, "/bundle.pem ",
                                    out_dir, "/svid.pem 2>&1"),
                       &out),
            0)
      << out;
  EXPECT_EQ(RunCommand(absl::StrCat("openssl x509 -noout -ext subjectAltName -in ", out_dir,
                                    "/svid.pem 2>&1"),
                       &out),
            0);
  EXPECT_THAT(out, HasSubstr("URI:spiffe://example.org/web"));
  EXPECT_EQ(std::count(out.begin(), out.end(), ','), 0) << "exactly one SAN: " << out;
  struct stat st {};
  ASSERT_EQ(stat((out_dir + "/svid.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // The key matches the certificate.
  std::string cert_pub, key_pub;
  RunCommand(absl::StrCat("openssl x509 -noout -pubkey -in ", out_dir, "/svid.pem"), &cert_pub);
  RunCommand(absl::StrCat("openssl pkey -pubout -in ", out_dir, "/svid.key"), &key_pub);
  EXPECT_EQ(cert_pub, key_pub);
}

TEST_F(WorkloadCliTest, AnotherUidGetsPermissionDenied) {
  ASSERT_EQ(getuid(), 0u) << "this test drops to another uid; CI runs it as root";
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  EXPECT_EQ(Workload("fetch x509", &out, 65534), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(out, HasSubstr("no identity is registered for this workload"));
  EXPECT_EQ(Workload("fetch jwt --audience db", &out, 65534), 1) << out;
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  // With its own entry, the same user gets its own identity.
  CreateEntry("/nobody", 65534);
  EXPECT_TRUE(WaitFor([&] { return Workload("fetch x509", &out, 65534) == 0; }, absl::Seconds(10)))
      << out;
  EXPECT_THAT(out, HasSubstr("spiffe://example.org/nobody"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("spiffe://example.org/web")));
}

TEST_F(WorkloadCliTest, ACallWithoutTheSecurityHeaderIsInvalidArgument) {
  CreateEntry("/web", getuid());
  auto stub = SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel("unix:" + SocketPath("w"), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  JWTSVIDRequest req;
  req.add_audience("db");
  JWTSVIDResponse resp;
  grpc::Status status = stub->FetchJWTSVID(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("security header"));
  grpc::ClientContext wrong;
  wrong.AddMetadata("workload.spiffe.io", "yes");
  status = stub->FetchJWTSVID(&wrong, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Workload API requests are small; the agent refuses one over 64 KiB before parsing it, so a
// local process cannot make the agent hold megabytes per call.
TEST_F(WorkloadCliTest, AnOversizedRequestIsRefused) {
  CreateEntry("/web", getuid());
  auto stub = SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel("unix:" + SocketPath("w"), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ctx.AddMetadata("workload.spiffe.io", "true");
  JWTSVIDRequest req;
  req.add_audience(std::string(70 << 10, 'a'));
  JWTSVIDResponse resp;
  grpc::Status status = stub->FetchJWTSVID(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_EQ(resp.svids_size(), 0);
  // Under the size limit but over the audience rules: refused by the agent itself, not relayed
  // to the server as Unavailable.
  grpc::ClientContext again;
  again.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  again.AddMetadata("workload.spiffe.io", "true");
  req.set_audience(0, std::string(600, 'a'));
  status = stub->FetchJWTSVID(&again, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("audience[0]: must be 1 to 512 bytes"));
}

TEST_F(WorkloadCliTest, JwtSvidsAreFetchedAndValidatedThroughTheAgent) {
  CreateEntry("/web", getuid());
  std::string token;
  ASSERT_TRUE(
      WaitFor([&] { return Workload("fetch jwt --audience db", &token) == 0; }, absl::Seconds(10)))
      << token;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  std::string out;
  EXPECT_EQ(Workload("validate jwt --audience db --token " + token, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("spiffe id:   spiffe://example.org/web"));
  EXPECT_THAT(out, HasSubstr("\"aud\":[\"db\"]"));
  // Cached: the same token again.
  std::string again;
  EXPECT_EQ(Workload("fetch jwt --audience db", &again), 0);
  EXPECT_EQ(again.substr(0, token.size()), token);
  EXPECT_EQ(Workload("validate jwt --audience other --token " + token, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_EQ(Workload("fetch jwt-bundle", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("spiffe://example.org"));
  EXPECT_THAT(out, HasSubstr("\"kid\""));
}

TEST_F(WorkloadCliTest, TheOpenStreamRotatesAndEndsWhenTheEntryIsDeleted) {
  const std::string id = CreateEntry("/short", getuid(), "--x509-svid-ttl 10s");
  ASSERT_FALSE(id.empty());
  Subprocess watch({SIGNET_BINARY, "watch", "--socket", SocketPath("w")}, dir_.File("watch.log"));
  // A second, different SVID arrives on the same stream before the first expires (10 s).
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string log = watch.Log();
        return std::count(log.begin(), log.end(), '\n') >= 2;
      },
      absl::Seconds(15)))
      << watch.Log() << agent_->Log();
  const std::vector<std::string> lines = absl::StrSplit(watch.Log(), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u);
  // "<received> <spiffe id> expires <not after>", RFC 3339 UTC: comparable as text.
  const std::string first_expiry = lines[0].substr(lines[0].find(" expires ") + 9);
  const std::string second_received = lines[1].substr(0, lines[1].find(' '));
  EXPECT_NE(lines[0].substr(lines[0].find(" expires ")),
            lines[1].substr(lines[1].find(" expires ")))
      << watch.Log();
  EXPECT_LT(second_received, first_expiry) << "the new SVID must arrive before the old expires";

  std::string out;
  ASSERT_EQ(Admin("entry delete --entry-id " + id, &out), 0) << out;
  const absl::Time deleted = absl::Now();
  EXPECT_EQ(watch.Wait(absl::Seconds(5)), 1) << watch.Log();
  EXPECT_LT(absl::Now() - deleted, absl::Seconds(2));
  EXPECT_THAT(watch.Log(), HasSubstr("PERMISSION_DENIED"));
}

TEST_F(WorkloadCliTest, FetchesKeepWorkingFromTheCacheWhileTheServerIsDown) {
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  server_->Signal(SIGKILL);
  server_->Wait();
  EXPECT_EQ(Workload("fetch x509 --write " + dir_.File("after"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("spiffe://example.org/web"));
  EXPECT_EQ(RunCommand(absl::StrCat("openssl verify -x509_strict -CAfile ", dir_.File("after"),
                                    "/bundle.pem ", dir_.File("after"), "/svid.pem 2>&1"),
                       &out),
            0)
      << out;

  // Restarted while the server is still down, the agent serves from what it kept in data_dir.
  struct stat st {};
  ASSERT_EQ(stat(dir_.File("agent-w/workload_cache.pb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600) << "it holds private keys";
  agent_->Signal(SIGTERM);
  ASSERT_EQ(agent_->Wait(), 0) << agent_->Log();
  agent_ = StartAgent("w2", dir_.File("agent-w.yaml"));
  EXPECT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10)))
      << out << agent_->Log();
  EXPECT_THAT(out, HasSubstr("spiffe://example.org/web"));
  EXPECT_THAT(agent_->Log(), HasSubstr("serving from the workload cache"));
}

TEST_F(WorkloadCliTest, ACorruptWorkloadCacheIsIgnored) {
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  agent_->Signal(SIGTERM);
  ASSERT_EQ(agent_->Wait(), 0);
  WriteTestFile(dir_.File("agent-w/workload_cache.pb"), "not a protobuf \xff\xff\xff");
  agent_ = StartAgent("w2", dir_.File("agent-w.yaml"));
  // It says so, and gets what it needs from the server again.
  EXPECT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10)))
      << out << agent_->Log();
  EXPECT_THAT(agent_->Log(), HasSubstr("ignoring a workload cache that does not hold up"));
}

// spiffe-conformance.md §6 walked by an independent client (Python grpcio + PyJWT +
// cryptography, messages generated from the standard's field facts by the script itself).
TEST_F(WorkloadCliTest, AnIndependentClientWalksTheWorkloadApiConformanceItems) {
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  const std::string args =
      absl::StrCat("--socket ", SocketPath("w"), " --trust-domain example.org");
  EXPECT_EQ(RunCommand(Python(WORKLOAD_CONFORMANCE_PY,
                              args + " --mode entitled --spiffe-id spiffe://example.org/web"),
                       &out),
            0)
      << out << agent_->Log();
  EXPECT_THAT(out, HasSubstr("all checks passed"));
  EXPECT_THAT(out, HasSubstr("ok 6.6 no identical second message"));
  ASSERT_EQ(getuid(), 0u) << "the denied half runs as another uid; CI runs it as root";
  EXPECT_EQ(RunCommand(Python(WORKLOAD_CONFORMANCE_PY, args + " --mode denied", 65534), &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("all checks passed"));
}

// Envoy SDS v3 on the same socket, driven by an independent client (Python grpcio with
// messages generated from Envoy's API field facts by the script).
TEST_F(WorkloadCliTest, EnvoySdsServesTheCallersSecrets) {
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  const std::string args = "--socket " + SocketPath("w");
  EXPECT_EQ(RunCommand(Python(SDS_CLIENT_PY, args + " --spiffe-id spiffe://example.org/web"), &out),
            0)
      << out << agent_->Log();
  EXPECT_THAT(out, HasSubstr("ok an ACK with nothing changed gets no new response"));
  EXPECT_THAT(out, HasSubstr("all checks passed"));
  ASSERT_EQ(getuid(), 0u) << "the denied half runs as another uid; CI runs it as root";
  EXPECT_EQ(RunCommand(Python(SDS_CLIENT_PY, args + " --denied", 65534), &out), 0) << out;
}

// The same socket through node's grpc-js, whose HTTP/2 and gRPC code shares nothing with gRPC
// C-core (the C++ and Python clients above): every Workload API RPC, the errors, SDS, reflection
// and 200 calls multiplexed on one connection.
TEST_F(WorkloadCliTest, GrpcJsSpeaksTheWorkloadApiSdsAndReflection) {
  CreateEntry("/web", getuid());
  std::string out;
  ASSERT_TRUE(WaitFor([&] { return Workload("fetch x509", &out) == 0; }, absl::Seconds(10))) << out;
  EXPECT_EQ(RunCommand(absl::StrCat("node ", GRPC_JS_CLIENT, " --socket ", SocketPath("w"),
                                    " --trust-domain example.org --spiffe-id "
                                    "spiffe://example.org/web 2>&1"),
                       &out),
            0)
      << out << agent_->Log();
  EXPECT_THAT(out, HasSubstr("ok 200 concurrent FetchJWTSVID calls on one connection"));
  EXPECT_THAT(out, HasSubstr("all checks passed"));
}

}  // namespace
}  // namespace signet
