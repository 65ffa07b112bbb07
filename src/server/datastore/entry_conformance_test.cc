// Conformance: registration entries (create, get, update, delete, list, count, filters).
#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/common/base64.h"
#include "src/server/datastore/datastore_conformance_test.h"

namespace signet::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

TEST_P(DataStoreConformanceTest, CreateAssignsIdRevisionAndTimeAndGetRoundTrips) {
  RegistrationEntry in = MakeEntry("web", {"unix:uid:1000", "k8s:ns:prod"});
  in.x509_svid_ttl_seconds = 3600;
  in.jwt_svid_ttl_seconds = 300;
  in.dns_names = {"web.example.org", "www.example.org"};
  in.hint = "web frontend";
  in.admin = true;
  in.downstream = true;
  in.federates_with = {"partner.org", "other.org", "partner.org"};
  in.expires_at = ::signet::testing::TestNow() + absl::Hours(24) + absl::Milliseconds(700);
  RegistrationEntry out = MustCreate(in);

  EXPECT_EQ(out.id.size(), 32u);
  EXPECT_TRUE(std::all_of(out.id.begin(), out.id.end(),
                          [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }));
  EXPECT_GT(out.revision, 0);
  EXPECT_EQ(out.created_at, ::signet::testing::TestNow());
  EXPECT_EQ(out.selectors, Selectors({"k8s:ns:prod", "unix:uid:1000"}));  // canonical order
  EXPECT_THAT(out.federates_with, ElementsAre("other.org", "partner.org"));
  EXPECT_EQ(out.expires_at, ::signet::testing::TestNow() + absl::Hours(24));      // whole seconds
  EXPECT_THAT(out.dns_names, ElementsAre("web.example.org", "www.example.org"));  // order kept

  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry got, store_->GetEntry(out.id));
  EXPECT_EQ(got, out);
}

TEST_P(DataStoreConformanceTest, CreateKeepsCallerChosenId) {
  RegistrationEntry in = MakeEntry("a", {"unix:uid:1"});
  in.id = "my-entry.1";
  EXPECT_EQ(MustCreate(in).id, "my-entry.1");
  SIGNET_ASSERT_OK(store_->GetEntry("my-entry.1"));
}

TEST_P(DataStoreConformanceTest, CreateDuplicatesGetAlreadyExistsAndOthersSucceed) {
  RegistrationEntry existing = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  RegistrationEntry same_key = MakeEntry("a", {"unix:uid:1"});
  RegistrationEntry same_id = MakeEntry("b", {"unix:uid:2"});
  same_id.id = existing.id;
  RegistrationEntry fresh = MakeEntry("c", {"unix:uid:3"});
  RegistrationEntry twice = MakeEntry("d", {"unix:uid:4"});
  SIGNET_ASSERT_OK_AND_ASSIGN(auto results,
                              store_->CreateEntries({same_key, fresh, same_id, twice, twice}));
  ASSERT_EQ(results.size(), 5u);
  EXPECT_THAT(results[0], StatusIs(absl::StatusCode::kAlreadyExists, "spiffe_id, parent_id"));
  SIGNET_ASSERT_OK(results[1]);
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kAlreadyExists, "entry id"));
  SIGNET_ASSERT_OK(results[3]);
  EXPECT_THAT(results[4], StatusIs(absl::StatusCode::kAlreadyExists, "already exists"));
  EXPECT_EQ(*store_->CountEntries({}), 3);
  // A different parent or selector set is a different entry.
  MustCreate(MakeEntry("a", {"unix:uid:1"}, "spiffe://example.org/other-agent"));
  MustCreate(MakeEntry("a", {"unix:uid:1", "unix:gid:1"}));
}

