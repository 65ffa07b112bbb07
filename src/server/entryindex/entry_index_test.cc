// Tests of EntryIndex over a real SQLite datastore: loading, catching up with the change log,
// and writes that race with the initial scan.
#include "src/server/entryindex/entry_index.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kAgentA[] = "spiffe://example.org/signet/agent/a";
constexpr char kAgentB[] = "spiffe://example.org/signet/agent/b";

RegistrationEntry MakeEntry(const std::string& path, const std::string& parent,
                            const std::string& id = "") {
  RegistrationEntry e;
  e.id = id;
  e.spiffe_id = "spiffe://example.org/" + path;
  e.parent_id = parent;
  e.selectors = {*Selector::Parse(absl::StrCat("unix:uid:", path.size()))};
  return e;
}

// Delegates to a real store; runs `before_page` / `after_page` around each ListEntries page (one
// at a time: the index scans shards on several threads) and can fail pages.
class HookedStore final : public EntryStore, public ChangeLog {
 public:
  explicit HookedStore(DataStore& store) : store_(store) {}

  std::function<void()> before_page;
  std::function<void()> after_page;
  absl::Status fail_list = absl::OkStatus();
  absl::Status fail_changes = absl::OkStatus();
  std::atomic<int> pages{0};

  // EntryStore
  absl::StatusOr<std::vector<absl::StatusOr<RegistrationEntry>>> CreateEntries(
      absl::Span<const RegistrationEntry> entries) override {
    return store_.CreateEntries(entries);
  }
  absl::StatusOr<RegistrationEntry> GetEntry(absl::string_view id) override {
    return store_.GetEntry(id);
  }
  absl::StatusOr<RegistrationEntry> UpdateEntry(const RegistrationEntry& entry,
                                                std::optional<int64_t> expected) override {
    return store_.UpdateEntry(entry, expected);
  }
  absl::StatusOr<RegistrationEntry> DeleteEntry(absl::string_view id) override {
    return store_.DeleteEntry(id);
  }
  absl::StatusOr<EntryPage> ListEntries(const EntryFilter& filter, absl::string_view token,
                                        int page_size) override {
    if (!fail_list.ok()) {
      return fail_list;
    }
    ++pages;
    {
      absl::MutexLock lock(&hook_mu_);
      if (before_page) {
        before_page();
      }
    }
    absl::StatusOr<EntryPage> page = store_.ListEntries(filter, token, page_size);
    absl::MutexLock lock(&hook_mu_);
    if (after_page) {
      after_page();
    }
    return page;
  }
  absl::StatusOr<int64_t> CountEntries(const EntryFilter& filter) override {
    return store_.CountEntries(filter);
  }

  // ChangeLog
  absl::StatusOr<int64_t> CurrentRevision() override { return store_.CurrentRevision(); }
  absl::StatusOr<std::vector<Change>> ChangesSince(int64_t after, int limit) override {
    if (!fail_changes.ok()) {
      return fail_changes;
    }
    return store_.ChangesSince(after, limit);
  }

 private:
  DataStore& store_;
  absl::Mutex hook_mu_;
};

class EntryIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DataStore>> store =
        OpenDataStore({.driver = "sqlite", .connection_string = dir_.File("ds.db")});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    hooked_ = std::make_unique<HookedStore>(*store_);
  }

  RegistrationEntry Create(const RegistrationEntry& e) {
    auto created = store_->CreateEntries({e});
    EXPECT_TRUE(created.ok()) << created.status();
    EXPECT_TRUE((*created)[0].ok()) << (*created)[0].status();
    return (*created)[0].ok() ? *(*created)[0] : RegistrationEntry{};
  }

  std::unique_ptr<EntryIndex> Load() {
    absl::StatusOr<std::unique_ptr<EntryIndex>> index = EntryIndex::Load(*hooked_, *hooked_);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? *std::move(index) : nullptr;
  }

  static std::vector<std::string> Ids(const std::vector<EntryPtr>& entries) {
    std::vector<std::string> ids;
    for (const EntryPtr& e : entries) {
      ids.push_back(e->id);
    }
    return ids;
  }

  ::signet::testing::TempDir dir_;
  std::unique_ptr<DataStore> store_;
  std::unique_ptr<HookedStore> hooked_;
};

