// The admin API on the TCP listener: a real SignetServer in this process, called over mTLS with
// X509-SVIDs from its own CA (and from others), plus the per-call authorization
// (SvidAuthProcessor) and the server SVID (ServerSvid) on their own.
//
// Time: gRPC's TLS stacks (client and server) check certificate validity against the wall clock,
// so the fake clock starts 40 minutes before the real time instead of at TestNow(). Everything
// minted on the fake timeline is then valid in real time too, with room to move the clock past
// the server SVID's half-life (30 minutes of the default 1 h TTL) for the rotation test.
#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/common/clock.h"
#include "src/common/file_util.h"
#include "src/crypto/certificate.h"
#include "src/server/api/api_context.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/config/server_config.h"
#include "src/server/datastore/datastore.h"
#include "src/server/server.h"
#include "src/server/server_svid.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;
using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;
using ::signet::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kTd[] = "example.org";
constexpr char kOpsId[] = "spiffe://example.org/ops";  // in admin_ids
constexpr char kAdminMethod[] = "/signet.admin.v1.Server/Health";

absl::Time WallClockMinus40Minutes() {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) - absl::Minutes(40);
}

spiffe::SpiffeId Id(const std::string& id) { return *spiffe::SpiffeId::Parse(id); }

// An AuthContext holding given properties, as gRPC's TLS transport fills it; any change to it is
// a test failure (the processor must leave it alone).
class FakeAuthContext final : public grpc::AuthContext {
 public:
  void Add(const std::string& name, std::string value) {
    properties_.emplace(name, std::move(value));
  }

  bool IsPeerAuthenticated() const override { return true; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    auto [first, last] = properties_.equal_range(name);
    for (auto it = first; it != last; ++it) values.emplace_back(it->second);
    return values;
  }
  grpc::AuthPropertyIterator begin() const override { return EmptyIterator(); }
  grpc::AuthPropertyIterator end() const override { return EmptyIterator(); }
  void AddProperty(const std::string& key, const grpc::string_ref& /*value*/) override {
    ADD_FAILURE() << "the auth context is shared by a connection's calls; added " << key;
  }
  bool SetPeerIdentityPropertyName(const std::string& name) override {
    ADD_FAILURE() << "peer identity property set to " << name;
    return false;
  }

 private:
  struct EmptyIterator : grpc::AuthPropertyIterator {};
  std::multimap<std::string, std::string> properties_;
};

class AdminTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config(*spiffe::TrustDomain::Parse(kTd));
    config.data_dir = dir_.File("data");
    config.admin_socket = dir_.File("admin.sock");
    config.datastore.connection_string = dir_.File("data/ds.sqlite3");
    config.bind_address = "127.0.0.1:0";
    config.bind_host = "127.0.0.1";
    config.bind_port = 0;
    config.admin_ids = {Id(kOpsId)};
    auto server = SignetServer::Start(config, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->tcp_port(), 0);
    uds_ = grpc::CreateChannel("unix:" + config.admin_socket, grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  // An X509-SVID for `id` signed by the server's CA at the clock's time.
  spiffe::X509Svid Mint(const std::string& id, absl::Duration ttl = absl::ZeroDuration()) {
    crypto::PrivateKey key = MustGenerate();
    auto chain = server_->ca().SignX509Svid(
        {.spiffe_id = Id(id), .public_key = key.public_key(), .ttl = ttl});
    EXPECT_TRUE(chain.ok()) << chain.status();
    return *spiffe::X509Svid::FromParts(*std::move(chain), std::move(key));
  }

  std::string BundlePem() {
    return MustEncode(spiffe::X509AuthoritiesToPem(*server_->ca().Bundle()));
  }

  // A channel to the TCP listener that trusts the server's bundle and presents `client` (none when
  // null). The server SVID is checked for kServerSvidDnsName; each channel has its own
  // connection, so every channel makes a fresh handshake.
  std::shared_ptr<grpc::Channel> TlsChannel(const spiffe::X509Svid* client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = BundlePem();
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

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

  // Calls Health on `channel`; `*server_leaf` (if given) receives the certificate the server
  // presented.
  static grpc::Status Health(const std::shared_ptr<grpc::Channel>& channel,
                             std::optional<crypto::Certificate>* server_leaf = nullptr) {
    auto stub = pb::Server::NewStub(channel);
    auto ctx = Ctx();
    pb::HealthResponse resp;
    grpc::Status status = stub->Health(ctx.get(), pb::HealthRequest(), &resp);
    if (status.ok() && server_leaf != nullptr) {
      std::vector<grpc::string_ref> pem =
          ctx->auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
      EXPECT_EQ(pem.size(), 1u);
      if (pem.size() == 1) {
        auto leaf = crypto::ParsePemChain(absl::string_view(pem[0].data(), pem[0].size()));
        EXPECT_TRUE(leaf.ok()) << leaf.status();
        if (leaf.ok()) *server_leaf = leaf->front();
      }
    }
    return status;
  }

  // Creates a registration entry for `spiffe_id` through the admin socket; returns its id.
  std::string CreateEntry(const std::string& spiffe_id, bool admin, int64_t expires_at = 0) {
    pb::BatchCreateEntryRequest req;
    pb::Entry* e = req.add_entries();
    e->set_spiffe_id(spiffe_id);
    e->set_parent_id("spiffe://example.org/signet/agent/join_token/abc");
    pb::Selector* s = e->add_selectors();
    s->set_type("unix");
    s->set_value("uid:1000");
    e->set_admin(admin);
    e->set_expires_at(expires_at);
    pb::BatchCreateEntryResponse resp;
    grpc::Status status = pb::Entries::NewStub(uds_)->BatchCreateEntry(Ctx().get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resp.results_size(), 1);
    if (resp.results_size() != 1) return "";
    EXPECT_EQ(resp.results(0).status().code(), 0) << resp.results(0).status().message();
    return resp.results(0).entry().id();
  }

  void DeleteEntry(const std::string& id) {
    pb::BatchDeleteEntryRequest req;
    req.add_ids(id);
    pb::BatchDeleteEntryResponse resp;
    ASSERT_TRUE(pb::Entries::NewStub(uds_)->BatchDeleteEntry(Ctx().get(), req, &resp).ok());
  }

  TempDir dir_;
  FakeClock clock_{WallClockMinus40Minutes()};
  std::unique_ptr<SignetServer> server_;
  std::shared_ptr<grpc::Channel> uds_;
};

// ---------------------------------------------------------------- over TLS

TEST_F(AdminTlsTest, AdminIdCallsAndIsTheAuditCaller) {
  spiffe::X509Svid ops = Mint(kOpsId);
  std::shared_ptr<grpc::Channel> channel = TlsChannel(&ops);
  std::optional<crypto::Certificate> server_leaf;
  grpc::Status status = Health(channel, &server_leaf);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  ASSERT_TRUE(server_leaf.has_value());
  EXPECT_THAT(server_leaf->UriSans(), ::testing::ElementsAre("spiffe://example.org/signet/server"));
  // bind_host is an address literal, which cannot be a DNS SAN.
  EXPECT_THAT(server_leaf->DnsSans(), ::testing::ElementsAre(kServerSvidDnsName));

  pb::BatchCreateEntryRequest req;
  pb::Entry* e = req.add_entries();
  e->set_spiffe_id("spiffe://example.org/web");
  e->set_parent_id("spiffe://example.org/signet/agent/join_token/abc");
  pb::Selector* s = e->add_selectors();
  s->set_type("unix");
  s->set_value("uid:1000");
  pb::BatchCreateEntryResponse resp;
  status = pb::Entries::NewStub(channel)->BatchCreateEntry(Ctx().get(), req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(resp.results(0).status().code(), 0);

  auto events = server_->store().ListAudit(AuditFilter{});
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().action, "entry.create");
  EXPECT_EQ(events->back().caller, kOpsId);
}

TEST_F(AdminTlsTest, UdsCallerIsStillNamedByUid) {
  CreateEntry("spiffe://example.org/web", false);
  auto events = server_->store().ListAudit(AuditFilter{});
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().caller, absl::StrCat("uid:", getuid()));
}

