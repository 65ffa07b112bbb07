// The agent API's Entries (sync stream) and Svids (batch signing) services end to end, on a real
// in-process server: an agent attests with a join token, then syncs and signs with its SVID.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/csr.h"
#include "src/server/agentapi/agent_services.h"
#include "src/spiffe/jwt_svid.h"
#include "tests/server/agent_api_fixture.h"

namespace signet::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kAgentId[] = "spiffe://example.org/signet/agent/node-1";
constexpr char kOtherAgent[] = "spiffe://example.org/signet/agent/node-2";

// Reads a sync stream on its own thread and keeps what arrived.
class SyncReader {
 public:
  SyncReader(std::shared_ptr<grpc::Channel> channel, int64_t since = 0)
      : SyncReader(std::move(channel), Request(since)) {}
  SyncReader(std::shared_ptr<grpc::Channel> channel, const agent::SyncEntriesRequest& req)
      : stub_(agent::Entries::NewStub(std::move(channel))) {
    stream_ = stub_->SyncEntries(&ctx_, req);
    thread_ = std::thread([this] {
      agent::SyncEntriesResponse resp;
      while (stream_->Read(&resp)) {
        absl::MutexLock lock(&mu_);
        messages_.push_back(resp);
      }
      grpc::Status status = stream_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = status;
    });
  }
  ~SyncReader() {
    ctx_.TryCancel();
    thread_.join();
  }

  // Waits up to `timeout` for `n` messages; returns them.
  std::vector<agent::SyncEntriesResponse> WaitFor(size_t n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= n || status_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return messages_;
  }
  // Waits up to `timeout` for the stream to end; its status (nullopt when still open).
  std::optional<grpc::Status> WaitForEnd(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return status_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&ended), timeout);
    return status_;
  }

 private:
  static agent::SyncEntriesRequest Request(int64_t since) {
    agent::SyncEntriesRequest req;
    req.set_since_revision(since);
    return req;
  }

  std::unique_ptr<agent::Entries::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<agent::SyncEntriesResponse>> stream_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<agent::SyncEntriesResponse> messages_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> status_ ABSL_GUARDED_BY(mu_);
};

std::vector<std::string> SpiffeIds(const agent::SyncEntriesResponse& m) {
  std::vector<std::string> ids;
  for (const agent::Entry& e : m.entries()) ids.push_back(e.spiffe_id());
  return ids;
}

class AgentSyncTest : public AgentApiTest {
 protected:
  void SetUp() override {
    AgentApiTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(Attest("join_token", Token(kAgentId), &agent_).ok());
  }

  // Creates an entry through the admin socket; returns it.
  admin::Entry CreateEntry(const std::string& path, const std::string& parent,
                           std::vector<std::string> dns = {}, int x509_ttl = 0) {
    admin::BatchCreateEntryRequest req;
    admin::Entry* e = req.add_entries();
    e->set_spiffe_id(absl::StrCat("spiffe://example.org", path));
    e->set_parent_id(parent);
    admin::Selector* s = e->add_selectors();
    s->set_type("unix");
    s->set_value(absl::StrCat("uid:", path.size()));
    for (const std::string& name : dns) e->add_dns_names(name);
    e->set_x509_svid_ttl(x509_ttl);
    admin::BatchCreateEntryResponse resp;
    grpc::Status status = admin::Entries::NewStub(uds_)->BatchCreateEntry(Ctx().get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resp.results(0).status().code(), 0) << resp.results(0).status().message();
    return resp.results(0).entry();
  }

  void DeleteEntry(const std::string& id) {
    admin::BatchDeleteEntryRequest req;
    req.add_ids(id);
    admin::BatchDeleteEntryResponse resp;
    ASSERT_TRUE(admin::Entries::NewStub(uds_)->BatchDeleteEntry(Ctx().get(), req, &resp).ok());
  }

