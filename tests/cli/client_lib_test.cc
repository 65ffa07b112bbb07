// libsignet-client against a real `signet agent run` (and `signet server run`): the sources, the
// mTLS contexts with each authorizer, rotation picked up by new handshakes while an established
// connection carries on, JWT-SVIDs fetched and validated, reconnection after an agent restart.
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/tls.h"
#include "signet/workload.h"
#include "src/spiffe/x509_svid.h"
#include "tests/cli/agent_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::WaitFor;
using ::testing::HasSubstr;

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A client and a server SSL joined by an in-memory BIO pair, handshaken in one thread.
struct TlsPair {
  SslPtr client;
  SslPtr server;
  bool ok = false;
};

TlsPair Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  TlsPair p{SslPtr(SSL_new(client_ctx)), SslPtr(SSL_new(server_ctx))};
  BIO* a = nullptr;
  BIO* b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(p.client.get(), a, a);
  SSL_set_bio(p.server.get(), b, b);
  SSL_set_connect_state(p.client.get());
  SSL_set_accept_state(p.server.get());
  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 100 && !(client_done && server_done); ++i) {
    for (auto [ssl, done] :
         {std::pair{p.client.get(), &client_done}, std::pair{p.server.get(), &server_done}}) {
      if (*done) continue;
      const int r = SSL_do_handshake(ssl);
      if (r == 1) {
        *done = true;
      } else {
        const int err = SSL_get_error(ssl, r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return p;
      }
    }
  }
  p.ok = client_done && server_done;
  return p;
}

bool RoundTrip(const TlsPair& p) {
  char buf[8] = {};
  return SSL_write(p.client.get(), "ping", 4) == 4 && SSL_read(p.server.get(), buf, 8) == 4 &&
         std::string(buf, 4) == "ping";
}

class ClientLibTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    StartWorkloadAgent();
  }
  void CreateEntry(const std::string& path, const std::string& extra = "") {
    std::string out;
    ASSERT_EQ(
        Admin(absl::StrCat("entry create --spiffe-id spiffe://example.org", path, " --parent-id ",
                           kAgentId, " --selector unix:uid:", getuid(), " ", extra),
              &out),
        0)
        << out;
  }
  SourceOptions Options() {
    SourceOptions o;
    o.address = "unix://" + SocketPath("w");
    o.min_backoff = std::chrono::milliseconds(50);
    o.max_backoff = std::chrono::milliseconds(200);
    return o;
  }
};

TEST_F(ClientLibTest, X509SourceGivesTheSvidAndMtlsAuthorizesByRule) {
  CreateEntry("/web");
  absl::StatusOr<std::shared_ptr<X509Source>> source = X509Source::Create(Options());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<X509Svid> svid = (*source)->Svid();
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->spiffe_id, "spiffe://example.org/web");
  EXPECT_FALSE(svid->chain_der.empty());
  EXPECT_THAT(svid->ChainPem(), HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(svid->PrivateKeyPem(), HasSubstr("BEGIN PRIVATE KEY"));
  EXPECT_TRUE((*source)->BundleFor("example.org").ok());
  EXPECT_EQ((*source)->Svid("spiffe://example.org/other").status().code(),
            absl::StatusCode::kNotFound);

  auto client = NewMtlsClientContext(*source, AuthorizeId("spiffe://example.org/web"));
  ASSERT_TRUE(client.ok()) << client.status();
  struct Case {
    Authorizer authorize;
    bool allowed;
    std::string why;
  };
  const Case cases[] = {
      {AuthorizeAny(), true, ""},
      {AuthorizeId("spiffe://example.org/web"), true, ""},
      {AuthorizeOneOf({"spiffe://example.org/a", "spiffe://example.org/web"}), true, ""},
      {AuthorizeMemberOf("example.org"), true, ""},
      {AuthorizeIf([](const std::string& id) { return id.ends_with("/web"); }), true, ""},
      {AuthorizeId("spiffe://example.org/db"), false, "is not spiffe://example.org/db"},
      {AuthorizeOneOf({"spiffe://example.org/a"}), false, "is not one of"},
      {AuthorizeMemberOf("other.org"), false, "is not a member of other.org"},
      {AuthorizeMemberOf("spiffe://example.org"), true, ""},  // the ID form works too
      {AuthorizeMemberOf("Bad..domain"), false, "cannot be checked"},
      {AuthorizeIf([](const std::string&) { return false; }), false, "custom rule"},
  };
  for (const Case& c : cases) {
    auto server = NewMtlsServerContext(*source, c.authorize);
    ASSERT_TRUE(server.ok()) << server.status();
    TlsPair p = Handshake(client->get(), server->get());
    EXPECT_EQ(p.ok, c.allowed) << c.why;
    if (c.allowed) {
      EXPECT_EQ(PeerSpiffeId(p.server.get()), "spiffe://example.org/web");
      EXPECT_EQ(PeerSpiffeId(p.client.get()), "spiffe://example.org/web");
      EXPECT_TRUE(RoundTrip(p));
    } else {
      EXPECT_EQ(PeerSpiffeId(p.server.get()), "");
      EXPECT_EQ(RefusedPeerId(p.server.get()), "spiffe://example.org/web");
      EXPECT_THAT(PeerError(p.server.get()), HasSubstr(c.why));
    }
  }
}