TEST_P(DataStoreConformanceTest, CreateRejectsInvalidItemsOneByOne) {
  struct Case {
    const char* field;
    RegistrationEntry entry;
  };
  std::vector<Case> cases;
  cases.push_back({"selectors", MakeEntry("a", {})});
  cases.push_back({"spiffe_id", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.spiffe_id = "not-a-spiffe-id";
  cases.push_back({"spiffe_id", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.spiffe_id = "spiffe://example.org";
  cases.push_back({"parent_id", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.parent_id = "spiffe://Example.org/agent";
  cases.push_back({"x509_svid_ttl_seconds", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.x509_svid_ttl_seconds = -1;
  cases.push_back({"jwt_svid_ttl_seconds", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.jwt_svid_ttl_seconds = -5;
  cases.push_back({"federates_with[0]", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.federates_with = {"spiffe://x y"};
  cases.push_back({"id", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.id = "has space";
  cases.push_back({"hint", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.hint = "line\nbreak";
  cases.push_back({"dns_names[1]", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.dns_names = {"ok.example.org", ""};
  cases.push_back({"hint", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.hint = "not utf-8 \xff";
  cases.push_back({"selectors", MakeEntry("a", {"unix:uid:\xc3"})});
  cases.push_back({"expires_at", MakeEntry("a", {"unix:uid:1"})});
  cases.back().entry.expires_at = absl::InfiniteFuture();

  std::vector<RegistrationEntry> batch = {MakeEntry("good1", {"unix:uid:1"})};
  for (const Case& c : cases) {
    batch.push_back(c.entry);
  }
  batch.push_back(MakeEntry("good2", {"unix:uid:1"}));
  SIGNET_ASSERT_OK_AND_ASSIGN(auto results, store_->CreateEntries(batch));
  ASSERT_EQ(results.size(), batch.size());
  SIGNET_ASSERT_OK(results.front());
  SIGNET_ASSERT_OK(results.back());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_THAT(results[i + 1],
                StatusIs(absl::StatusCode::kInvalidArgument, absl::StrCat(cases[i].field, ":")))
        << "case " << i;
  }
  EXPECT_EQ(*store_->CountEntries({}), 2);
}

TEST_P(DataStoreConformanceTest, CreateBatchOverLimitWritesNothing) {
  std::vector<RegistrationEntry> batch(kMaxBatchSize + 1, MakeEntry("a", {"unix:uid:1"}));
  EXPECT_THAT(store_->CreateEntries(batch),
              StatusIs(absl::StatusCode::kInvalidArgument, "batch limit"));
  EXPECT_EQ(*store_->CountEntries({}), 0);
  SIGNET_ASSERT_OK_AND_ASSIGN(auto empty, store_->CreateEntries({}));
  EXPECT_THAT(empty, IsEmpty());
}

TEST_P(DataStoreConformanceTest, GetUnknownOrMalformedId) {
  EXPECT_THAT(store_->GetEntry("0123456789abcdef0123456789abcdef"),
              StatusIs(absl::StatusCode::kNotFound, "not found"));
  EXPECT_THAT(store_->GetEntry(""), StatusIs(absl::StatusCode::kInvalidArgument, "id"));
  EXPECT_THAT(store_->GetEntry("a'b"), StatusIs(absl::StatusCode::kInvalidArgument, "id"));
}

TEST_P(DataStoreConformanceTest, UpdateReplacesFieldsKeepsCreatedAtAndBumpsRevision) {
  RegistrationEntry created = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  clock_.Advance(absl::Hours(1));
  RegistrationEntry change = MakeEntry("b", {"unix:uid:2", "unix:gid:2"});
  change.id = created.id;
  change.hint = "moved";
  change.federates_with = {"partner.org"};
  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry updated,
                              store_->UpdateEntry(change, created.revision));
  EXPECT_GT(updated.revision, created.revision);
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_EQ(updated.spiffe_id, "spiffe://example.org/b");
  EXPECT_EQ(updated.selectors, Selectors({"unix:gid:2", "unix:uid:2"}));
  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry got, store_->GetEntry(created.id));
  EXPECT_EQ(got, updated);
  // The selector and federation indexes follow the update.
  EXPECT_THAT(
      ListIds({.selectors = Selectors({"unix:uid:1"}), .selector_match = SelectorMatch::kAny}),
      IsEmpty());
  EXPECT_THAT(
      ListIds({.selectors = Selectors({"unix:uid:2"}), .selector_match = SelectorMatch::kAny}),
      ElementsAre(created.id));
  EXPECT_THAT(ListIds({.federates_with = "partner.org"}), ElementsAre(created.id));
  // Without an expected revision the update is unconditional.
  change.hint = "again";
  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry again, store_->UpdateEntry(change, std::nullopt));
  EXPECT_GT(again.revision, updated.revision);
}

TEST_P(DataStoreConformanceTest, UpdateWithStaleRevisionFailsAndChangesNothing) {
  RegistrationEntry created = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  RegistrationEntry change = created;
  change.hint = "first";
  SIGNET_ASSERT_OK(store_->UpdateEntry(change, created.revision));
  change.hint = "second";
  EXPECT_THAT(store_->UpdateEntry(change, created.revision),
              StatusIs(absl::StatusCode::kFailedPrecondition, "revision"));
  EXPECT_EQ(store_->GetEntry(created.id)->hint, "first");
}

TEST_P(DataStoreConformanceTest, UpdateErrors) {
  RegistrationEntry a = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  RegistrationEntry b = MustCreate(MakeEntry("b", {"unix:uid:1"}));
  RegistrationEntry clash = b;
  clash.spiffe_id = a.spiffe_id;  // now the same key as a
  EXPECT_THAT(store_->UpdateEntry(clash, std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists, "already exists"));
  EXPECT_EQ(*store_->GetEntry(b.id), b);
  RegistrationEntry missing = MakeEntry("c", {"unix:uid:1"});
  missing.id = "does-not-exist";
  EXPECT_THAT(store_->UpdateEntry(missing, std::nullopt),
              StatusIs(absl::StatusCode::kNotFound, "does-not-exist"));
  RegistrationEntry invalid = a;
  invalid.selectors.clear();
  EXPECT_THAT(store_->UpdateEntry(invalid, std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, "selectors"));
}

TEST_P(DataStoreConformanceTest, DeleteReturnsTheEntryAndRemovesIt) {
  RegistrationEntry a = MustCreate(MakeEntry("a", {"unix:uid:1"}));
  SIGNET_ASSERT_OK_AND_ASSIGN(RegistrationEntry deleted, store_->DeleteEntry(a.id));
  EXPECT_EQ(deleted, a);
  EXPECT_THAT(store_->GetEntry(a.id), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->DeleteEntry(a.id), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(
      ListIds({.selectors = Selectors({"unix:uid:1"}), .selector_match = SelectorMatch::kAny}),
      IsEmpty());
  // The same key can be registered again.
  MustCreate(MakeEntry("a", {"unix:uid:1"}));
}

TEST_P(DataStoreConformanceTest, ListPagesThroughEverythingInIdOrder) {
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 25; ++i) {
    batch.push_back(MakeEntry(absl::StrCat("w", i), {"unix:uid:1"}));
  }
  SIGNET_ASSERT_OK(store_->CreateEntries(batch));
  std::vector<std::string> ids;
  std::string token;
  int pages = 0;
  do {
    SIGNET_ASSERT_OK_AND_ASSIGN(EntryPage page, store_->ListEntries({}, token, 7));
    EXPECT_LE(page.entries.size(), 7u);
    for (const RegistrationEntry& e : page.entries) {
      ids.push_back(e.id);
    }
    token = page.next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(ids.size(), 25u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  // An exact multiple of the page size ends without an empty extra page.
  SIGNET_ASSERT_OK_AND_ASSIGN(EntryPage all, store_->ListEntries({}, "", 25));
  EXPECT_EQ(all.entries.size(), 25u);
  EXPECT_EQ(all.next_page_token, "");
}

TEST_P(DataStoreConformanceTest, ShardsSplitAScanIntoDisjointParts) {
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(MakeEntry(absl::StrCat("w", i), {"unix:uid:1"}));
  }
  SIGNET_ASSERT_OK(store_->CreateEntries(batch));
  std::vector<std::string> all = ListIds({});
  ASSERT_EQ(all.size(), 40u);
  for (int count : {1, 3}) {
    std::vector<std::string> seen;
    for (int index = 0; index < count; ++index) {
      std::vector<std::string> part = ListIds({.shard = EntryShard{index, count}});
      EXPECT_TRUE(std::is_sorted(part.begin(), part.end()));
      if (count > 1) {
        EXPECT_GT(part.size(), 5u) << "shard " << index << " of " << count;
        EXPECT_LT(part.size(), 40u) << "shard " << index << " of " << count;
      }
      EXPECT_EQ(store_->CountEntries({.shard = EntryShard{index, count}}).value_or(-1),
                static_cast<int64_t>(part.size()));
      seen.insert(seen.end(), part.begin(), part.end());
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, all) << count << " shards";
  }
  // Combined with another filter.
  EXPECT_EQ(ListIds({.shard = EntryShard{0, 1}, .spiffe_id = "spiffe://example.org/w7"}).size(),
            1u);
  for (EntryShard bad :
       {EntryShard{0, 0}, EntryShard{-1, 2}, EntryShard{2, 2}, EntryShard{0, kMaxShards + 1}}) {
    EXPECT_THAT(store_->ListEntries({.shard = bad}, "", 10),
                StatusIs(absl::StatusCode::kInvalidArgument, "shard"))
        << bad.index << "/" << bad.count;
  }
}

TEST_P(DataStoreConformanceTest, ListRejectsBadTokensAndPageSizes) {
  MustCreate(MakeEntry("a", {"unix:uid:1"}));
  for (const std::string& token :
       {std::string("garbage!"), Base64UrlEncode("v1:n:spiffe://example.org/x"),
        Base64UrlEncode("v1:e:"), Base64UrlEncode("v2:e:abc"), Base64UrlEncode("v1:e:a b")}) {
    EXPECT_THAT(store_->ListEntries({}, token, 10),
                StatusIs(absl::StatusCode::kInvalidArgument, "page_token"))
        << token;
  }
  EXPECT_THAT(store_->ListEntries({}, "", 0), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(store_->ListEntries({}, "", kMaxPageSize + 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_size"));
  EXPECT_THAT(store_->ListEntries({.spiffe_id = "nope"}, "", 10),
              StatusIs(absl::StatusCode::kInvalidArgument, "spiffe_id"));
  EXPECT_THAT(store_->CountEntries({.federates_with = "not a domain"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "federates_with"));
}

TEST_P(DataStoreConformanceTest, FiltersByFields) {
  RegistrationEntry a = MakeEntry("a", {"unix:uid:1"});
  a.admin = true;
  RegistrationEntry b = MakeEntry("b", {"unix:uid:1"}, "spiffe://example.org/agent2");
  b.downstream = true;
  b.federates_with = {"partner.org"};
  RegistrationEntry c = MakeEntry("a", {"unix:uid:2"}, "spiffe://example.org/agent2");
  c.federates_with = {"partner.org", "third.org"};
  a = MustCreate(a);
  b = MustCreate(b);
  c = MustCreate(c);
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(ListIds({.spiffe_id = "spiffe://example.org/a"}), sorted({a.id, c.id}));
  EXPECT_EQ(ListIds({.parent_id = "spiffe://example.org/agent2"}), sorted({b.id, c.id}));
  EXPECT_EQ(
      ListIds({.spiffe_id = "spiffe://example.org/a", .parent_id = "spiffe://example.org/agent2"}),
      sorted({c.id}));
  EXPECT_EQ(ListIds({.federates_with = "partner.org"}), sorted({b.id, c.id}));
  EXPECT_EQ(ListIds({.federates_with = "third.org"}), sorted({c.id}));
  EXPECT_EQ(ListIds({.admin = true}), sorted({a.id}));
  EXPECT_EQ(ListIds({.admin = false}), sorted({b.id, c.id}));
  EXPECT_EQ(ListIds({.downstream = true}), sorted({b.id}));
  EXPECT_EQ(*store_->CountEntries({.parent_id = "spiffe://example.org/agent2"}), 2);
  EXPECT_EQ(*store_->CountEntries({.parent_id = "spiffe://example.org/nobody"}), 0);
  EXPECT_EQ(*store_->CountEntries({}), 3);
}

TEST_P(DataStoreConformanceTest, SelectorMatchModes) {
  std::map<std::string, std::string> ids;  // name -> id
  for (const auto& [name, selectors] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{{"a", {"t:a"}},
                                                                     {"ab", {"t:a", "t:b"}},
                                                                     {"bc", {"t:b", "t:c"}},
                                                                     {"abc", {"t:a", "t:b", "t:c"}},
                                                                     {"d", {"t:d"}}}) {
    ids[name] = MustCreate(MakeEntry(name, selectors)).id;
  }
  // Every case runs twice: alone (candidates from the selector index) and under the parent all
  // these entries share (candidates from the parent index, selectors checked per entry).
  for (bool narrowed : {false, true}) {
    SCOPED_TRACE(narrowed ? "with parent_id" : "selectors only");
    auto names_of = [&](const std::vector<std::string>& selected, SelectorMatch match) {
      EntryFilter filter{.selectors = Selectors(selected), .selector_match = match};
      if (narrowed) {
        filter.parent_id = "spiffe://example.org/agent";
      }
      std::vector<std::string> found = ListIds(filter);
      std::vector<std::string> names;
      for (const auto& [name, id] : ids) {
        if (std::find(found.begin(), found.end(), id) != found.end()) {
          names.push_back(name);
        }
      }
      EXPECT_EQ(*store_->CountEntries(filter), static_cast<int64_t>(found.size()));
      return names;
    };
    using M = SelectorMatch;
    EXPECT_THAT(names_of({"t:a", "t:b"}, M::kExact), UnorderedElementsAre("ab"));
    EXPECT_THAT(names_of({"t:b", "t:a"}, M::kExact), UnorderedElementsAre("ab"));  // canonical
    EXPECT_THAT(names_of({"t:a", "t:b"}, M::kSubset), UnorderedElementsAre("a", "ab"));
    EXPECT_THAT(names_of({"t:a", "t:b"}, M::kSuperset), UnorderedElementsAre("ab", "abc"));
    EXPECT_THAT(names_of({"t:a", "t:b"}, M::kAny), UnorderedElementsAre("a", "ab", "bc", "abc"));
    EXPECT_THAT(names_of({"t:a", "t:b", "t:c", "t:z"}, M::kSubset),
                UnorderedElementsAre("a", "ab", "bc", "abc"));
    EXPECT_THAT(names_of({"t:a", "t:b", "t:c", "t:z"}, M::kExact), IsEmpty());
    EXPECT_THAT(names_of({"t:z"}, M::kAny), IsEmpty());
    EXPECT_THAT(names_of({"t:z"}, M::kSubset), IsEmpty());
    EXPECT_THAT(names_of({"t:d"}, M::kSubset), UnorderedElementsAre("d"));
    EXPECT_THAT(names_of({}, M::kExact), IsEmpty());
    EXPECT_THAT(names_of({}, M::kSubset), IsEmpty());
    EXPECT_THAT(names_of({}, M::kAny), IsEmpty());
    EXPECT_THAT(names_of({}, M::kSuperset), UnorderedElementsAre("a", "ab", "bc", "abc", "d"));
  }
  using M = SelectorMatch;
  // Selector filters combine with the others.
  EntryFilter combined{.parent_id = "spiffe://example.org/agent",
                       .selectors = Selectors({"t:a"}),
                       .selector_match = M::kSuperset};
  EXPECT_EQ(ListIds(combined).size(), 3u);
  combined.parent_id = "spiffe://example.org/elsewhere";
  EXPECT_THAT(ListIds(combined), IsEmpty());
}

TEST_P(DataStoreConformanceTest, ListByParentPagesWithFilter) {
  std::vector<RegistrationEntry> batch;
  for (int i = 0; i < 30; ++i) {
    batch.push_back(
        MakeEntry(absl::StrCat("w", i), {"unix:uid:1"},
                  i % 3 == 0 ? "spiffe://example.org/agent1" : "spiffe://example.org/agent2"));
  }
  SIGNET_ASSERT_OK(store_->CreateEntries(batch));
  std::vector<RegistrationEntry> mine =
      ListAll({.parent_id = "spiffe://example.org/agent1"}, /*page_size=*/3);
  EXPECT_EQ(mine.size(), 10u);
  for (const RegistrationEntry& e : mine) {
    EXPECT_EQ(e.parent_id, "spiffe://example.org/agent1");
  }
}

}  // namespace
}  // namespace signet::server::testing