  agent::BatchNewX509SvidResponse Sign(
      const std::vector<std::pair<std::string, std::string>>& reqs) {
    agent::BatchNewX509SvidRequest req;
    for (const auto& [entry_id, csr] : reqs) {
      agent::X509SvidRequest* r = req.add_requests();
      r->set_entry_id(entry_id);
      r->set_csr(csr);
    }
    agent::BatchNewX509SvidResponse resp;
    grpc::Status status =
        agent::Svids::NewStub(TlsChannel(&*agent_.svid))->BatchNewX509Svid(Ctx().get(), req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }

  AgentCredentials agent_;
};

TEST_F(AgentSyncTest, SnapshotThenDeltasWithinASecond) {
  CreateEntry("/web", kAgentId);
  CreateEntry("/db", kAgentId);
  CreateEntry("/elsewhere", kOtherAgent);
  // Let the index catch up with the creations before the stream opens.
  absl::SleepFor(absl::Milliseconds(300));
  SyncReader reader(TlsChannel(&*agent_.svid));
  std::vector<agent::SyncEntriesResponse> got = reader.WaitFor(1, absl::Seconds(5));
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(got[0].snapshot());
  EXPECT_FALSE(got[0].more());
  EXPECT_THAT(SpiffeIds(got[0]),
              UnorderedElementsAre("spiffe://example.org/web", "spiffe://example.org/db"));
  EXPECT_THAT(got[0].bundle(), HasSubstr("\"keys\""));
  const int64_t snapshot_revision = got[0].revision();

  const absl::Time created = absl::Now();
  admin::Entry api = CreateEntry("/api", kAgentId);
  got = reader.WaitFor(2, absl::Seconds(5));
  ASSERT_GE(got.size(), 2u);
  EXPECT_LT(absl::Now() - created, absl::Seconds(1)) << "entry create -> agent took too long";
  EXPECT_FALSE(got[1].snapshot());
  EXPECT_THAT(SpiffeIds(got[1]), ElementsAre("spiffe://example.org/api"));
  EXPECT_GT(got[1].revision(), snapshot_revision);
  EXPECT_TRUE(got[1].bundle().empty()) << "the bundle did not change";

  DeleteEntry(api.id());
  got = reader.WaitFor(3, absl::Seconds(5));
  ASSERT_GE(got.size(), 3u);
  EXPECT_THAT(got[2].deleted_ids(), ElementsAre(api.id()));
  EXPECT_THAT(got[2].entries(), IsEmpty());

  // An entry of another agent changes nothing for this one.
  CreateEntry("/elsewhere2", kOtherAgent);
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_EQ(reader.WaitFor(4, absl::ZeroDuration()).size(), 3u);
}

TEST_F(AgentSyncTest, AReconnectingAgentResumesWithOnlyWhatChanged) {
  admin::Entry web = CreateEntry("/web", kAgentId);
  admin::Entry db = CreateEntry("/db", kAgentId);
  admin::Entry old = CreateEntry("/old", kAgentId);
  absl::SleepFor(absl::Milliseconds(300));
  agent::SyncEntriesRequest resume;
  {
    SyncReader first(TlsChannel(&*agent_.svid));
    std::vector<agent::SyncEntriesResponse> got = first.WaitFor(1, absl::Seconds(5));
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].entries_size(), 3);
    resume.set_since_revision(got[0].revision());
    for (const agent::Entry& e : got[0].entries()) {
      agent::KnownEntry* known = resume.add_known();
      known->set_id(e.id());
      known->set_revision(e.revision());
    }
  }
  // While the agent is away: one entry changes, one goes, one comes.
  db.add_dns_names("db.example.org");
  admin::BatchUpdateEntryRequest update;
  *update.add_entries() = db;
  admin::BatchUpdateEntryResponse updated;
  ASSERT_TRUE(admin::Entries::NewStub(uds_)->BatchUpdateEntry(Ctx().get(), update, &updated).ok());
  DeleteEntry(old.id());
  CreateEntry("/new", kAgentId);
  absl::SleepFor(absl::Milliseconds(300));

  SyncReader again(TlsChannel(&*agent_.svid), resume);
  std::vector<agent::SyncEntriesResponse> got = again.WaitFor(1, absl::Seconds(5));
  ASSERT_GE(got.size(), 1u);
  EXPECT_FALSE(got[0].snapshot()) << "a delta against what the agent holds";
  EXPECT_FALSE(got[0].more());
  EXPECT_GT(got[0].revision(), resume.since_revision());
  EXPECT_THAT(SpiffeIds(got[0]),
              UnorderedElementsAre("spiffe://example.org/db", "spiffe://example.org/new"));
  EXPECT_THAT(got[0].deleted_ids(), ElementsAre(old.id()));
  EXPECT_THAT(got[0].bundle(), HasSubstr("\"keys\""));

  // An agent claiming a revision this server never reached starts over with a snapshot.
  agent::SyncEntriesRequest ahead = resume;
  ahead.set_since_revision(got[0].revision() + 1000);
  SyncReader fresh(TlsChannel(&*agent_.svid), ahead);
  got = fresh.WaitFor(1, absl::Seconds(5));
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(got[0].snapshot());
  EXPECT_EQ(got[0].entries_size(), 3);
}

