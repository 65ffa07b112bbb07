// Conformance: the change log and revisions (also under concurrent writers), single-use join
// tokens under concurrent consumers, migrations, reopening, Close, and corrupted rows.
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "src/server/datastore/datastore_conformance_test.h"
#include "src/server/datastore/schema.h"
#include "src/spiffe/bundle.h"

namespace signet::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string BundleJson() { return BundleJsonFor("example.org"); }

TEST_P(DataStoreConformanceTest, EveryMutationIsLoggedInOrder) {
  EXPECT_EQ(*store_->CurrentRevision(), 0);
  EXPECT_THAT(*store_->ChangesSince(0, 100), IsEmpty());
  RegistrationEntry e = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  RegistrationEntry changed = e;
  changed.hint = "x";
  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry updated, store_->UpdateEntry(changed, e.revision));
  SIGNET_ASSERT_OK(store_->DeleteEntry(e.id));
  AttestedNode node{.spiffe_id = "spiffe://example.org/agent", .attestation_type = "join_token"};
  SIGNET_ASSERT_OK(store_->CreateNode(node));
  SIGNET_ASSERT_OK(store_->SetNodeBanned(node.spiffe_id, true));
  SIGNET_ASSERT_OK(store_->DeleteNode(node.spiffe_id));
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "partner.org", .spiffe_json = BundleJson()}));
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "partner.org", .spiffe_json = BundleJson()}));
  SIGNET_ASSERT_OK(store_->DeleteBundle("partner.org"));
  // Writes that are not logged.
  SIGNET_ASSERT_OK(store_->AppendAudit({.time = clock_.Now(), .action = "x", .result = "ok"}));

  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<Change> changes, store_->ChangesSince(0, 100));
  ASSERT_EQ(changes.size(), 9u);
  struct Want {
    ChangeKind kind;
    ChangeOp op;
    std::string object_id;
  };
  const std::vector<Want> want = {
      {ChangeKind::kEntry, ChangeOp::kCreate, e.id},
      {ChangeKind::kEntry, ChangeOp::kUpdate, e.id},
      {ChangeKind::kEntry, ChangeOp::kDelete, e.id},
      {ChangeKind::kNode, ChangeOp::kCreate, node.spiffe_id},
      {ChangeKind::kNode, ChangeOp::kUpdate, node.spiffe_id},
      {ChangeKind::kNode, ChangeOp::kDelete, node.spiffe_id},
      {ChangeKind::kBundle, ChangeOp::kCreate, "partner.org"},
      {ChangeKind::kBundle, ChangeOp::kUpdate, "partner.org"},
      {ChangeKind::kBundle, ChangeOp::kDelete, "partner.org"},
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].kind, want[i].kind) << i;
    EXPECT_EQ(changes[i].op, want[i].op) << i;
    EXPECT_EQ(changes[i].object_id, want[i].object_id) << i;
    EXPECT_EQ(changes[i].entry.has_value(), want[i].kind == ChangeKind::kEntry) << i;
    if (i > 0) {
      EXPECT_GT(changes[i].revision, changes[i - 1].revision);
    }
  }
  // Entries carry the revision of their last change; snapshots are the entry at that change.
  EXPECT_EQ(changes[0].revision, e.revision);
  EXPECT_EQ(*changes[0].entry, e);
  EXPECT_EQ(changes[1].revision, updated.revision);
  EXPECT_EQ(*changes[1].entry, updated);
  EXPECT_EQ(*changes[2].entry, updated);  // as it was when deleted
  EXPECT_EQ(*store_->CurrentRevision(), changes.back().revision);

  // Ranges and limits.
  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<Change> tail,
                              store_->ChangesSince(changes[5].revision, 2));
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].revision, changes[6].revision);
  EXPECT_EQ(tail[1].revision, changes[7].revision);
  EXPECT_THAT(*store_->ChangesSince(changes.back().revision, 10), IsEmpty());
  EXPECT_THAT(store_->ChangesSince(0, 0), StatusIs(absl::StatusCode::kInvalidArgument, "limit"));
  EXPECT_THAT(store_->ChangesSince(0, 100001),
              StatusIs(absl::StatusCode::kInvalidArgument, "limit"));
  EXPECT_THAT(store_->ChangesSince(-1, 10), StatusIs(absl::StatusCode::kInvalidArgument, "after"));
}