TEST_F(ClientLibTest, APeerFromAnotherTrustDomainOrWithoutACertificateIsRefused) {
  CreateEntry("/web");
  auto source = X509Source::Create(Options());
  ASSERT_TRUE(source.ok()) << source.status();
  auto server = NewMtlsServerContext(*source, AuthorizeAny());
  ASSERT_TRUE(server.ok());
  // A plain TLS client that presents no certificate.
  SslCtxPtr plain(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(plain.get(), SSL_VERIFY_NONE, nullptr);
  EXPECT_FALSE(Handshake(plain.get(), server->get()).ok);
  // A client whose SVID (the right SPIFFE ID) is signed by a CA the bundle does not hold.
  crypto::PrivateKey key = *crypto::PrivateKey::Generate(crypto::KeyType::kEcP256);
  const absl::Time now = absl::Now();
  crypto::Certificate ca = *spiffe::IssueCaCertificate(
      {.trust_domain = *spiffe::TrustDomain::Parse("example.org"), .subject = "CN=Impostor CA"},
      key.public_key(), nullptr, key, now);
  crypto::Certificate leaf = *spiffe::IssueLeafSvid(
      {.id = *spiffe::SpiffeId::Parse("spiffe://example.org/web")}, key.public_key(), ca, key, now);
  SslCtxPtr forged(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(forged.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_use_certificate(forged.get(), leaf.get());
  SSL_CTX_use_PrivateKey(forged.get(), key.get());
  TlsPair p = Handshake(forged.get(), server->get());
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(RefusedPeerId(p.server.get()), "") << "an SVID that did not verify names no one";
  EXPECT_THAT(PeerError(p.server.get()), HasSubstr("the peer's X509-SVID"));
}

TEST_F(ClientLibTest, AnExpiredPeerSvidIsRefusedAtTheInjectedTime) {
  CreateEntry("/web");
  auto source = X509Source::Create(Options());
  ASSERT_TRUE(source.ok()) << source.status();
  auto client = NewMtlsClientContext(*source, AuthorizeAny());
  TlsOptions later;
  later.now = [] { return std::chrono::system_clock::now() + std::chrono::hours(48); };
  auto server = NewMtlsServerContext(*source, AuthorizeAny(), later);
  ASSERT_TRUE(client.ok() && server.ok());
  TlsPair p = Handshake(client->get(), server->get());
  EXPECT_FALSE(p.ok);
  EXPECT_THAT(PeerError(p.server.get()), HasSubstr("the peer's X509-SVID"));
  later.now = nullptr;
  EXPECT_EQ(NewMtlsServerContext(*source, AuthorizeAny(), later).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientLibTest, RotatedSvidsAreUsedByNewHandshakesWhileOpenConnectionsCarryOn) {
  CreateEntry("/short", "--x509-svid-ttl 10s");
  auto source = X509Source::Create(Options());
  ASSERT_TRUE(source.ok()) << source.status();
  std::atomic<int> seen{0};
  const int handle = (*source)->Subscribe([&](const X509Update&) { ++seen; });
  EXPECT_EQ(seen.load(), 1) << "called once at once";
  auto client = NewMtlsClientContext(*source, AuthorizeMemberOf("example.org"));
  auto server = NewMtlsServerContext(*source, AuthorizeMemberOf("example.org"));
  ASSERT_TRUE(client.ok() && server.ok());
  TlsPair before = Handshake(client->get(), server->get());
  ASSERT_TRUE(before.ok);
  const std::string first = (*source)->Svid()->chain_der.front();
  ASSERT_TRUE(
      WaitFor([&] { return (*source)->Svid()->chain_der.front() != first; }, absl::Seconds(15)))
      << agent_->Log();
  EXPECT_GE(seen.load(), 2);
  (*source)->Unsubscribe(handle);
  TlsPair after = Handshake(client->get(), server->get());
  ASSERT_TRUE(after.ok);
  X509* presented = SSL_get0_peer_certificate(after.client.get());
  ASSERT_NE(presented, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_X509(presented, &der);
  const std::string presented_der(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  EXPECT_NE(presented_der, first) << "the new handshake presents the rotated SVID";
  EXPECT_TRUE(RoundTrip(before)) << "the connection made before the rotation still works";
}

TEST_F(ClientLibTest, JwtSourceFetchesAndValidatesTokens) {
  CreateEntry("/web");
  auto jwt = JwtSource::Create(Options());
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  int calls = 0;
  std::map<std::string, std::string> seen;
  const int handle = (*jwt)->Subscribe([&](const std::map<std::string, std::string>& b) {
    ++calls;
    seen = b;
  });
  EXPECT_EQ(calls, 1) << "called once at once";
  EXPECT_TRUE(seen.contains("example.org"));
  EXPECT_GE((*jwt)->updates(), 1u);
  (*jwt)->Unsubscribe(handle);
  absl::StatusOr<std::string> token = (*jwt)->FetchToken("db");
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<JwtSvidClaims> claims = (*jwt)->ValidateJwt(*token, "db");
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->spiffe_id, "spiffe://example.org/web");
  EXPECT_THAT(claims->audience, ::testing::ElementsAre("db"));
  EXPECT_GT(claims->expires_at, std::chrono::system_clock::now());
  EXPECT_EQ((*jwt)->ValidateJwt(*token, "other").status().code(),
            absl::StatusCode::kUnauthenticated);
  std::string tampered = *token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE((*jwt)->ValidateJwt(tampered, "db").ok());
  // The free function, with the bundles as JSON.
  EXPECT_TRUE(ValidateJwt(*token, "db", (*jwt)->Bundles()).ok());
  EXPECT_FALSE(ValidateJwt(*token, "db", {}).ok());
  // A token long past its expiry.
  EXPECT_EQ(ValidateJwt(*token, "db", (*jwt)->Bundles(),
                        std::chrono::system_clock::now() + std::chrono::hours(24))
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*jwt)->FetchToken("db", "spiffe://example.org/nope").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ClientLibTest, CreateFailsClearlyWithoutAnIdentityOrAnAgent) {
  SourceOptions o = Options();
  o.first_update_timeout = std::chrono::milliseconds(1500);
  absl::StatusOr<std::shared_ptr<X509Source>> none = X509Source::Create(o);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(none.status().message(), HasSubstr("code 7"));  // PermissionDenied
  o.address = "unix://" + dir_.File("nothing.sock");
  EXPECT_EQ(X509Source::Create(o).status().code(), absl::StatusCode::kUnavailable);
  o.address = "relative/path";
  EXPECT_EQ(X509Source::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientLibTest, TheSourceReconnectsAfterTheAgentRestarts) {
  CreateEntry("/web");
  auto source = X509Source::Create(Options());
  ASSERT_TRUE(source.ok()) << source.status();
  const uint64_t before = (*source)->updates();
  agent_->Signal(SIGTERM);
  ASSERT_EQ(agent_->Wait(), 0) << agent_->Log();
  // Meanwhile the last SVID is still served.
  EXPECT_TRUE((*source)->Svid().ok());
  agent_ = StartAgent("w", dir_.File("agent-w.yaml"));
  ASSERT_TRUE(WaitFor([&] { return (*source)->updates() > before; }, absl::Seconds(15)))
      << agent_->Log();
  EXPECT_TRUE((*source)->Svid().ok());
}

}  // namespace
}  // namespace signet