TEST_F(AgentSyncTest, ABadResumeRequestIsRefused) {
  CreateEntry("/web", kAgentId);
  absl::SleepFor(absl::Milliseconds(300));
  for (int bad = 0; bad < 4; ++bad) {
    agent::SyncEntriesRequest req;
    req.set_since_revision(1);
    agent::KnownEntry* e = req.add_known();
    e->set_id("00000000-0000-7000-8000-000000000001");
    e->set_revision(1);
    if (bad == 0) *req.add_known() = *e;  // twice
    if (bad == 1) e->set_id("");
    if (bad == 2) e->set_id(std::string(129, 'a'));
    if (bad == 3) e->set_revision(-1);
    SyncReader reader(TlsChannel(&*agent_.svid), req);
    std::optional<grpc::Status> status = reader.WaitForEnd(absl::Seconds(5));
    ASSERT_TRUE(status.has_value()) << bad;
    EXPECT_EQ(status->error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_THAT(status->error_message(), HasSubstr("known[")) << bad;
    EXPECT_THAT(reader.WaitFor(1, absl::ZeroDuration()), IsEmpty()) << bad;
  }
}

TEST_F(AgentSyncTest, EntryMovedToAnotherAgentIsDeletedForThisOne) {
  admin::Entry web = CreateEntry("/web", kAgentId);
  absl::SleepFor(absl::Milliseconds(300));
  SyncReader reader(TlsChannel(&*agent_.svid));
  ASSERT_GE(reader.WaitFor(1, absl::Seconds(5)).size(), 1u);
  web.set_parent_id(kOtherAgent);
  admin::BatchUpdateEntryRequest req;
  *req.add_entries() = web;
  admin::BatchUpdateEntryResponse resp;
  ASSERT_TRUE(admin::Entries::NewStub(uds_)->BatchUpdateEntry(Ctx().get(), req, &resp).ok());
  std::vector<agent::SyncEntriesResponse> got = reader.WaitFor(2, absl::Seconds(5));
  ASSERT_GE(got.size(), 2u);
  EXPECT_THAT(got[1].deleted_ids(), ElementsAre(web.id()));
}

TEST_F(AgentSyncTest, BanEndsTheOpenStreamWithinTwoSeconds) {
  CreateEntry("/web", kAgentId);
  SyncReader reader(TlsChannel(&*agent_.svid));
  ASSERT_GE(reader.WaitFor(1, absl::Seconds(5)).size(), 1u);
  const absl::Time banned = absl::Now();
  ASSERT_TRUE(AdminAgentCall(kAgentId, /*ban=*/true).ok());
  std::optional<grpc::Status> end = reader.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(end.has_value()) << "the stream is still open";
  EXPECT_LT(absl::Now() - banned, absl::Seconds(2));
  EXPECT_EQ(end->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(end->error_message(), HasSubstr("banned"));
  // And nothing more is signed for it.
  agent::BatchNewX509SvidRequest req;
  agent::BatchNewX509SvidResponse resp;
  req.add_requests()->set_entry_id("x");
  EXPECT_EQ(agent::Svids::NewStub(TlsChannel(&*agent_.svid))
                ->BatchNewX509Svid(Ctx().get(), req, &resp)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentSyncTest, EvictionEndsTheOpenStream) {
  SyncReader reader(TlsChannel(&*agent_.svid));
  ASSERT_GE(reader.WaitFor(1, absl::Seconds(5)).size(), 1u);
  ASSERT_TRUE(AdminAgentCall(kAgentId, /*ban=*/false).ok());
  std::optional<grpc::Status> end = reader.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentSyncTest, NodeEntriesAliasAgentsByTheirNodeSelectors) {
  // Give the agent node selectors (a join token has none; x509pop and jwt agents get them).
  absl::StatusOr<AttestedNode> node = server_->store().GetNode(kAgentId);
  ASSERT_TRUE(node.ok()) << node.status();
  node->selectors = {*Selector::Parse("jwt:claim:cluster:prod"),
                     *Selector::Parse("jwt:claim:zone:a")};
  ASSERT_TRUE(server_->store().UpdateNode(*node).ok());
  // A node entry matching a subset of them, one that needs a selector the node lacks, and a
  // workload entry under each.
  admin::BatchCreateEntryRequest req;
  for (const auto& [alias, selector] : std::vector<std::pair<std::string, std::string>>{
           {"/nodes/prod", "claim:cluster:prod"}, {"/nodes/staging", "claim:cluster:staging"}}) {
    admin::Entry* e = req.add_entries();
    e->set_spiffe_id(absl::StrCat("spiffe://example.org", alias));
    e->set_parent_id("spiffe://example.org/signet/server");
    admin::Selector* s = e->add_selectors();
    s->set_type("jwt");
    s->set_value(selector);
  }
  admin::BatchCreateEntryResponse resp;
  ASSERT_TRUE(admin::Entries::NewStub(uds_)->BatchCreateEntry(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.results(0).status().code(), 0) << resp.results(0).status().message();
  admin::Entry via_prod = CreateEntry("/via-prod", "spiffe://example.org/nodes/prod");
  admin::Entry via_staging = CreateEntry("/via-staging", "spiffe://example.org/nodes/staging");
  absl::SleepFor(absl::Milliseconds(300));

  SyncReader reader(TlsChannel(&*agent_.svid));
  std::vector<agent::SyncEntriesResponse> got = reader.WaitFor(1, absl::Seconds(5));
  ASSERT_GE(got.size(), 1u);
  EXPECT_THAT(SpiffeIds(got[0]), ElementsAre("spiffe://example.org/via-prod"));

  const std::string csr = *crypto::BuildCsrDer(MustGenerate());
  agent::BatchNewX509SvidResponse signed_svids =
      Sign({{via_prod.id(), csr}, {via_staging.id(), csr}});
  EXPECT_EQ(signed_svids.results(0).status().code(), 0);
  EXPECT_EQ(signed_svids.results(1).status().code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentSyncTest, BatchSigningChecksEachItem) {
  admin::Entry web = CreateEntry("/web", kAgentId, {"web.internal"}, /*x509_ttl=*/600);
  admin::Entry theirs = CreateEntry("/theirs", kOtherAgent);
  absl::SleepFor(absl::Milliseconds(300));
  crypto::PrivateKey key = MustGenerate();
  const std::string csr = *crypto::BuildCsrDer(key);
  agent::BatchNewX509SvidResponse resp = Sign({{web.id(), csr},
                                               {theirs.id(), csr},
                                               {"no-such-entry", csr},
                                               {web.id(), "garbage"},
                                               {web.id(), ""}});
  ASSERT_EQ(resp.results_size(), 5);
  ASSERT_EQ(resp.results(0).status().code(), 0) << resp.results(0).status().message();
  auto chain = std::vector<crypto::Certificate>{};
  for (const std::string& der : resp.results(0).cert_chain()) {
    chain.push_back(*crypto::Certificate::FromDer(der));
  }
  auto svid = spiffe::X509Svid::FromParts(chain, key);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id().String(), "spiffe://example.org/web");
  EXPECT_EQ(svid->leaf().NotAfter() - svid->leaf().NotBefore(),
            absl::Seconds(600) + absl::Seconds(10));  // the entry's TTL, backdated 10 s
  EXPECT_THAT(svid->leaf().DnsSans(), ElementsAre("web.internal"));
  spiffe::BundleSet bundles;
  bundles.Put(*spiffe::TrustDomain::Parse(kTd), *server_->ca().Bundle());
  EXPECT_TRUE(spiffe::VerifyX509Svid(svid->chain(), bundles, clock_.Now()).ok());

  EXPECT_EQ(resp.results(1).status().code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(resp.results(2).status().code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(resp.results(3).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(resp.results(3).status().message(), HasSubstr("csr"));
  EXPECT_EQ(resp.results(4).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (int i = 1; i < 5; ++i) EXPECT_EQ(resp.results(i).cert_chain_size(), 0) << i;
}

TEST_F(AgentSyncTest, EmptyAndOversizedBatchesAreRejected) {
  agent::BatchNewX509SvidRequest req;
  agent::BatchNewX509SvidResponse resp;
  auto stub = agent::Svids::NewStub(TlsChannel(&*agent_.svid));
  EXPECT_EQ(stub->BatchNewX509Svid(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  for (int i = 0; i <= kMaxSvidsPerBatch; ++i) req.add_requests()->set_entry_id("e");
  EXPECT_EQ(stub->BatchNewX509Svid(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentSyncTest, JwtSvidsForAuthorizedEntriesOnly) {
  admin::Entry web = CreateEntry("/web", kAgentId);
  admin::Entry theirs = CreateEntry("/theirs", kOtherAgent);
  absl::SleepFor(absl::Milliseconds(300));
  auto stub = agent::Svids::NewStub(TlsChannel(&*agent_.svid));
  agent::NewJwtSvidRequest req;
  req.set_entry_id(web.id());
  req.add_audience("db");
  agent::NewJwtSvidResponse resp;
  grpc::Status status = stub->NewJwtSvid(Ctx().get(), req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  spiffe::BundleSet bundles;
  bundles.Put(*spiffe::TrustDomain::Parse(kTd), *server_->ca().Bundle());
  auto jwt =
      spiffe::ValidateJwtSvid(resp.token(), bundles, {.audience = "db", .now = clock_.Now()});
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->id.String(), "spiffe://example.org/web");
  EXPECT_EQ(resp.expires_at(), absl::ToUnixSeconds(jwt->expiry));

  req.set_entry_id(theirs.id());
  EXPECT_EQ(stub->NewJwtSvid(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  req.set_entry_id(web.id());
  req.clear_audience();
  EXPECT_EQ(stub->NewJwtSvid(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AgentSyncTest, ShutdownEndsOpenStreamsPromptly) {
  SyncReader reader(TlsChannel(&*agent_.svid));
  ASSERT_GE(reader.WaitFor(1, absl::Seconds(5)).size(), 1u);
  const absl::Time start = absl::Now();
  server_->Shutdown(absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "an open stream held the shutdown";
  std::optional<grpc::Status> end = reader.WaitForEnd(absl::Seconds(5));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->error_code(), grpc::StatusCode::UNAVAILABLE);
}

class AgentLimitsTest : public AgentSyncTest {
 protected:
  void Configure(ServerConfig& config) override {
    config.agent_limits = {.max_concurrent_signing = 8, .svids_per_second = 1, .svid_burst = 30};
  }
};

TEST_F(AgentLimitsTest, AnAgentOverItsRateGetsUnavailableAtOnce) {
  admin::Entry web = CreateEntry("/web", kAgentId);
  absl::SleepFor(absl::Milliseconds(300));
  const std::string csr = *crypto::BuildCsrDer(MustGenerate());
  auto stub = agent::Svids::NewStub(TlsChannel(&*agent_.svid));
  auto batch = [&](int n) {
    agent::BatchNewX509SvidRequest req;
    for (int i = 0; i < n; ++i) {
      agent::X509SvidRequest* r = req.add_requests();
      r->set_entry_id(web.id());
      r->set_csr(csr);
    }
    agent::BatchNewX509SvidResponse resp;
    return stub->BatchNewX509Svid(Ctx().get(), req, &resp);
  };
  ASSERT_TRUE(batch(20).ok());
  ASSERT_TRUE(batch(10).ok());  // the burst of 30 is spent
  const absl::Time start = absl::Now();
  grpc::Status refused = batch(5);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("retry with backoff"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1)) << "refused at once, not queued";
  // JWT-SVIDs and renewals count too; the server's clock refills the bucket.
  agent::NewJwtSvidRequest jwt;
  jwt.set_entry_id(web.id());
  jwt.add_audience("db");
  agent::NewJwtSvidResponse token;
  EXPECT_EQ(stub->NewJwtSvid(Ctx().get(), jwt, &token).error_code(), grpc::StatusCode::UNAVAILABLE);
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(batch(5).ok());
  EXPECT_EQ(Renew(&*agent_.svid).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace signet::server::testing
