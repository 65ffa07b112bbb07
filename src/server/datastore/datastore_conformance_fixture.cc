#include <string>
#include <utility>
#include <vector>

#include "src/server/datastore/datastore_conformance_test.h"
#include "src/server/datastore/sql_datastore.h"
#include "src/spiffe/bundle.h"

namespace signet::server::testing {

std::string BundleJsonFor(const std::string& trust_domain) {
  absl::StatusOr<std::string> json =
      spiffe::ToSpiffeBundleJson(::signet::testing::TestCa(trust_domain).bundle());
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : "";
}

void DataStoreConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<TestDatabase>> db = GetParam().create();
  ASSERT_TRUE(db.ok()) << GetParam().name << " test database: " << db.status();
  db_ = *std::move(db);
  SIGNET_ASSERT_OK_AND_ASSIGN(store_, Open());
}

void DataStoreConformanceTest::TearDown() {
  store_.reset();  // close connections before the database is dropped
  db_.reset();
}

absl::StatusOr<std::unique_ptr<DataStore>> DataStoreConformanceTest::Open() {
  return OpenSqlDataStore(db_->options(), clock_);
}

RegistrationEntry DataStoreConformanceTest::MakeEntry(const std::string& path,
                                                      const std::vector<std::string>& selectors,
                                                      const std::string& parent) {
  RegistrationEntry e;
  e.spiffe_id = "spiffe://example.org/" + path;
  e.parent_id = parent;
  e.selectors = Selectors(selectors);
  return e;
}

std::vector<Selector> DataStoreConformanceTest::Selectors(const std::vector<std::string>& texts) {
  std::vector<Selector> out;
  for (const std::string& text : texts) {
    absl::StatusOr<Selector> s = Selector::Parse(text);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) {
      out.push_back(*s);
    }
  }
  return out;
}

RegistrationEntry DataStoreConformanceTest::MustCreate(const RegistrationEntry& entry) {
  auto results = store_->CreateEntries({entry});
  EXPECT_TRUE(results.ok()) << results.status();
  if (!results.ok() || results->size() != 1) {
    return {};
  }
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].status();
  return (*results)[0].ok() ? *(*results)[0] : RegistrationEntry{};
}

std::vector<RegistrationEntry> DataStoreConformanceTest::ListAll(const EntryFilter& filter,
                                                                 int page_size) {
  std::vector<RegistrationEntry> all;
  std::string token;
  for (int pages = 0; pages < 10000; ++pages) {
    absl::StatusOr<EntryPage> page = store_->ListEntries(filter, token, page_size);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) {
      break;
    }
    all.insert(all.end(), page->entries.begin(), page->entries.end());
    token = page->next_page_token;
    if (token.empty()) {
      break;
    }
  }
  return all;
}

std::vector<std::string> DataStoreConformanceTest::ListIds(const EntryFilter& filter) {
  std::vector<std::string> ids;
  for (const RegistrationEntry& e : ListAll(filter)) {
    ids.push_back(e.id);
  }
  return ids;
}

}  // namespace signet::server::testing