TEST_F(EntryIndexTest, EmptyStore) {
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->revision(), 0);
  EXPECT_THAT(index->ByParent(kAgentA), IsEmpty());
  EXPECT_EQ(index->Get("nope"), nullptr);
}

TEST_F(EntryIndexTest, LoadIndexesEveryEntryByParentInIdOrder) {
  Create(MakeEntry("w3", kAgentA, "c"));
  Create(MakeEntry("w1", kAgentA, "a"));
  Create(MakeEntry("w2", kAgentB, "b"));
  RegistrationEntry last = Create(MakeEntry("w4", kAgentA, "d"));
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 4u);
  EXPECT_EQ(index->revision(), last.revision);
  EXPECT_THAT(Ids(index->ByParent(kAgentA)), ElementsAre("a", "c", "d"));
  EXPECT_THAT(Ids(index->ByParent(kAgentB)), ElementsAre("b"));
  EXPECT_THAT(index->ByParent("spiffe://example.org/signet/agent/c"), IsEmpty());
  ASSERT_NE(index->Get("d"), nullptr);
  EXPECT_EQ(*index->Get("d"), last);
}

TEST_F(EntryIndexTest, LoadPagesThroughLargeStores) {
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 2500; ++i) {
    batch.push_back(MakeEntry(absl::StrCat("w", i), i % 2 == 0 ? kAgentA : kAgentB));
  }
  ASSERT_TRUE(store_->CreateEntries(batch).ok());
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 2500u);
  EXPECT_EQ(index->ByParent(kAgentA).size(), 1250u);
  EXPECT_EQ(index->ByParent(kAgentB).size(), 1250u);
  EXPECT_GE(hooked_->pages, 3);  // 1,000 entries a page at most, whatever the shard count
}

TEST_F(EntryIndexTest, CatchUpAppliesCreateUpdateAndDelete) {
  RegistrationEntry moved = Create(MakeEntry("moved", kAgentA, "m"));
  RegistrationEntry gone = Create(MakeEntry("gone", kAgentA, "g"));
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_THAT(Ids(index->ByParent(kAgentA)), ElementsAre("g", "m"));

  RegistrationEntry added = Create(MakeEntry("added", kAgentB, "n"));
  moved.parent_id = kAgentB;
  moved.hint = "moved to b";
  absl::StatusOr<RegistrationEntry> updated = store_->UpdateEntry(moved, moved.revision);
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_TRUE(store_->DeleteEntry(gone.id).ok());

  absl::StatusOr<std::vector<Change>> applied = index->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_EQ(applied->size(), 3u);
  EXPECT_EQ((*applied)[0].op, ChangeOp::kCreate);
  EXPECT_EQ((*applied)[1].op, ChangeOp::kUpdate);
  EXPECT_EQ((*applied)[2].op, ChangeOp::kDelete);
  EXPECT_THAT(index->ByParent(kAgentA), IsEmpty());
  EXPECT_THAT(Ids(index->ByParent(kAgentB)), ElementsAre("m", "n"));
  EXPECT_EQ(index->Get("m")->hint, "moved to b");
  EXPECT_EQ(*index->Get("n"), added);
  EXPECT_EQ(index->Get("g"), nullptr);
  EXPECT_EQ(index->size(), 2u);
  EXPECT_EQ(index->revision(), *store_->CurrentRevision());

  // Nothing new: nothing applied, nothing changes.
  applied = index->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, IsEmpty());
}

TEST_F(EntryIndexTest, CatchUpReadsManyPagesOfChanges) {
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 2300; ++i) {
    batch.push_back(MakeEntry(absl::StrCat("w", i), kAgentA));
  }
  ASSERT_TRUE(store_->CreateEntries(batch).ok());
  absl::StatusOr<std::vector<Change>> applied = index->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), 2300u);
  EXPECT_EQ(index->ByParent(kAgentA).size(), 2300u);
}

TEST_F(EntryIndexTest, NodeAndBundleChangesAdvanceTheRevisionOnly) {
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  ASSERT_TRUE(store_->CreateNode({.spiffe_id = kAgentA, .attestation_type = "join_token"}).ok());
  absl::StatusOr<std::vector<Change>> applied = index->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_THAT(*applied, IsEmpty());
  EXPECT_EQ(index->revision(), *store_->CurrentRevision());
  EXPECT_GT(index->revision(), 0);
  EXPECT_EQ(index->size(), 0u);
}