TEST_P(DataStoreConformanceTest, FailedWritesLogNothing) {
  RegistrationEntry e = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  const int64_t before = *store_->CurrentRevision();
  SIGNET_ASSERT_OK_AND_ASSIGN(auto results,
                              store_->CreateEntries({MakeEntry("a", {"unix:uid:1"})}));
  EXPECT_FALSE(results[0].ok());
  EXPECT_FALSE(store_->UpdateEntry(e, e.revision + 100).ok());
  EXPECT_FALSE(store_->DeleteEntry("missing").ok());
  EXPECT_FALSE(store_->DeleteBundle("missing.org").ok());
  EXPECT_EQ(*store_->CurrentRevision(), before);
  // A batch whose items fail in the middle still gets consecutive revisions for the rest.
  SIGNET_ASSERT_OK_AND_ASSIGN(results, store_->CreateEntries({MakeEntry("b", {"unix:uid:1"}),
                                                              MakeEntry("a", {"unix:uid:1"}),
                                                              MakeEntry("c", {"unix:uid:1"})}));
  EXPECT_EQ(results[0]->revision, before + 1);
  EXPECT_EQ(results[2]->revision, before + 2);
}

// Several writers commit concurrently while a reader follows the log with ChangesSince. The
// reader must see every change exactly once, in strictly increasing order: no change may commit
// with a revision at or below one a reader has already seen.
TEST_P(DataStoreConformanceTest, ConcurrentWritersNeverHideChangesFromFollowers) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 25;
  std::atomic<bool> done{false};
  std::vector<int64_t> followed;
  std::thread follower([&] {
    int64_t last = 0;
    while (true) {
      bool finished = done.load();
      absl::StatusOr<std::vector<Change>> changes = store_->ChangesSince(last, 1000);
      ASSERT_TRUE(changes.ok()) << changes.status();
      for (const Change& c : *changes) {
        followed.push_back(c.revision);
        last = c.revision;
      }
      if (finished && changes->empty()) {
        break;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        auto results = store_->CreateEntries({MakeEntry(absl::StrCat("w", w, "-", i), {"a:b"})});
        ASSERT_TRUE(results.ok()) << results.status();
        ASSERT_TRUE((*results)[0].ok()) << (*results)[0].status();
      }
    });
  }
  for (std::thread& t : writers) {
    t.join();
  }
  done = true;
  follower.join();

  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<Change> all, store_->ChangesSince(0, 100000));
  ASSERT_EQ(all.size(), static_cast<size_t>(kWriters * kPerWriter));
  std::vector<int64_t> revisions;
  for (const Change& c : all) {
    revisions.push_back(c.revision);
  }
  for (size_t i = 1; i < revisions.size(); ++i) {
    EXPECT_LT(revisions[i - 1], revisions[i]);
  }
  EXPECT_EQ(followed, revisions);
  EXPECT_EQ(*store_->CountEntries({}), kWriters * kPerWriter);
}

TEST_P(DataStoreConformanceTest, JoinTokenWorksOnceUnderConcurrentConsumers) {
  constexpr int kConsumers = 8;
  for (int round = 0; round < 3; ++round) {
    const std::string token = absl::StrCat("concurrent-token-", round, "-0123456789");
    SIGNET_ASSERT_OK(
        store_->CreateJoinToken({.token = token, .expires_at = clock_.Now() + absl::Hours(1)}));
    std::atomic<int> ok{0};
    std::atomic<int> not_found{0};
    std::vector<std::thread> consumers;
    for (int i = 0; i < kConsumers; ++i) {
      consumers.emplace_back([&] {
        absl::StatusOr<JoinToken> t = store_->ConsumeJoinToken(token, clock_.Now());
        if (t.ok()) {
          ++ok;
        } else if (absl::IsNotFound(t.status())) {
          ++not_found;
        } else {
          ADD_FAILURE() << t.status();
        }
      });
    }
    for (std::thread& t : consumers) {
      t.join();
    }
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(not_found.load(), kConsumers - 1);
  }
}

