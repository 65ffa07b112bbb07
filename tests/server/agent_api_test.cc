// The agent API's Node service end to end: a real SignetServer in this process, with the
// join_token node attestor, called over TLS on its TCP listener (Attest without a client
// certificate, the rest with the agent SVID it issued), administered through its admin socket.
//
// Time: gRPC's TLS stacks check validity against the wall clock, so the fake clock starts 40
// minutes before the real time (as in admin_tls_test).
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/signature.h"
#include "tests/server/agent_api_fixture.h"

namespace signet::server::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(AgentApiTest, JoinTokenAttestsOnceAndIssuesAnAgentSvid) {
  const std::string token = Token();
  AgentCredentials creds;
  grpc::Status status = Attest("join_token", token, &creds);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string want = absl::StrCat("spiffe://example.org/signet/agent/join_token/", token);
  EXPECT_EQ(creds.spiffe_id, want);
  EXPECT_EQ(creds.svid->id().String(), want);
  EXPECT_EQ(creds.svid->leaf().NotAfter() - creds.svid->leaf().NotBefore(),
            absl::Minutes(50) + absl::Seconds(10));  // agent_svid_ttl, backdated 10 s

  absl::StatusOr<admin::Agent> node = GetAgent(want);
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->attestation_type(), "join_token");
  EXPECT_EQ(node->cert_serial(), creds.svid->leaf().SerialHex());
  EXPECT_FALSE(node->banned());

  // The same token again: refused, and no second node.
  status = Attest("join_token", token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("unknown, used or expired"));
}

TEST_F(AgentApiTest, TokenWithItsOwnSpiffeIdNamesTheAgent) {
  AgentCredentials creds;
  grpc::Status status =
      Attest("join_token", Token("spiffe://example.org/signet/agent/rack-7"), &creds);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(creds.spiffe_id, "spiffe://example.org/signet/agent/rack-7");
}

TEST_F(AgentApiTest, ExpiredTokenIsRefused) {
  const std::string token = Token("", /*ttl=*/60);
  clock_.Advance(absl::Seconds(61));
  grpc::Status status = Attest("join_token", token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("expired"));
}