TEST_F(AdminTlsTest, NonAdminSvidIsPermissionDenied) {
  spiffe::X509Svid web = Mint("spiffe://example.org/web");
  CreateEntry("spiffe://example.org/web", /*admin=*/false);  // an entry without admin: true
  grpc::Status status = Health(TlsChannel(&web));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("spiffe://example.org/web may not call the admin api: it is not in "
                        "admin_ids and no unexpired registration entry for it has admin: true"));
}

TEST_F(AdminTlsTest, AdminEntryIsCheckedOnEveryCall) {
  spiffe::X509Svid ci = Mint("spiffe://example.org/ci");
  std::shared_ptr<grpc::Channel> channel = TlsChannel(&ci);  // one connection throughout
  EXPECT_EQ(Health(channel).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  std::string id = CreateEntry("spiffe://example.org/ci", /*admin=*/true);
  grpc::Status status = Health(channel);
  EXPECT_TRUE(status.ok()) << status.error_message();

  DeleteEntry(id);
  EXPECT_EQ(Health(channel).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AdminTlsTest, ExpiredAdminEntryDoesNotGrant) {
  spiffe::X509Svid ci = Mint("spiffe://example.org/ci");
  CreateEntry("spiffe://example.org/ci", /*admin=*/true,
              absl::ToUnixSeconds(clock_.Now() - absl::Minutes(1)));
  EXPECT_EQ(Health(TlsChannel(&ci)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AdminTlsTest, NoClientCertificateIsRejected) {
  // The handshake succeeds (agents attest without a certificate); the call does not.
  grpc::Status status = Health(TlsChannel(nullptr));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
}

TEST_F(AdminTlsTest, AdminIdFromAnotherCaIsRejected) {
  // Same trust domain name and SPIFFE ID, but a CA the server does not know.
  testing::TestCa other(kTd, crypto::KeyType::kEcP256, clock_.Now());
  spiffe::X509Svid forged = other.MintSvid("/ops");
  ASSERT_EQ(forged.id().String(), kOpsId);
  grpc::Status status = Health(TlsChannel(&forged));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(AdminTlsTest, ExpiredAdminSvidIsRejected) {
  spiffe::X509Svid ops = Mint(kOpsId, absl::Minutes(1));
  clock_.Advance(absl::Minutes(2));
  grpc::Status status = Health(TlsChannel(&ops));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // A fresh one works: only the expiry was wrong.
  spiffe::X509Svid fresh = Mint(kOpsId);
  EXPECT_TRUE(Health(TlsChannel(&fresh)).ok());
}

TEST_F(AdminTlsTest, ServerSvidRotatesAtHalfLifeAndNewConnectionsGetIt) {
  spiffe::X509Svid ops = Mint(kOpsId);
  std::optional<crypto::Certificate> before;
  ASSERT_TRUE(Health(TlsChannel(&ops), &before).ok());
  ASSERT_TRUE(before.has_value());
  std::shared_ptr<const spiffe::X509Svid> first = server_->server_svid().svid();
  EXPECT_EQ(before->SerialHex(), first->leaf().SerialHex());

  clock_.Advance(absl::Minutes(29));
  ASSERT_TRUE(server_->server_svid().Tick().ok());
  EXPECT_EQ(server_->server_svid().svid(), first) << "renewed before half of its lifetime";

  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(server_->server_svid().Tick().ok());
  std::shared_ptr<const spiffe::X509Svid> second = server_->server_svid().svid();
  ASSERT_NE(second->leaf().SerialHex(), first->leaf().SerialHex());
  EXPECT_FALSE(second->key().public_key().Equals(first->key().public_key())) << "a fresh key";

  // gRPC re-reads the files every second; each channel below makes a new handshake.
  std::optional<crypto::Certificate> after;
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  do {
    grpc::Status status = Health(TlsChannel(&ops), &after);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (after->SerialHex() == second->leaf().SerialHex()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_EQ(after->SerialHex(), second->leaf().SerialHex());
}

TEST_F(AdminTlsTest, ClientSvidFromANewCaIsAcceptedOnceTheBundleIsRewritten) {
  ASSERT_TRUE(server_->ca().Prepare(CaKeyKind::kX509).ok());
  ASSERT_TRUE(server_->ca().Activate(CaKeyKind::kX509).ok());
  spiffe::X509Svid ops = Mint(kOpsId);  // signed by the new CA
  ASSERT_TRUE(server_->server_svid().Tick().ok());
  auto bundle = spiffe::ParsePemBundle(*ReadFile(server_->server_svid().bundle_path()));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->x509_authorities().size(), 2u);

  grpc::Status status;
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  do {
    status = Health(TlsChannel(&ops));
    if (status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// ---------------------------------------------------------------- the server SVID

struct FileFacts {
  std::string content;
  mode_t mode = 0;
};

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

FileFacts Facts(const std::string& path) {
  FileFacts facts;
  auto content = ReadFile(path);
  EXPECT_TRUE(content.ok()) << content.status();
  if (content.ok()) facts.content = *content;
  facts.mode = Mode(path);
  return facts;
}

int CountGenerations(const std::string& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string()[0] == 'g') ++n;
  }
  return n;
}

TEST_F(AdminTlsTest, ServerSvidFilesMatchTheSvidAndTheBundle) {
  ServerSvid& svid = server_->server_svid();
  std::shared_ptr<const spiffe::X509Svid> current = svid.svid();
  EXPECT_EQ(current->id().String(), "spiffe://example.org/signet/server");
  EXPECT_EQ(current->key().info().curve, "P-256");

  FileFacts chain = Facts(svid.svid_path());
  FileFacts key = Facts(svid.key_path());
  FileFacts bundle = Facts(svid.bundle_path());
  EXPECT_EQ(chain.content, MustEncode(crypto::ChainToPem(current->chain())));
  EXPECT_EQ(key.content, MustEncode(current->key().ToPkcs8Pem()));
  EXPECT_EQ(key.mode, 0600);
  EXPECT_EQ(bundle.content, BundlePem());
  EXPECT_EQ(Mode(dir_.File("data/server-svid")), 0700);
  // What the files hold is a usable SVID of the trust domain.
  auto parsed = spiffe::X509Svid::Parse(chain.content, key.content);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  spiffe::BundleSet own;
  own.Put(server_->ca().trust_domain(), *server_->ca().Bundle());
  EXPECT_TRUE(spiffe::VerifyX509Svid(parsed->chain(), own, clock_.Now()).ok());
}

TEST_F(AdminTlsTest, ServerSvidKeepsOnlyTheCurrentAndPreviousGeneration) {
  ServerSvid& svid = server_->server_svid();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Minutes(31));
    ASSERT_TRUE(svid.Tick().ok());
  }
  EXPECT_EQ(CountGenerations(dir_.File("data/server-svid")), 2);
  EXPECT_EQ(Facts(svid.svid_path()).content, MustEncode(crypto::ChainToPem(svid.svid()->chain())));
}

TEST_F(AdminTlsTest, ServerSvidIsRenewedWhenItsCaIsTainted) {
  ServerSvid& svid = server_->server_svid();
  std::shared_ptr<const spiffe::X509Svid> first = svid.svid();
  ASSERT_TRUE(server_->ca().Prepare(CaKeyKind::kX509).ok());
  ASSERT_TRUE(server_->ca().Activate(CaKeyKind::kX509).ok());
  ASSERT_TRUE(svid.Tick().ok());
  EXPECT_EQ(svid.svid(), first) << "an old (not tainted) CA still vouches for it";
  std::string old_key_id;
  for (const CaSlotInfo& slot : server_->ca().Show(CaKeyKind::kX509)) {
    if (slot.state == CaSlotState::kOld) old_key_id = slot.key_id;
  }
  ASSERT_FALSE(old_key_id.empty());
  ASSERT_TRUE(server_->ca().Taint(CaKeyKind::kX509, old_key_id).ok());
  ASSERT_TRUE(svid.Tick().ok());
  EXPECT_NE(svid.svid(), first);
}

TEST_F(AdminTlsTest, ServerSvidIsRenewedWhenItNoLongerVerifies) {
  ServerSvid& svid = server_->server_svid();
  std::shared_ptr<const spiffe::X509Svid> first = svid.svid();
  ASSERT_TRUE(server_->ca().Prepare(CaKeyKind::kX509).ok());
  ASSERT_TRUE(server_->ca().Activate(CaKeyKind::kX509).ok());
  std::string old_key_id;
  for (const CaSlotInfo& slot : server_->ca().Show(CaKeyKind::kX509)) {
    if (slot.state == CaSlotState::kOld) old_key_id = slot.key_id;
  }
  ASSERT_FALSE(old_key_id.empty());
  // Taint and revoke at once, so that (unless the server's own ticker runs in between) the SVID's
  // CA is gone from the bundle before Tick() hears that it was tainted.
  ASSERT_TRUE(server_->ca().Taint(CaKeyKind::kX509, old_key_id).ok());
  ASSERT_TRUE(server_->ca().Revoke(CaKeyKind::kX509, old_key_id).ok());
  ASSERT_TRUE(svid.Tick().ok());
  std::shared_ptr<const spiffe::X509Svid> renewed = svid.svid();
  ASSERT_NE(renewed, first);
  spiffe::BundleSet own;
  own.Put(server_->ca().trust_domain(), *server_->ca().Bundle());
  EXPECT_TRUE(spiffe::VerifyX509Svid(renewed->chain(), own, clock_.Now()).ok());
  EXPECT_EQ(Facts(svid.bundle_path()).content, BundlePem()) << "the revoked CA is gone";
}

TEST_F(AdminTlsTest, BundleFileIsRewrittenWhenTheSequenceChanges) {
  ServerSvid& svid = server_->server_svid();
  std::shared_ptr<const spiffe::X509Svid> first = svid.svid();
  ASSERT_TRUE(server_->ca().Prepare(CaKeyKind::kX509).ok());
  ASSERT_TRUE(svid.Tick().ok());
  EXPECT_EQ(svid.svid(), first) << "a bundle change alone keeps the SVID";
  EXPECT_EQ(Facts(svid.bundle_path()).content, BundlePem());
  auto bundle = spiffe::ParsePemBundle(Facts(svid.bundle_path()).content);
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(bundle->x509_authorities().size(), 2u);
}

// ---------------------------------------------------------------- per-call authorization

class SvidAuthProcessorTest : public AdminTlsTest {
 protected:
  void SetUp() override {
    AdminTlsTest::SetUp();
    if (HasFatalFailure()) return;
    api_ = std::make_unique<ApiContext>(
        ApiSettings{.trust_domain = *spiffe::TrustDomain::Parse(kTd), .admin_ids = {Id(kOpsId)}},
        &server_->store(), &server_->ca(), &clock_, nullptr);
    processor_ = std::make_unique<SvidAuthProcessor>(
        api_.get(), std::vector<SvidRule>{{.method_prefix = "/signet.admin.v1.",
                                           .policy = [this](const spiffe::SpiffeId& caller) {
                                             return api_->AuthorizeAdmin(caller);
                                           }}});
  }

  // The properties gRPC's server side sets for a client that presented `svid`: the leaf, and the
  // chain without it.
  static FakeAuthContext PeerOf(const spiffe::X509Svid& svid) {
    FakeAuthContext auth;
    auth.Add(GRPC_X509_PEM_CERT_PROPERTY_NAME, MustEncode(svid.leaf().ToPem()));
    std::vector<crypto::Certificate> rest(svid.chain().begin() + 1, svid.chain().end());
    if (!rest.empty())
      auth.Add(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME, MustEncode(crypto::ChainToPem(rest)));
    return auth;
  }

  grpc::Status Process(absl::string_view method, FakeAuthContext& auth) {
    std::string path(method);
    grpc::AuthMetadataProcessor::InputMetadata md;
    md.emplace(grpc::string_ref(":path"), grpc::string_ref(path));
    grpc::AuthMetadataProcessor::OutputMetadata consumed;
    grpc::AuthMetadataProcessor::OutputMetadata response;
    return processor_->Process(md, &auth, &consumed, &response);
  }

  std::unique_ptr<ApiContext> api_;
  std::unique_ptr<SvidAuthProcessor> processor_;
};

TEST_F(SvidAuthProcessorTest, AdminIdIsAllowedAndNamed) {
  FakeAuthContext auth = PeerOf(Mint(kOpsId));
  auto caller = processor_->Authorize(kAdminMethod, auth);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->String(), kOpsId);
  EXPECT_TRUE(Process(kAdminMethod, auth).ok());
}

TEST_F(SvidAuthProcessorTest, ChainPropertyThatRepeatsTheLeafIsAccepted) {
  spiffe::X509Svid ops = Mint(kOpsId);
  FakeAuthContext auth;
  auth.Add(GRPC_X509_PEM_CERT_PROPERTY_NAME, MustEncode(ops.leaf().ToPem()));
  auth.Add(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME, MustEncode(crypto::ChainToPem(ops.chain())));
  EXPECT_TRUE(processor_->Authorize(kAdminMethod, auth).ok());
}

TEST_F(SvidAuthProcessorTest, SvidExpiredByTheServerClockIsUnauthenticated) {
  // Still valid for the wall clock (what the TLS handshake checks), not for the server's clock.
  FakeAuthContext auth = PeerOf(Mint(kOpsId, absl::Minutes(5)));
  clock_.Advance(absl::Minutes(6));
  auto caller = processor_->Authorize(kAdminMethod, auth);
  EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(caller.status().message(), HasSubstr("expired"));
  grpc::Status status = Process(kAdminMethod, auth);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "the client certificate is not a valid x509-svid of example.org");
}

TEST_F(SvidAuthProcessorTest, SvidOfAnotherCaIsUnauthenticated) {
  testing::TestCa other(kTd, crypto::KeyType::kEcP256, clock_.Now());
  FakeAuthContext auth = PeerOf(other.MintSvid("/ops"));
  EXPECT_EQ(processor_->Authorize(kAdminMethod, auth).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SvidAuthProcessorTest, SvidOfAnotherTrustDomainIsUnauthenticated) {
  testing::TestCa other("other.org", crypto::KeyType::kEcP256, clock_.Now());
  FakeAuthContext auth = PeerOf(other.MintSvid("/ops"));
  EXPECT_EQ(processor_->Authorize(kAdminMethod, auth).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SvidAuthProcessorTest, NoOrGarbledCertificateIsUnauthenticated) {
  FakeAuthContext none;
  EXPECT_EQ(processor_->Authorize(kAdminMethod, none).status().code(),
            absl::StatusCode::kUnauthenticated);
  FakeAuthContext garbled;
  garbled.Add(GRPC_X509_PEM_CERT_PROPERTY_NAME, "-----BEGIN CERTIFICATE-----\nAAAA\n");
  EXPECT_EQ(processor_->Authorize(kAdminMethod, garbled).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SvidAuthProcessorTest, NonAdminIsPermissionDenied) {
  FakeAuthContext auth = PeerOf(Mint("spiffe://example.org/web"));
  grpc::Status status = Process(kAdminMethod, auth);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("spiffe://example.org/web may not call"));
}

TEST_F(SvidAuthProcessorTest, MethodWithoutARuleIsPermissionDeniedEvenForAnAdmin) {
  FakeAuthContext auth = PeerOf(Mint(kOpsId));
  for (absl::string_view method : {"/signet.agent.v1.Agent/Attest", "", "/signet.admin.v1"}) {
    grpc::Status status = Process(method, auth);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method;
    EXPECT_THAT(status.error_message(), HasSubstr("is not served on the tcp listener"));
  }
}

TEST_F(SvidAuthProcessorTest, SvidWhoseCaWasRevokedIsUnauthenticated) {
  FakeAuthContext auth = PeerOf(Mint(kOpsId));  // signed by the first CA
  ASSERT_TRUE(server_->ca().Prepare(CaKeyKind::kX509).ok());
  ASSERT_TRUE(server_->ca().Activate(CaKeyKind::kX509).ok());
  EXPECT_TRUE(processor_->Authorize(kAdminMethod, auth).ok()) << "an old CA is still trusted";
  std::string old_key_id;
  for (const CaSlotInfo& slot : server_->ca().Show(CaKeyKind::kX509)) {
    if (slot.state == CaSlotState::kOld) old_key_id = slot.key_id;
  }
  ASSERT_TRUE(server_->ca().Taint(CaKeyKind::kX509, old_key_id).ok());
  ASSERT_TRUE(server_->ca().Revoke(CaKeyKind::kX509, old_key_id).ok());
  EXPECT_EQ(processor_->Authorize(kAdminMethod, auth).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace signet::server
