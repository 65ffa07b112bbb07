// The fixture of the agent API tests: a real SignetServer in this process, with the join_token
// node attestor, called over TLS on its TCP listener (Attest without a client certificate, the
// rest with the agent SVID it issued), administered through its admin socket.
//
// Time: gRPC's TLS stacks check validity against the wall clock, so the fake clock starts 40
// minutes before the real time (as in admin_tls_test).
#ifndef SIGNET_TESTS_SERVER_AGENT_API_FIXTURE_H_
#define SIGNET_TESTS_SERVER_AGENT_API_FIXTURE_H_

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "signet/agent/v1/agent.grpc.pb.h"
#include "src/common/clock.h"
#include "src/common/yaml_config.h"
#include "src/crypto/csr.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/config/server_config.h"
#include "src/server/nodeattestor/node_attestor.h"
#include "src/server/server.h"
#include "src/server/server_svid.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/test_ca.h"

namespace signet::server::testing {

namespace admin = ::signet::admin::v1;
namespace agent = ::signet::agent::v1;
using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;
using ::signet::testing::TempDir;

inline constexpr char kTd[] = "example.org";
inline constexpr char kOpsId[] = "spiffe://example.org/ops";

inline absl::Time WallClockMinus40Minutes() {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) - absl::Minutes(40);
}

inline std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

// What an agent holds after attesting or renewing.
struct AgentCredentials {
  std::string spiffe_id;
  std::optional<spiffe::X509Svid> svid;
};

class AgentApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config(*spiffe::TrustDomain::Parse(kTd));
    config.data_dir = dir_.File("data");
    config.admin_socket = dir_.File("admin.sock");
    config.datastore.connection_string = dir_.File("data/ds.sqlite3");
    config.bind_address = "127.0.0.1:0";
    config.bind_host = "127.0.0.1";
    config.bind_port = 0;
    config.admin_ids = {*spiffe::SpiffeId::Parse(kOpsId)};
    config.agent_svid_ttl = absl::Minutes(50);  // still valid in real time (see above)
    config.node_attestors.push_back({.name = "join_token", .config = {}});
    Configure(config);
    auto server = SignetServer::Start(config, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    uds_ = grpc::CreateChannel("unix:" + config.admin_socket, grpc::InsecureChannelCredentials());
  }
  // Lets a test change the server's configuration before it starts.
  virtual void Configure(ServerConfig& config) {}

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  std::shared_ptr<grpc::Channel> TlsChannel(const spiffe::X509Svid* client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = MustEncode(spiffe::X509AuthoritiesToPem(*server_->ca().Bundle()));
    if (client != nullptr) {
      ssl.pem_private_key = MustEncode(client->key().ToPkcs8Pem());
      ssl.pem_cert_chain = MustEncode(crypto::ChainToPem(client->chain()));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(kServerSvidDnsName);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->tcp_port()),
                                     grpc::SslCredentials(ssl), args);
  }

  std::string Token(const std::string& spiffe_id = "", int ttl = 600) {
    admin::CreateJoinTokenRequest req;
    req.set_spiffe_id(spiffe_id);
    req.set_ttl(ttl);
    admin::JoinToken resp;
    grpc::Status status = admin::Agents::NewStub(uds_)->CreateJoinToken(Ctx().get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.token();
  }

  // Runs Attest with `type` and `payload` for a fresh key; the status, and the credentials on
  // success (checked to be a valid X509-SVID chaining to the bundle in the response).
  grpc::Status Attest(const std::string& type, const std::string& payload,
                      AgentCredentials* out = nullptr, std::optional<std::string> csr = {}) {
    crypto::PrivateKey key = MustGenerate();
    agent::AttestRequest req;
    req.mutable_data()->set_type(type);
    req.mutable_data()->set_payload(payload);
    req.set_csr(csr.has_value() ? *csr : *crypto::BuildCsrDer(key));
    auto stub = agent::Node::NewStub(TlsChannel(nullptr));
    auto ctx = Ctx();
    auto stream = stub->Attest(ctx.get());
    EXPECT_TRUE(stream->Write(req));
    stream->WritesDone();
    agent::AttestResponse resp;
    std::optional<agent::AttestResponse> last;
    while (stream->Read(&resp)) last = resp;
    grpc::Status status = stream->Finish();
    if (!status.ok() || out == nullptr) return status;
    EXPECT_TRUE(last.has_value() && last->has_svid());
    out->spiffe_id = last->svid().spiffe_id();
    out->svid = Svid(last->svid(), std::move(key));
    spiffe::Bundle bundle;
    for (const std::string& der : last->bundle()) {
      bundle.AddX509Authority(*crypto::Certificate::FromDer(der));
    }
    spiffe::BundleSet set;
    set.Put(*spiffe::TrustDomain::Parse(kTd), std::move(bundle));
    auto verified = spiffe::VerifyX509Svid(out->svid->chain(), set, clock_.Now());
    EXPECT_TRUE(verified.ok()) << verified.status();
    return status;
  }

  static spiffe::X509Svid Svid(const agent::AgentSvid& svid, crypto::PrivateKey key) {
    std::vector<crypto::Certificate> chain;
    for (const std::string& der : svid.cert_chain()) {
      chain.push_back(*crypto::Certificate::FromDer(der));
    }
    auto parsed = spiffe::X509Svid::FromParts(std::move(chain), std::move(key));
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return *std::move(parsed);
  }

  grpc::Status Renew(const spiffe::X509Svid* as, AgentCredentials* out = nullptr) {
    crypto::PrivateKey key = MustGenerate();
    agent::RenewAgentRequest req;
    req.set_csr(*crypto::BuildCsrDer(key));
    agent::RenewAgentResponse resp;
    grpc::Status status = agent::Node::NewStub(TlsChannel(as))->RenewAgent(Ctx().get(), req, &resp);
    if (status.ok() && out != nullptr) {
      out->spiffe_id = resp.svid().spiffe_id();
      out->svid = Svid(resp.svid(), std::move(key));
    }
    return status;
  }

  absl::StatusOr<admin::Agent> GetAgent(const std::string& id) {
    admin::AgentRequest req;
    req.set_spiffe_id(id);
    admin::Agent resp;
    grpc::Status status = admin::Agents::NewStub(uds_)->GetAgent(Ctx().get(), req, &resp);
    if (!status.ok())
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    return resp;
  }

  grpc::Status AdminAgentCall(const std::string& id, bool ban) {
    admin::AgentRequest req;
    req.set_spiffe_id(id);
    admin::Agent resp;
    auto stub = admin::Agents::NewStub(uds_);
    return ban ? stub->BanAgent(Ctx().get(), req, &resp)
               : stub->EvictAgent(Ctx().get(), req, &resp);
  }

  TempDir dir_;
  FakeClock clock_{WallClockMinus40Minutes()};
  std::unique_ptr<SignetServer> server_;
  std::shared_ptr<grpc::Channel> uds_;
};

}  // namespace signet::server::testing

#endif  // SIGNET_TESTS_SERVER_AGENT_API_FIXTURE_H_
