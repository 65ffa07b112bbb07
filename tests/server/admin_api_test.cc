// The admin API end to end: a real SignetServer (SQLite datastore, disk keys) in this process,
// called through gRPC over its admin Unix socket.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/common/clock.h"
#include "src/crypto/csr.h"
#include "src/server/config/server_config.h"
#include "src/server/datastore/datastore.h"
#include "src/server/entryindex/entry_index.h"
#include "src/server/server.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;
using ::signet::testing::MustGenerate;
using ::signet::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kTd[] = "example.org";

pb::Entry MakeEntry(const std::string& path, const std::string& selector_value) {
  pb::Entry e;
  e.set_spiffe_id(std::string("spiffe://example.org") + path);
  e.set_parent_id("spiffe://example.org/signet/agent/join_token/abc");
  pb::Selector* s = e.add_selectors();
  s->set_type("unix");
  s->set_value(selector_value);
  return e;
}

class AdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerConfig config(*spiffe::TrustDomain::Parse(kTd));
    config.data_dir = dir_.File("data");
    config.admin_socket = dir_.File("admin.sock");
    config.datastore.connection_string = dir_.File("data/ds.sqlite3");
    config.bind_address = "127.0.0.1:0";  // the TCP listener (admin_tls_test covers it)
    config.bind_port = 0;
    auto server = SignetServer::Start(config, clock_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ =
        grpc::CreateChannel("unix:" + config.admin_socket, grpc::InsecureChannelCredentials());
    entries_ = pb::Entries::NewStub(channel_);
    agents_ = pb::Agents::NewStub(channel_);
    bundles_ = pb::Bundles::NewStub(channel_);
    svids_ = pb::Svids::NewStub(channel_);
    authorities_ = pb::Authorities::NewStub(channel_);
    audit_ = pb::Audit::NewStub(channel_);
    health_ = pb::Server::NewStub(channel_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(1));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  pb::BatchCreateEntryResponse Create(const std::vector<pb::Entry>& entries) {
    pb::BatchCreateEntryRequest req;
    for (const auto& e : entries) *req.add_entries() = e;
    pb::BatchCreateEntryResponse resp;
    grpc::Status status = entries_->BatchCreateEntry(Ctx().get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }

  // Creates one entry and returns the per-item result.
  pb::EntryResult CreateOne(const pb::Entry& e) {
    pb::BatchCreateEntryResponse resp = Create({e});
    EXPECT_EQ(resp.results_size(), 1);
    return resp.results_size() == 1 ? resp.results(0) : pb::EntryResult();
  }

  TempDir dir_;
  FakeClock clock_{testing::TestNow()};
  std::unique_ptr<SignetServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Entries::Stub> entries_;
  std::unique_ptr<pb::Agents::Stub> agents_;
  std::unique_ptr<pb::Bundles::Stub> bundles_;
  std::unique_ptr<pb::Svids::Stub> svids_;
  std::unique_ptr<pb::Authorities::Stub> authorities_;
  std::unique_ptr<pb::Audit::Stub> audit_;
  std::unique_ptr<pb::Server::Stub> health_;
};

TEST_F(AdminApiTest, HealthReportsTrustDomain) {
  pb::HealthResponse resp;
  ASSERT_TRUE(health_->Health(Ctx().get(), pb::HealthRequest(), &resp).ok());
  EXPECT_EQ(resp.trust_domain(), kTd);
}

TEST_F(AdminApiTest, EntryWritesReachTheEntryIndexWithinASecond) {
  const std::string parent = "spiffe://example.org/signet/agent/join_token/abc";
  EXPECT_TRUE(server_->entry_index().ByParent(parent).empty());
  pb::EntryResult created = CreateOne(MakeEntry("/indexed", "uid:4242"));
  ASSERT_EQ(created.status().code(), 0) << created.status().message();
  auto wait_until = [&](auto done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    return done();
  };
  ASSERT_TRUE(wait_until([&] { return server_->entry_index().ByParent(parent).size() == 1; }));
  EXPECT_EQ(server_->entry_index().ByParent(parent)[0]->id, created.entry().id());

  pb::BatchDeleteEntryRequest del;
  del.add_ids(created.entry().id());
  pb::BatchDeleteEntryResponse deleted;
  ASSERT_TRUE(entries_->BatchDeleteEntry(Ctx().get(), del, &deleted).ok());
  EXPECT_TRUE(wait_until([&] { return server_->entry_index().ByParent(parent).empty(); }));
}

TEST_F(AdminApiTest, CreateGetListCountDelete) {
  pb::EntryResult created = CreateOne(MakeEntry("/web", "uid:1000"));
  ASSERT_EQ(created.status().code(), 0) << created.status().message();
  const std::string id = created.entry().id();
  EXPECT_EQ(id.size(), 32u);
  EXPECT_GT(created.entry().revision(), 0);

  pb::GetEntryRequest get;
  get.set_id(id);
  pb::Entry fetched;
  ASSERT_TRUE(entries_->GetEntry(Ctx().get(), get, &fetched).ok());
  EXPECT_EQ(fetched.spiffe_id(), "spiffe://example.org/web");
  EXPECT_EQ(fetched.selectors(0).value(), "uid:1000");

  pb::CountEntriesResponse count;
  ASSERT_TRUE(entries_->CountEntries(Ctx().get(), pb::CountEntriesRequest(), &count).ok());
  EXPECT_EQ(count.count(), 1);

  pb::BatchDeleteEntryRequest del;
  del.add_ids(id);
  del.add_ids("00000000000000000000000000000000");
  pb::BatchDeleteEntryResponse deleted;
  ASSERT_TRUE(entries_->BatchDeleteEntry(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.results(0).status().code(), 0);
  EXPECT_EQ(deleted.results(1).status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(entries_->GetEntry(Ctx().get(), get, &fetched).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

struct BadEntryCase {
  std::string name;
  std::function<void(pb::Entry&)> mutate;
  std::string message;
};

class AdminApiBadEntryTest : public AdminApiTest,
                             public ::testing::WithParamInterface<BadEntryCase> {};

TEST_P(AdminApiBadEntryTest, RejectedPerItemNamingTheFieldAndNothingWritten) {
  pb::Entry bad = MakeEntry("/bad", "uid:1");
  GetParam().mutate(bad);
  pb::BatchCreateEntryResponse resp = Create({bad, MakeEntry("/good", "uid:2")});
  ASSERT_EQ(resp.results_size(), 2);
  EXPECT_EQ(resp.results(0).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(resp.results(0).status().message(), HasSubstr(GetParam().message));
  EXPECT_EQ(resp.results(1).status().code(), 0) << "the valid item still succeeds";
  pb::CountEntriesResponse count;
  ASSERT_TRUE(entries_->CountEntries(Ctx().get(), pb::CountEntriesRequest(), &count).ok());
  EXPECT_EQ(count.count(), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AdminApiBadEntryTest,
    ::testing::Values(
        BadEntryCase{"BadSpiffeId",
                     [](pb::Entry& e) { e.set_spiffe_id("spiffe://example.org/a/../b"); },
                     "entry.spiffe_id"},
        BadEntryCase{"ForeignTrustDomain",
                     [](pb::Entry& e) { e.set_spiffe_id("spiffe://other.org/web"); },
                     "is not this server's"},
        BadEntryCase{"ReservedPath",
                     [](pb::Entry& e) { e.set_spiffe_id("spiffe://example.org/signet/server"); },
                     "reserved"},
        BadEntryCase{"MissingParent", [](pb::Entry& e) { e.clear_parent_id(); },
                     "entry.parent_id: required"},
        BadEntryCase{"NoSelectors", [](pb::Entry& e) { e.clear_selectors(); },
                     "entry.selectors: at least one"},
        BadEntryCase{"SelectorWithoutValue",
                     [](pb::Entry& e) { e.mutable_selectors(0)->set_value(""); },
                     "entry.selectors[0]: selector: empty value"},
        BadEntryCase{"UnknownSelectorType",
                     [](pb::Entry& e) { e.mutable_selectors(0)->set_type("bogus"); },
                     "unknown selector type \"bogus\""},
        BadEntryCase{"X509TtlTooLong", [](pb::Entry& e) { e.set_x509_svid_ttl(999999999); },
                     "entry.x509_svid_ttl"},
        BadEntryCase{"JwtTtlTooShort", [](pb::Entry& e) { e.set_jwt_svid_ttl(3); },
                     "entry.jwt_svid_ttl"},
        BadEntryCase{"NegativeTtl", [](pb::Entry& e) { e.set_x509_svid_ttl(-5); },
                     "entry.x509_svid_ttl"},
        BadEntryCase{"BadDnsName", [](pb::Entry& e) { e.add_dns_names("bad_name!"); },
                     "entry.dns_names[0]"},
        BadEntryCase{"FederatesWithSelf", [](pb::Entry& e) { e.add_federates_with("example.org"); },
                     "entry.federates_with[0]"},
        BadEntryCase{"HintWithControlChar", [](pb::Entry& e) { e.set_hint("a\nb"); }, "entry.hint"},
        BadEntryCase{"BadId", [](pb::Entry& e) { e.set_id("not-hex"); }, "entry.id"}),
    [](const ::testing::TestParamInfo<BadEntryCase>& info) { return info.param.name; });

TEST_F(AdminApiTest, DuplicateEntryIsAlreadyExists) {
  ASSERT_EQ(CreateOne(MakeEntry("/web", "uid:1000")).status().code(), 0);
  pb::EntryResult dup = CreateOne(MakeEntry("/web", "uid:1000"));
  EXPECT_EQ(dup.status().code(), grpc::StatusCode::ALREADY_EXISTS);
  // Same ID and parent with other selectors is a different entry.
  EXPECT_EQ(CreateOne(MakeEntry("/web", "uid:1001")).status().code(), 0);
}

TEST_F(AdminApiTest, EmptyAndOversizedBatchesAreRejected) {
  pb::BatchCreateEntryResponse resp;
  grpc::Status status =
      entries_->BatchCreateEntry(Ctx().get(), pb::BatchCreateEntryRequest(), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  pb::BatchCreateEntryRequest big;
  for (int i = 0; i <= kMaxBatchSize; ++i) *big.add_entries() = MakeEntry("/x", "uid:1");
  status = entries_->BatchCreateEntry(Ctx().get(), big, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("batch limit"));
}

TEST_F(AdminApiTest, ListPagesAndFilters) {
  std::vector<pb::Entry> batch;
  for (int i = 0; i < 25; ++i) {
    batch.push_back(MakeEntry("/svc" + std::to_string(i), "uid:" + std::to_string(i)));
  }
  pb::Entry k8s = MakeEntry("/k8s", "uid:7");
  pb::Selector* extra = k8s.add_selectors();
  extra->set_type("k8s");
  extra->set_value("ns:prod");
  batch.push_back(k8s);
  pb::BatchCreateEntryResponse created = Create(batch);
  for (const pb::EntryResult& r : created.results()) ASSERT_EQ(r.status().code(), 0);

  pb::ListEntriesRequest req;
  req.set_page_size(10);
  int seen = 0;
  int pages = 0;
  do {
    pb::ListEntriesResponse resp;
    ASSERT_TRUE(entries_->ListEntries(Ctx().get(), req, &resp).ok());
    seen += resp.entries_size();
    ++pages;
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(seen, 26);
  EXPECT_EQ(pages, 3);

  pb::ListEntriesRequest by_sel;
  pb::Selector* s = by_sel.mutable_filter()->add_by_selectors();
  s->set_type("unix");
  s->set_value("uid:7");
  by_sel.mutable_filter()->set_selector_match(pb::SELECTOR_MATCH_SUPERSET);
  pb::ListEntriesResponse found;
  ASSERT_TRUE(entries_->ListEntries(Ctx().get(), by_sel, &found).ok());
  EXPECT_EQ(found.entries_size(), 2);  // /svc7 and /k8s
  by_sel.mutable_filter()->set_selector_match(pb::SELECTOR_MATCH_EXACT);
  found.Clear();
  ASSERT_TRUE(entries_->ListEntries(Ctx().get(), by_sel, &found).ok());
  ASSERT_EQ(found.entries_size(), 1);
  EXPECT_EQ(found.entries(0).spiffe_id(), "spiffe://example.org/svc7");

  pb::ListEntriesRequest oversized;
  oversized.set_page_size(kMaxPageSize + 1);
  EXPECT_EQ(entries_->ListEntries(Ctx().get(), oversized, &found).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  pb::ListEntriesRequest garbage;
  garbage.set_page_token("!!not-a-token!!");
  EXPECT_EQ(entries_->ListEntries(Ctx().get(), garbage, &found).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminApiTest, UpdateIsConditionalOnRevision) {
  pb::EntryResult created = CreateOne(MakeEntry("/web", "uid:1000"));
  ASSERT_EQ(created.status().code(), 0);
  pb::Entry changed = created.entry();
  changed.set_hint("frontend");
  pb::BatchUpdateEntryRequest req;
  *req.add_entries() = changed;
  pb::BatchUpdateEntryResponse resp;
  ASSERT_TRUE(entries_->BatchUpdateEntry(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.results(0).status().code(), 0) << resp.results(0).status().message();
  EXPECT_EQ(resp.results(0).entry().hint(), "frontend");
  EXPECT_GT(resp.results(0).entry().revision(), created.entry().revision());
  // The same (now stale) revision again: FailedPrecondition, nothing changed.
  changed.set_hint("other");
  *req.mutable_entries(0) = changed;
  resp.Clear();
  ASSERT_TRUE(entries_->BatchUpdateEntry(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.results(0).status().code(), grpc::StatusCode::FAILED_PRECONDITION);
  pb::GetEntryRequest get;
  get.set_id(created.entry().id());
  pb::Entry now;
  ASSERT_TRUE(entries_->GetEntry(Ctx().get(), get, &now).ok());
  EXPECT_EQ(now.hint(), "frontend");
}

TEST_F(AdminApiTest, JoinTokensAndAgents) {
  pb::CreateJoinTokenRequest req;
  req.set_ttl(60);
  pb::JoinToken token;
  ASSERT_TRUE(agents_->CreateJoinToken(Ctx().get(), req, &token).ok());
  EXPECT_EQ(token.token().size(), 32u);
  EXPECT_EQ(token.expires_at(), absl::ToUnixSeconds(testing::TestNow()) + 60);
  req.set_ttl(-1);
  EXPECT_EQ(agents_->CreateJoinToken(Ctx().get(), req, &token).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_ttl(0);
  req.set_spiffe_id("spiffe://other.org/agent");
  EXPECT_EQ(agents_->CreateJoinToken(Ctx().get(), req, &token).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Agents: an attested node written directly (attestation arrives with the agent API).
  AttestedNode node{.spiffe_id = "spiffe://example.org/signet/agent/x509pop/abc",
                    .attestation_type = "x509pop",
                    .cert_serial = "01",
                    .cert_not_after = testing::TestNow() + absl::Hours(1)};
  ASSERT_TRUE(server_->store().CreateNode(node).ok());
  pb::ListAgentsResponse list;
  ASSERT_TRUE(agents_->ListAgents(Ctx().get(), pb::ListAgentsRequest(), &list).ok());
  ASSERT_EQ(list.agents_size(), 1);
  pb::AgentRequest which;
  which.set_spiffe_id(node.spiffe_id);
  pb::Agent agent;
  ASSERT_TRUE(agents_->BanAgent(Ctx().get(), which, &agent).ok());
  EXPECT_TRUE(agent.banned());
  ASSERT_TRUE(agents_->EvictAgent(Ctx().get(), which, &agent).ok());
  EXPECT_EQ(agents_->GetAgent(Ctx().get(), which, &agent).error_code(),
            grpc::StatusCode::NOT_FOUND);
  which.set_spiffe_id("not an id");
  EXPECT_EQ(agents_->GetAgent(Ctx().get(), which, &agent).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminApiTest, MintedSvidsVerifyAgainstTheServedBundle) {
  pb::Bundle bundle;
  ASSERT_TRUE(bundles_->GetBundle(Ctx().get(), pb::GetBundleRequest(), &bundle).ok());
  auto parsed = spiffe::ParseSpiffeBundle(bundle.spiffe_json());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  spiffe::BundleSet set;
  set.Put(*spiffe::TrustDomain::Parse(kTd), *parsed);

  crypto::PrivateKey key = MustGenerate();
  pb::MintX509SvidRequest x509;
  x509.set_csr(*crypto::BuildCsrDer(key));
  x509.set_spiffe_id("spiffe://example.org/op");
  x509.set_ttl(600);
  x509.add_dns_names("op.example.org");
  pb::MintX509SvidResponse minted;
  grpc::Status status = svids_->MintX509Svid(Ctx().get(), x509, &minted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<crypto::Certificate> chain;
  for (const std::string& der : minted.chain()) chain.push_back(*crypto::Certificate::FromDer(der));
  auto verified = spiffe::VerifyX509Svid(chain, set, clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(minted.expires_at(), absl::ToUnixSeconds(clock_.Now()) + 600);

  pb::MintJwtSvidRequest jwt;
  jwt.set_spiffe_id("spiffe://example.org/op");
  jwt.add_audience("db");
  pb::MintJwtSvidResponse token;
  ASSERT_TRUE(svids_->MintJwtSvid(Ctx().get(), jwt, &token).ok());
  auto svid = spiffe::ValidateJwtSvid(token.token(), set, {.audience = "db", .now = clock_.Now()});
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id.String(), "spiffe://example.org/op");
}

TEST_F(AdminApiTest, MintRejectsBadRequests) {
  pb::MintX509SvidRequest x509;
  x509.set_spiffe_id("spiffe://example.org/op");
  x509.set_csr("garbage");
  pb::MintX509SvidResponse minted;
  grpc::Status status = svids_->MintX509Svid(Ctx().get(), x509, &minted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("csr"));
  x509.set_csr(*crypto::BuildCsrDer(MustGenerate()));
  x509.set_spiffe_id("spiffe://other.org/op");
  EXPECT_EQ(svids_->MintX509Svid(Ctx().get(), x509, &minted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  x509.set_spiffe_id("spiffe://example.org/signet/server");
  EXPECT_EQ(svids_->MintX509Svid(Ctx().get(), x509, &minted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  pb::MintJwtSvidRequest jwt;
  jwt.set_spiffe_id("spiffe://example.org/op");
  pb::MintJwtSvidResponse token;
  status = svids_->MintJwtSvid(Ctx().get(), jwt, &token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("audience"));
  jwt.add_audience("db");
  jwt.set_ttl(86401);
  EXPECT_EQ(svids_->MintJwtSvid(Ctx().get(), jwt, &token).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminApiTest, FederatedBundles) {
  testing::TestCa other("other.org");
  pb::SetFederatedBundleRequest set;
  set.set_trust_domain("other.org");
  set.set_bundle(*other.root().ToPem());
  pb::Bundle stored;
  ASSERT_TRUE(bundles_->SetFederatedBundle(Ctx().get(), set, &stored).ok());
  EXPECT_EQ(stored.x509_authorities_size(), 1);

  set.set_trust_domain("example.org");
  EXPECT_EQ(bundles_->SetFederatedBundle(Ctx().get(), set, &stored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  set.set_trust_domain("third.org");
  set.set_bundle("not a bundle");
  EXPECT_EQ(bundles_->SetFederatedBundle(Ctx().get(), set, &stored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  pb::ListFederatedBundlesResponse list;
  ASSERT_TRUE(
      bundles_->ListFederatedBundles(Ctx().get(), pb::ListFederatedBundlesRequest(), &list).ok());
  ASSERT_EQ(list.bundles_size(), 1);
  EXPECT_EQ(list.bundles(0).trust_domain(), "other.org");

  pb::DeleteFederatedBundleRequest del;
  del.set_trust_domain("other.org");
  pb::DeleteFederatedBundleResponse deleted;
  ASSERT_TRUE(bundles_->DeleteFederatedBundle(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(bundles_->DeleteFederatedBundle(Ctx().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminApiTest, ForcedRotationThroughTheApi) {
  pb::AuthorityRequest req;
  req.set_kind(pb::AUTHORITY_KIND_X509);
  pb::AuthorityResponse resp;
  ASSERT_TRUE(authorities_->ShowAuthorities(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.authorities_size(), 1);
  const std::string first = resp.authorities(0).key_id();
  EXPECT_EQ(resp.authorities(0).state(), "active");

  // Activating with nothing prepared fails; taint of the active key fails.
  EXPECT_EQ(authorities_->ActivateAuthority(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  req.set_key_id(first);
  EXPECT_EQ(authorities_->TaintAuthority(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(authorities_->PrepareAuthority(Ctx().get(), req, &resp).ok());
  ASSERT_TRUE(authorities_->ActivateAuthority(Ctx().get(), req, &resp).ok());
  ASSERT_TRUE(authorities_->TaintAuthority(Ctx().get(), req, &resp).ok());
  pb::Bundle before;
  ASSERT_TRUE(bundles_->GetBundle(Ctx().get(), pb::GetBundleRequest(), &before).ok());
  EXPECT_EQ(before.x509_authorities_size(), 2);
  ASSERT_TRUE(authorities_->RevokeAuthority(Ctx().get(), req, &resp).ok());
  pb::Bundle after;
  ASSERT_TRUE(bundles_->GetBundle(Ctx().get(), pb::GetBundleRequest(), &after).ok());
  EXPECT_EQ(after.x509_authorities_size(), 1);
  EXPECT_GT(after.sequence(), before.sequence());

  req.set_kind(pb::AUTHORITY_KIND_UNSPECIFIED);
  EXPECT_EQ(authorities_->ShowAuthorities(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminApiTest, EveryCallIsAuditedWithCallerAndNoSecrets) {
  ASSERT_EQ(CreateOne(MakeEntry("/web", "uid:1000")).status().code(), 0);
  pb::CreateJoinTokenRequest tok;
  pb::JoinToken token;
  ASSERT_TRUE(agents_->CreateJoinToken(Ctx().get(), tok, &token).ok());
  crypto::PrivateKey key = MustGenerate();
  pb::MintX509SvidRequest x509;
  x509.set_csr(*crypto::BuildCsrDer(key));
  x509.set_spiffe_id("spiffe://example.org/op");
  pb::MintX509SvidResponse minted;
  ASSERT_TRUE(svids_->MintX509Svid(Ctx().get(), x509, &minted).ok());
  x509.set_spiffe_id("spiffe://other.org/op");
  EXPECT_FALSE(svids_->MintX509Svid(Ctx().get(), x509, &minted).ok());

  pb::ListAuditEventsResponse events;
  ASSERT_TRUE(audit_->ListAuditEvents(Ctx().get(), pb::ListAuditEventsRequest(), &events).ok());
  std::vector<std::string> actions;
  for (const pb::AuditEvent& e : events.events()) {
    actions.push_back(e.action() + " " + e.result());
    EXPECT_EQ(e.caller(), "uid:" + std::to_string(geteuid()));
    EXPECT_THAT(e.detail(), ::testing::Not(HasSubstr(token.token())));
    EXPECT_THAT(e.target(), ::testing::Not(HasSubstr(token.token())));
  }
  EXPECT_THAT(actions, ::testing::IsSupersetOf({"entry.create ok", "token.create ok",
                                                "x509.mint ok", "x509.mint invalid_argument"}));

  pb::ListAuditEventsRequest by_id;
  by_id.set_spiffe_id("spiffe://example.org/op");
  ASSERT_TRUE(audit_->ListAuditEvents(Ctx().get(), by_id, &events).ok());
  EXPECT_GE(events.events_size(), 1);
  for (const pb::AuditEvent& e : events.events()) EXPECT_EQ(e.target(), "spiffe://example.org/op");
}

}  // namespace
}  // namespace signet::server

namespace signet::server {
namespace {

TEST(ServerStartTest, SecondServerOnTheSamePortOrSocketFailsLoudly) {
  TempDir dir;
  ServerConfig config(*spiffe::TrustDomain::Parse(kTd));
  config.data_dir = dir.File("a");
  config.admin_socket = dir.File("a.sock");
  config.datastore.connection_string = dir.File("a.sqlite3");
  config.bind_address = "127.0.0.1:0";
  FakeClock clock(testing::TestNow());
  auto first = SignetServer::Start(config, clock);
  ASSERT_TRUE(first.ok()) << first.status();

  ServerConfig same_port = config;
  same_port.data_dir = dir.File("b");
  same_port.admin_socket = dir.File("b.sock");
  same_port.datastore.connection_string = dir.File("b.sqlite3");
  same_port.bind_address = absl::StrCat("127.0.0.1:", (*first)->tcp_port());
  auto second = SignetServer::Start(same_port, clock);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("bind_address"));

  ServerConfig same_socket = config;
  same_socket.data_dir = dir.File("c");
  same_socket.datastore.connection_string = dir.File("c.sqlite3");
  auto third = SignetServer::Start(same_socket, clock);
  ASSERT_FALSE(third.ok());
  EXPECT_THAT(third.status().message(), HasSubstr("already in use"));
  (*first)->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace signet::server

namespace signet::server {
namespace {

TEST_F(AdminApiTest, AuditRecordsHostileTextEscapedAndBadAudiencesAreRefused) {
  pb::GetEntryRequest get;
  // proto3 strings are UTF-8 on the wire (gRPC refuses anything else before our code runs), so
  // the hostile part here is a control character, a backslash and non-ASCII text.
  get.set_id(
      "\x01"
      "abc\\\xc3\xa9");
  pb::Entry entry;
  EXPECT_FALSE(entries_->GetEntry(Ctx().get(), get, &entry).ok());
  pb::MintJwtSvidRequest jwt;
  jwt.set_spiffe_id("spiffe://example.org/op");
  jwt.add_audience("a\x01");
  pb::MintJwtSvidResponse token;
  grpc::Status status = svids_->MintJwtSvid(Ctx().get(), jwt, &token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("audience[0]: contains a control character"));

  pb::ListAuditEventsResponse events;
  ASSERT_TRUE(audit_->ListAuditEvents(Ctx().get(), pb::ListAuditEventsRequest(), &events).ok());
  bool saw_get = false;
  bool saw_mint = false;
  for (const pb::AuditEvent& e : events.events()) {
    if (e.action() == "entry.get") {
      saw_get = true;
      EXPECT_EQ(e.target(), "\\x01abc\\x5c\\xc3\\xa9");
    }
    if (e.action() == "jwt.mint") saw_mint = e.result() == "invalid_argument";
  }
  EXPECT_TRUE(saw_get) << "a request with hostile text must still be audited";
  EXPECT_TRUE(saw_mint);
}

TEST_F(AdminApiTest, JoinTokenAgentIdMustBeInTheAgentNamespace) {
  pb::CreateJoinTokenRequest req;
  pb::JoinToken token;
  for (const char* bad : {"spiffe://example.org/web", "spiffe://example.org/signet/server",
                          "spiffe://example.org/signet/agentx"}) {
    req.set_spiffe_id(bad);
    EXPECT_EQ(agents_->CreateJoinToken(Ctx().get(), req, &token).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << bad;
  }
  req.set_spiffe_id("spiffe://example.org/signet/agent/node-1");
  EXPECT_TRUE(agents_->CreateJoinToken(Ctx().get(), req, &token).ok());
}

}  // namespace
}  // namespace signet::server