TEST_P(DataStoreConformanceTest, ReopenKeepsDataAndSchema) {
  RegistrationEntry e = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  const int64_t revision = *store_->CurrentRevision();
  EXPECT_EQ(store_->SchemaVersion(), internal::LatestSchemaVersion());
  store_->Close();
  store_.reset();
  SIGNET_ASSERT_OK_AND_ASSIGN(store_, Open());
  EXPECT_EQ(store_->SchemaVersion(), internal::LatestSchemaVersion());
  EXPECT_EQ(*store_->GetEntry(e.id), e);
  EXPECT_EQ(*store_->CurrentRevision(), revision);
  EXPECT_EQ(MustCreate(MakeEntry("b", {"unix:uid:1"})).revision, revision + 1);
}

TEST_P(DataStoreConformanceTest, ConcurrentOpensMigrateOnce) {
  // A second database opened by several stores at once: they all get the same schema.
  store_.reset();
  SIGNET_ASSERT_OK_AND_ASSIGN(std::unique_ptr<TestDatabase> fresh, GetParam().create());
  db_ = std::move(fresh);
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    openers.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<DataStore>> s = Open();
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ((*s)->SchemaVersion(), internal::LatestSchemaVersion());
      ++opened;
    });
  }
  for (std::thread& t : openers) {
    t.join();
  }
  EXPECT_EQ(opened.load(), 4);
  SIGNET_ASSERT_OK_AND_ASSIGN(store_, Open());
  MustCreate(MakeEntry("a", {"unix:uid:1"}));
}

TEST_P(DataStoreConformanceTest, RefusesSchemaNewerThanBinary) {
  MustCreate(MakeEntry("a", {"unix:uid:1"}));
  store_.reset();
  const int newer = internal::LatestSchemaVersion() + 1;
  SIGNET_ASSERT_OK(RawExec(
      absl::StrCat("INSERT INTO schema_version (version, applied_at) VALUES (", newer, ", 0)")));
  EXPECT_THAT(Open(), StatusIs(absl::StatusCode::kFailedPrecondition,
                               absl::StrCat("datastore: schema version ", newer,
                                            " is newer than this binary supports (",
                                            internal::LatestSchemaVersion(), ")")));
}

TEST_P(DataStoreConformanceTest, CloseMakesCallsUnavailable) {
  RegistrationEntry e = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  store_->Close();
  EXPECT_THAT(store_->GetEntry(e.id), StatusIs(absl::StatusCode::kUnavailable, "closed"));
  EXPECT_THAT(store_->CreateEntries({MakeEntry("b", {"unix:uid:1"})}),
              StatusIs(absl::StatusCode::kUnavailable, "closed"));
  EXPECT_THAT(store_->ChangesSince(0, 10), StatusIs(absl::StatusCode::kUnavailable, "closed"));
  EXPECT_THAT(store_->ListBundles(), StatusIs(absl::StatusCode::kUnavailable, "closed"));
  store_->Close();  // idempotent
}

