// Crash safety: SIGKILL the real server process while 1,000 entry creations are in flight, then
// restart it on the same datastore (SQLite, then PostgreSQL) and check that every acknowledged
// entry is there and whole, that nothing unacknowledged is half-written, and that the CA and JWT
// keys load with the bundle unchanged.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/crypto/csr.h"
#include "src/server/datastore/datastore_test_backend.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;
using ::signet::testing::Subprocess;
using ::signet::testing::TempDir;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;

constexpr int kEntries = 1000;
constexpr int kThreads = 8;

// The entry creation number `i` sends: the SPIFFE ID and both selectors are derived from `i`, so
// that any stored entry can be checked field by field.
pb::Entry EntryNumber(int i) {
  pb::Entry e;
  e.set_spiffe_id(absl::StrCat("spiffe://example.org/crash/", i));
  e.set_parent_id("spiffe://example.org/signet/agent/join_token/crash");
  pb::Selector* uid = e.add_selectors();
  uid->set_type("unix");
  uid->set_value(absl::StrCat("uid:", i));
  pb::Selector* path = e.add_selectors();
  path->set_type("unix");
  path->set_value(absl::StrCat("path:/bin/w", i));
  e.set_hint(absl::StrCat("hint-", i));
  e.set_x509_svid_ttl(600 + i);
  e.add_dns_names(absl::StrCat("w", i, ".example.org"));
  return e;
}

class CrashTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    auto db = GetParam().create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    socket_ = dir_.File("admin.sock");
    config_ = dir_.File("server.yaml");
    DataStoreOptions options = db_->options();
    WriteTestFile(config_,
                  absl::StrCat("trust_domain: example.org\n", "data_dir: ", dir_.File("data"), "\n",
                               "admin_socket: ", socket_, "\n", "bind_address: 127.0.0.1:0\n",
                               "datastore:\n  driver: ", options.driver, "\n",
                               "  connection_string: \"", options.connection_string, "\"\n"));
  }

  void StartServer() {
    server_ = std::make_unique<Subprocess>(
        std::vector<std::string>{SIGNET_BINARY, "server", "run", "-c", config_},
        dir_.File("server.log"));
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    auto health = pb::Server::NewStub(channel_);
    ASSERT_TRUE(WaitFor([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      pb::HealthResponse resp;
      return health->Health(&ctx, pb::HealthRequest(), &resp).ok();
    })) << server_->Log();
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  std::string BundleJson() {
    pb::Bundle bundle;
    grpc::Status status =
        pb::Bundles::NewStub(channel_)->GetBundle(Ctx().get(), pb::GetBundleRequest(), &bundle);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return bundle.spiffe_json();
  }

  std::vector<std::string> AuthorityIds(pb::AuthorityKind kind) {
    pb::AuthorityRequest req;
    req.set_kind(kind);
    pb::AuthorityResponse resp;
    EXPECT_TRUE(pb::Authorities::NewStub(channel_)->ShowAuthorities(Ctx().get(), req, &resp).ok());
    std::vector<std::string> ids;
    for (const auto& a : resp.authorities()) ids.push_back(a.key_id() + ":" + a.state());
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<testing::TestDatabase> db_;
  std::string socket_;
  std::string config_;
  std::unique_ptr<Subprocess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(CrashTest, AcknowledgedEntriesSurviveSigkillAndNothingIsHalfWritten) {
  StartServer();
  const std::string bundle_before = BundleJson();
  const auto x509_before = AuthorityIds(pb::AUTHORITY_KIND_X509);
  const auto jwt_before = AuthorityIds(pb::AUTHORITY_KIND_JWT);

  // 8 writers, one entry per call, 1,000 creations in all; the server is killed once about
  // half of them have been acknowledged.
  absl::Mutex mu;
  std::map<int, std::string> acknowledged;  // creation number -> entry id
  std::atomic<int> acks{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      auto stub = pb::Entries::NewStub(channel_);
      for (int i = t; i < kEntries; i += kThreads) {
        pb::BatchCreateEntryRequest req;
        *req.add_entries() = EntryNumber(i);
        pb::BatchCreateEntryResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        if (!stub->BatchCreateEntry(&ctx, req, &resp).ok()) continue;  // killed: not acknowledged
        if (resp.results_size() == 1 && resp.results(0).status().code() == 0) {
          absl::MutexLock lock(&mu);
          acknowledged[i] = resp.results(0).entry().id();
          acks.fetch_add(1);
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return acks.load() >= kEntries / 2; }, absl::Seconds(120)));
  server_->Signal(SIGKILL);
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(server_->Wait(), 128 + SIGKILL);
  ASSERT_LT(acks.load(), kEntries) << "the kill must land while creations are still in flight";

  StartServer();
  // Every stored entry is one of ours and whole; every acknowledged one is stored.
  auto entries = pb::Entries::NewStub(channel_);
  pb::ListEntriesRequest list;
  list.set_page_size(1000);
  std::map<int, pb::Entry> stored;
  do {
    pb::ListEntriesResponse resp;
    ASSERT_TRUE(entries->ListEntries(Ctx().get(), list, &resp).ok());
    for (const pb::Entry& e : resp.entries()) {
      std::string prefix = "spiffe://example.org/crash/";
      ASSERT_EQ(e.spiffe_id().rfind(prefix, 0), 0u) << e.spiffe_id();
      int i = std::stoi(e.spiffe_id().substr(prefix.size()));
      pb::Entry expected = EntryNumber(i);
      EXPECT_EQ(e.parent_id(), expected.parent_id());
      ASSERT_EQ(e.selectors_size(), 2) << "half-written entry " << e.spiffe_id();
      EXPECT_EQ(e.hint(), expected.hint());
      EXPECT_EQ(e.x509_svid_ttl(), expected.x509_svid_ttl());
      ASSERT_EQ(e.dns_names_size(), 1);
      EXPECT_EQ(e.dns_names(0), expected.dns_names(0));
      EXPECT_TRUE(stored.emplace(i, e).second) << "duplicate " << e.spiffe_id();
    }
    list.set_page_token(resp.next_page_token());
  } while (!list.page_token().empty());
  for (const auto& [i, id] : acknowledged) {
    auto it = stored.find(i);
    ASSERT_NE(it, stored.end()) << "acknowledged entry " << i << " lost";
    EXPECT_EQ(it->second.id(), id);
  }
  EXPECT_GE(stored.size(), acknowledged.size());
  std::cout << "crash test (" << GetParam().name << "): " << acknowledged.size()
            << " acknowledged before SIGKILL, " << stored.size() << " stored after restart\n";

  // The CA and JWT keys loaded: same authorities, same bundle, and both still sign.
  EXPECT_EQ(BundleJson(), bundle_before);
  EXPECT_EQ(AuthorityIds(pb::AUTHORITY_KIND_X509), x509_before);
  EXPECT_EQ(AuthorityIds(pb::AUTHORITY_KIND_JWT), jwt_before);
  auto bundle = spiffe::ParseSpiffeBundle(bundle_before);
  ASSERT_TRUE(bundle.ok());
  spiffe::BundleSet set;
  set.Put(*spiffe::TrustDomain::Parse("example.org"), *bundle);
  auto svids = pb::Svids::NewStub(channel_);
  pb::MintX509SvidRequest x509;
  x509.set_csr(*crypto::BuildCsrDer(signet::testing::MustGenerate()));
  x509.set_spiffe_id("spiffe://example.org/after-crash");
  pb::MintX509SvidResponse minted;
  ASSERT_TRUE(svids->MintX509Svid(Ctx().get(), x509, &minted).ok());
  std::vector<crypto::Certificate> chain;
  for (const std::string& der : minted.chain()) chain.push_back(*crypto::Certificate::FromDer(der));
  EXPECT_TRUE(spiffe::VerifyX509Svid(chain, set, absl::Now()).ok());
  pb::MintJwtSvidRequest jwt;
  jwt.set_spiffe_id("spiffe://example.org/after-crash");
  jwt.add_audience("db");
  pb::MintJwtSvidResponse token;
  ASSERT_TRUE(svids->MintJwtSvid(Ctx().get(), jwt, &token).ok());
  EXPECT_TRUE(
      spiffe::ValidateJwtSvid(token.token(), set, {.audience = "db", .now = absl::Now()}).ok());

  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(), 0) << server_->Log();
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest,
                         ::testing::Values(testing::SqliteBackend(), testing::PostgresBackend()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace signet::server