TEST_F(EntryIndexTest, WritesDuringTheScanAreNotLost) {
  // 1,500 entries: two pages. Between them, an entry is created before the scan position, one
  // after it, one already scanned is updated and one not yet scanned is deleted.
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 1500; ++i) {
    batch.push_back(MakeEntry(absl::StrCat("w", i), kAgentA, absl::StrCat("id-", 1000 + i)));
  }
  ASSERT_TRUE(store_->CreateEntries(batch).ok());
  bool done = false;
  hooked_->after_page = [&] {
    if (done) {
      return;
    }
    done = true;
    Create(MakeEntry("early", kAgentB, "id-0000"));  // sorts before the scan position
    Create(MakeEntry("late", kAgentB, "id-9999"));   // sorts after it
    RegistrationEntry first = *store_->GetEntry("id-1000");
    first.hint = "updated during the scan";
    ASSERT_TRUE(store_->UpdateEntry(first, std::nullopt).ok());
    ASSERT_TRUE(store_->DeleteEntry("id-2400").ok());
  };
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 1501u);
  EXPECT_THAT(Ids(index->ByParent(kAgentB)), ElementsAre("id-0000", "id-9999"));
  EXPECT_EQ(index->Get("id-1000")->hint, "updated during the scan");
  EXPECT_EQ(index->Get("id-2400"), nullptr);
  EXPECT_EQ(index->revision(), *store_->CurrentRevision());
}

TEST_F(EntryIndexTest, ReplayedChangesDoNotRollEntriesBack) {
  RegistrationEntry e = Create(MakeEntry("w", kAgentA, "e"));
  // Two updates after the head is read but before the scan reads the row: the scan sees the
  // second, then the catch-up replays both; the first must not overwrite the second.
  hooked_->before_page = [&] {
    hooked_->before_page = nullptr;
    e.hint = "first";
    e = *store_->UpdateEntry(e, std::nullopt);
    e.hint = "second";
    e = *store_->UpdateEntry(e, std::nullopt);
  };
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->Get("e")->hint, "second");
  EXPECT_EQ(index->Get("e")->revision, e.revision);
  EXPECT_EQ(index->revision(), e.revision);
}

TEST_F(EntryIndexTest, ReadersKeepTheirSnapshot) {
  Create(MakeEntry("w", kAgentA, "e"));
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  std::vector<EntryPtr> held = index->ByParent(kAgentA);
  ASSERT_TRUE(store_->DeleteEntry("e").ok());
  ASSERT_TRUE(index->CatchUp().ok());
  EXPECT_THAT(index->ByParent(kAgentA), IsEmpty());
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0]->spiffe_id, "spiffe://example.org/w");
}

TEST_F(EntryIndexTest, StoreErrorsFailTheLoad) {
  Create(MakeEntry("w", kAgentA));
  hooked_->fail_list = absl::DataLossError("datastore: entries: row \"x\": bad spiffe_id");
  absl::StatusOr<std::unique_ptr<EntryIndex>> index = EntryIndex::Load(*hooked_, *hooked_);
  EXPECT_EQ(index.status(), hooked_->fail_list);

  hooked_->fail_list = absl::OkStatus();
  hooked_->fail_changes = absl::UnavailableError("datastore: down");
  index = EntryIndex::Load(*hooked_, *hooked_);
  EXPECT_EQ(index.status(), hooked_->fail_changes);
}

TEST_F(EntryIndexTest, FailedCatchUpRetriesFromTheSameRevision) {
  std::unique_ptr<EntryIndex> index = Load();
  ASSERT_NE(index, nullptr);
  Create(MakeEntry("w", kAgentA, "e"));
  hooked_->fail_changes = absl::UnavailableError("datastore: down");
  EXPECT_EQ(index->CatchUp().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(index->revision(), 0);
  EXPECT_EQ(index->Get("e"), nullptr);
  hooked_->fail_changes = absl::OkStatus();
  absl::StatusOr<std::vector<Change>> applied = index->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(applied->size(), 1u);
  EXPECT_NE(index->Get("e"), nullptr);
}

}  // namespace
}  // namespace signet::server