// Each case plants one bad value with raw SQL and reads it back through the store.
TEST_P(DataStoreConformanceTest, CorruptedRowsAreDataLossNamingTheColumn) {
  RegistrationEntry e = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  SIGNET_ASSERT_OK(store_->CreateNode(
      {.spiffe_id = "spiffe://example.org/agent", .attestation_type = "join_token"}));
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "partner.org", .spiffe_json = BundleJson()}));
  SIGNET_ASSERT_OK(store_->PutCaKey({.key_id = "k1", .key_type = "ec-p256", .public_der = "der"}));
  SIGNET_ASSERT_OK(store_->AppendAudit({.time = clock_.Now(), .action = "x", .result = "ok"}));
  SIGNET_ASSERT_OK(store_->CreateJoinToken(
      {.token = "0123456789abcdef-token", .expires_at = clock_.Now() + absl::Hours(1)}));

  auto get_entry = [&] { return StatusOf(store_->GetEntry(e.id)); };
  auto list_entries = [&] { return StatusOf(store_->ListEntries({}, "", 10)); };
  auto changes = [&] { return StatusOf(store_->ChangesSince(0, 10)); };
  auto get_node = [&] { return StatusOf(store_->GetNode("spiffe://example.org/agent")); };
  auto get_bundle = [&] { return StatusOf(store_->GetBundle("partner.org")); };
  auto ca_keys = [&] { return StatusOf(store_->ListCaKeys(CaKeyKind::kX509)); };
  auto audit = [&] { return StatusOf(store_->ListAudit({})); };
  auto token = [&] {
    return StatusOf(store_->ConsumeJoinToken("0123456789abcdef-token", clock_.Now()));
  };
  struct Case {
    std::string corrupt;  // SQL that plants the bad value
    std::string restore;  // SQL that puts the good value back
    std::function<absl::Status()> read;
    std::string column;  // expected in the message
  };
  const std::string where = absl::StrCat(" WHERE id = '", e.id, "'");
  const std::vector<Case> cases = {
      {"UPDATE entries SET spiffe_id = 'not-an-id'" + where,
       "UPDATE entries SET spiffe_id = '" + e.spiffe_id + "'" + where, get_entry, "spiffe_id"},
      {"UPDATE entries SET selectors = 'no-colon\n'" + where,
       "UPDATE entries SET selectors = 'unix:uid:1\n'" + where, list_entries, "entries.selectors"},
      {"UPDATE entries SET admin = 7" + where, "UPDATE entries SET admin = 0" + where, get_entry,
       "entries.admin"},
      {"UPDATE entries SET x509_svid_ttl_seconds = -3" + where,
       "UPDATE entries SET x509_svid_ttl_seconds = 0" + where, get_entry, "x509_svid_ttl_seconds"},
      {"UPDATE entries SET dns_names = 'no-newline'" + where,
       "UPDATE entries SET dns_names = ''" + where, get_entry, "entries.dns_names"},
      {"UPDATE changes SET entry = '{}' WHERE kind = 'node'",
       "UPDATE changes SET entry = NULL WHERE kind = 'node'", changes, "changes.entry"},
      {"UPDATE changes SET entry = '{\"id\": 1'", "", changes, "changes.entry"},
      {"UPDATE changes SET kind = 'gadget'", "", changes, "changes.kind"},
      {"UPDATE nodes SET banned = 2", "UPDATE nodes SET banned = 0", get_node, "nodes.banned"},
      {"UPDATE nodes SET cert_serial = 'xyz'", "UPDATE nodes SET cert_serial = ''", get_node,
       "cert_serial"},
      {"UPDATE bundles SET spiffe_json = '{}'", "", get_bundle, "spiffe_json"},
      {"UPDATE ca_keys SET state = 'lost'", "", ca_keys, "ca_keys.state"},
      {"UPDATE audit_events SET action = ''", "", audit, "action"},
      {"UPDATE join_tokens SET spiffe_id = 'bad id'", "", token, "spiffe_id"},
  };
  for (const Case& c : cases) {
    SIGNET_ASSERT_OK(RawExec(c.corrupt));
    EXPECT_THAT(c.read(), StatusIs(absl::StatusCode::kDataLoss, c.column)) << c.corrupt;
    if (!c.restore.empty()) {
      SIGNET_ASSERT_OK(RawExec(c.restore));
      SIGNET_ASSERT_OK(c.read());
    }
  }
}

}  // namespace
}  // namespace signet::server::testing