TEST_F(AgentApiTest, BadAttestationRequestsAreInvalidArgument) {
  struct Case {
    std::string name;
    std::string type;
    std::string payload;
    std::optional<std::string> csr;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown type", "x509pop", "abc", {}, "not configured"},
      {"empty type", "", "abc", {}, "not configured"},
      {"empty token", "join_token", "", {}, "token must be"},
      {"huge token", "join_token", std::string(300, 'a'), {}, "token must be"},
      {"no csr", "join_token", "whatever", std::string(), "csr"},
      {"garbage csr", "join_token", "whatever", std::string("not a csr"), "csr"},
      {"huge payload", "join_token", std::string(70000, 'a'), {}, "payload"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    grpc::Status status = Attest(c.type, c.payload, nullptr, c.csr);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  // None of them consumed anything or created a node.
  admin::ListAgentsResponse agents;
  ASSERT_TRUE(admin::Agents::NewStub(uds_)
                  ->ListAgents(Ctx().get(), admin::ListAgentsRequest(), &agents)
                  .ok());
  EXPECT_EQ(agents.agents_size(), 0);
}

TEST_F(AgentApiTest, AStreamClosedWithoutARequestIsInvalidArgument) {
  auto stub = agent::Node::NewStub(TlsChannel(nullptr));
  auto ctx = Ctx();
  auto stream = stub->Attest(ctx.get());
  stream->WritesDone();
  agent::AttestResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentApiTest, RenewalIssuesANewSvidAndRecordsItsSerial) {
  AgentCredentials creds;
  ASSERT_TRUE(Attest("join_token", Token(), &creds).ok());
  clock_.Advance(absl::Minutes(10));
  AgentCredentials renewed;
  grpc::Status status = Renew(&*creds.svid, &renewed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(renewed.spiffe_id, creds.spiffe_id);
  EXPECT_NE(renewed.svid->leaf().SerialHex(), creds.svid->leaf().SerialHex());
  EXPECT_GT(renewed.svid->leaf().NotAfter(), creds.svid->leaf().NotAfter());
  EXPECT_EQ(GetAgent(creds.spiffe_id)->cert_serial(), renewed.svid->leaf().SerialHex());
  // And the renewed SVID works for the next call.
  EXPECT_TRUE(Renew(&*renewed.svid).ok());
}

TEST_F(AgentApiTest, BannedAgentIsCutOffAndCannotAttestAgain) {
  AgentCredentials creds;
  ASSERT_TRUE(Attest("join_token", Token("spiffe://example.org/signet/agent/n1"), &creds).ok());
  ASSERT_TRUE(AdminAgentCall(creds.spiffe_id, /*ban=*/true).ok());
  grpc::Status status = Renew(&*creds.svid);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("banned"));
  // A new token for the same agent ID does not lift the ban.
  status = Attest("join_token", Token("spiffe://example.org/signet/agent/n1"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("banned"));
}

TEST_F(AgentApiTest, EvictedAgentMustAttestAgain) {
  AgentCredentials creds;
  ASSERT_TRUE(Attest("join_token", Token(), &creds).ok());
  ASSERT_TRUE(AdminAgentCall(creds.spiffe_id, /*ban=*/false).ok());
  grpc::Status status = Renew(&*creds.svid);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("not an attested agent"));
  // Its token is spent: a join_token agent cannot come back with it.
  EXPECT_EQ(
      Attest("join_token", creds.spiffe_id.substr(creds.spiffe_id.rfind('/') + 1)).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentApiTest, AgentCallsNeedAnAgentSvid) {
  // No certificate at all.
  EXPECT_EQ(Renew(nullptr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // A valid SVID of the trust domain that is not an attested agent (an operator's).
  crypto::PrivateKey key = MustGenerate();
  auto chain = server_->ca().SignX509Svid(
      {.spiffe_id = *spiffe::SpiffeId::Parse(kOpsId), .public_key = key.public_key()});
  ASSERT_TRUE(chain.ok()) << chain.status();
  spiffe::X509Svid ops = *spiffe::X509Svid::FromParts(*chain, key);
  grpc::Status status = Renew(&ops);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), StartsWith("not an attested agent"));
}

TEST_F(AgentApiTest, AgentSvidIsNotAnAdminCredential) {
  AgentCredentials creds;
  ASSERT_TRUE(Attest("join_token", Token(), &creds).ok());
  admin::HealthResponse resp;
  grpc::Status status = admin::Server::NewStub(TlsChannel(&*creds.svid))
                            ->Health(Ctx().get(), admin::HealthRequest(), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Without any certificate, admin calls fail before reaching the service.
  status = admin::Server::NewStub(TlsChannel(nullptr))
               ->Health(Ctx().get(), admin::HealthRequest(), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(NodeAttestorCatalogTest, UnknownConfigKeysAndUnknownPluginsAreErrors) {
  ServerConfig config(*spiffe::TrustDomain::Parse(kTd));
  FakeClock clock(absl::UnixEpoch());
  TempDir dir;
  auto store = OpenDataStore({.driver = "sqlite", .connection_string = dir.File("ds.db")});
  ASSERT_TRUE(store.ok()) << store.status();
  NodeAttestorDeps deps{
      .trust_domain = config.trust_domain, .join_tokens = **store, .clock = clock};
  RawConfig bad{.node = YAML::Load("{ttl: 5}"), .path = "node_attestors.join_token", .line = 7};
  auto attestors = CreateNodeAttestors({{.name = "join_token", .config = bad}}, deps);
  EXPECT_EQ(attestors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(attestors.status().message(), HasSubstr("ttl"));
  attestors = CreateNodeAttestors({{.name = "jwt", .config = {}}}, deps);
  EXPECT_EQ(attestors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(attestors.status().message(), HasSubstr("issuer: required key is missing"));
  attestors = CreateNodeAttestors({{.name = "tpm", .config = {}}}, deps);
  EXPECT_EQ(attestors.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(attestors.status().message(), HasSubstr("node_attestors.tpm"));
  attestors = CreateNodeAttestors({{.name = "join_token", .config = {}}}, deps);
  ASSERT_TRUE(attestors.ok()) << attestors.status();
  EXPECT_EQ((*attestors)[0]->type(), "join_token");
}

// ---------------------------------------------------------------------------------------------
// x509pop

struct NodeCredential {
  std::string chain_pem;
  crypto::PrivateKey key;
  crypto::Certificate leaf;
};

class X509PopTest : public AgentApiTest {
 protected:
  void Configure(ServerConfig& config) override {
    node_ca_key_ = MustGenerate();
    crypto::CertificateTemplate ca{.subject = "CN=Node CA",
                                   .not_before = clock_.Now() - absl::Hours(1),
                                   .not_after = clock_.Now() + absl::Hours(24),
                                   .is_ca = true,
                                   .key_usage = crypto::kKeyUsageKeyCertSign};
    node_ca_.emplace(
        *crypto::IssueCertificate(ca, node_ca_key_->public_key(), nullptr, *node_ca_key_));
    ::signet::testing::WriteTestFile(dir_.File("node-ca.pem"), *node_ca_->ToPem());
    config.node_attestors.push_back(
        {.name = "x509pop",
         .config = {
             .node = YAML::Load(absl::StrCat("{ca_bundle_path: ", dir_.File("node-ca.pem"), "}")),
             .path = "node_attestors.x509pop",
             .line = 1}});
  }

  // A node certificate for `cn` from `ca` (the configured one when null).
  NodeCredential Node(const std::string& cn, const crypto::Certificate* ca = nullptr,
                      const crypto::PrivateKey* ca_key = nullptr) {
    crypto::PrivateKey key = MustGenerate();
    crypto::CertificateTemplate t{.subject = "CN=" + cn,
                                  .not_before = clock_.Now() - absl::Hours(1),
                                  .not_after = clock_.Now() + absl::Hours(24),
                                  .key_usage = crypto::kKeyUsageDigitalSignature,
                                  .client_auth = true};
    crypto::Certificate leaf =
        *crypto::IssueCertificate(t, key.public_key(), ca != nullptr ? ca : &*node_ca_,
                                  ca_key != nullptr ? *ca_key : *node_ca_key_);
    return {.chain_pem = *leaf.ToPem(), .key = key, .leaf = leaf};
  }

  // Attests with `node`, answering the challenge with `signer`'s signature. The last response.
  grpc::Status AttestX509Pop(const NodeCredential& node, const crypto::PrivateKey& signer,
                             agent::AttestResponse* out) {
    agent::AttestRequest req;
    req.mutable_data()->set_type("x509pop");
    req.mutable_data()->set_payload(node.chain_pem);
    req.set_csr(*crypto::BuildCsrDer(MustGenerate()));
    auto stub = agent::Node::NewStub(TlsChannel(nullptr));
    auto ctx = Ctx();
    auto stream = stub->Attest(ctx.get());
    EXPECT_TRUE(stream->Write(req));
    agent::AttestResponse resp;
    while (stream->Read(&resp)) {
      if (!resp.challenge().empty()) {
        EXPECT_EQ(resp.challenge().size(), 32u);
        agent::AttestRequest answer;
        answer.set_challenge_response(*crypto::Sign(
            signer, {.key_algorithm = signer.info().algorithm, .hash = crypto::Hash::kSha256},
            X509PopSigningInput(resp.challenge())));
        stream->Write(answer);
        continue;
      }
      *out = resp;
    }
    return stream->Finish();
  }

  std::optional<crypto::PrivateKey> node_ca_key_;
  std::optional<crypto::Certificate> node_ca_;
};

TEST_F(X509PopTest, ProofOfPossessionAttestsWithNodeSelectors) {
  NodeCredential node = Node("node-7");
  agent::AttestResponse resp;
  grpc::Status status = AttestX509Pop(node, node.key, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.svid().spiffe_id(), absl::StrCat("spiffe://example.org/signet/agent/x509pop/",
                                                  node.leaf.Sha256Fingerprint()));
  std::vector<std::string> selectors;
  for (const agent::Selector& s : resp.node_selectors()) {
    selectors.push_back(absl::StrCat(s.type(), ":", s.value()));
  }
  EXPECT_THAT(selectors, ::testing::UnorderedElementsAre(
                             "x509pop:subject:cn:node-7", "x509pop:issuer:cn:Node CA",
                             absl::StrCat("x509pop:fingerprint:", node.leaf.Sha256Fingerprint())));
  absl::StatusOr<admin::Agent> record = GetAgent(resp.svid().spiffe_id());
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->attestation_type(), "x509pop");
  EXPECT_TRUE(record->can_reattest());
  EXPECT_EQ(record->selectors_size(), 3);
}

TEST_F(X509PopTest, TheWrongKeyIsRefused) {
  NodeCredential node = Node("node-7");
  crypto::PrivateKey other = MustGenerate();
  agent::AttestResponse resp;
  grpc::Status status = AttestX509Pop(node, other, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("not signed by the certificate's key"));
}

TEST_F(X509PopTest, ACertificateFromAnotherCaIsRefused) {
  crypto::PrivateKey rogue_key = MustGenerate();
  crypto::CertificateTemplate ca{.subject = "CN=Node CA",
                                 .not_before = clock_.Now() - absl::Hours(1),
                                 .not_after = clock_.Now() + absl::Hours(24),
                                 .is_ca = true,
                                 .key_usage = crypto::kKeyUsageKeyCertSign};
  crypto::Certificate rogue =
      *crypto::IssueCertificate(ca, rogue_key.public_key(), nullptr, rogue_key);
  NodeCredential node = Node("node-7", &rogue, &rogue_key);
  agent::AttestResponse resp;
  grpc::Status status = AttestX509Pop(node, node.key, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("does not chain to a configured CA"));
  // Garbage instead of a chain.
  NodeCredential garbage = node;
  garbage.chain_pem = "not pem";
  EXPECT_EQ(AttestX509Pop(garbage, node.key, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(X509PopTest, AnEvictedAgentReattestsButABannedOneCannot) {
  NodeCredential node = Node("node-7");
  agent::AttestResponse resp;
  ASSERT_TRUE(AttestX509Pop(node, node.key, &resp).ok());
  const std::string id = resp.svid().spiffe_id();
  ASSERT_TRUE(AdminAgentCall(id, /*ban=*/false).ok());
  ASSERT_FALSE(GetAgent(id).ok());
  grpc::Status again = AttestX509Pop(node, node.key, &resp);
  ASSERT_TRUE(again.ok()) << again.error_message();
  EXPECT_EQ(resp.svid().spiffe_id(), id);
  EXPECT_TRUE(GetAgent(id).ok());
  ASSERT_TRUE(AdminAgentCall(id, /*ban=*/true).ok());
  grpc::Status banned = AttestX509Pop(node, node.key, &resp);
  EXPECT_EQ(banned.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(banned.error_message(), HasSubstr("banned"));
}

TEST_F(X509PopTest, ConfigurationIsChecked) {
  TempDir dir;
  NodeAttestorDeps deps{.trust_domain = *spiffe::TrustDomain::Parse(kTd),
                        .join_tokens = server_->store(),
                        .clock = clock_};
  auto create = [&](const std::string& yaml) {
    return CreateX509PopAttestor(
        {.node = YAML::Load(yaml), .path = "node_attestors.x509pop", .line = 3}, deps);
  };
  EXPECT_THAT(create("{}").status().message(), HasSubstr("ca_bundle_path"));
  EXPECT_THAT(create("{ca_bundle_path: /nonexistent}").status().message(),
              HasSubstr("cannot read CA certificates"));
  const std::string ok = absl::StrCat("ca_bundle_path: ", dir_.File("node-ca.pem"));
  EXPECT_TRUE(create("{" + ok + "}").ok());
  EXPECT_THAT(create("{" + ok + ", agent_path_template: fixed}").status().message(),
              HasSubstr("one agent id per certificate"));
  EXPECT_THAT(create("{" + ok + ", extra: 1}").status().message(), HasSubstr("unknown key"));
}

}  // namespace
}  // namespace signet::server::testing
