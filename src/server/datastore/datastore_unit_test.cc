// Unit tests of the datastore's pieces that do not need a database: option checks, dialect
// helpers, page tokens, list and selector encodings, the change log's entry snapshots, and the
// connection pool.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/base64.h"
#include "src/server/datastore/datastore.h"
#include "src/server/datastore/entry_query.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/sql/connection_pool.h"
#include "src/server/datastore/sql/dialect.h"
#include "src/server/datastore/validation.h"

namespace signet::server::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(OpenDataStoreTest, RejectsBadOptions) {
  auto unknown = OpenDataStore({.driver = "mysql", .connection_string = "x"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("driver"));
  auto empty = OpenDataStore({.driver = "sqlite", .connection_string = ""});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  auto pool = OpenDataStore({.driver = "sqlite", .connection_string = "x", .max_connections = 0});
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kInvalidArgument);
  auto unreachable =
      OpenDataStore({.driver = "postgres", .connection_string = "host=/nonexistent/dir dbname=x"});
  EXPECT_EQ(unreachable.status().code(), absl::StatusCode::kUnavailable);
  auto unopenable = OpenDataStore({.driver = "sqlite", .connection_string = "/nonexistent/x.db"});
  EXPECT_EQ(unopenable.status().code(), absl::StatusCode::kUnavailable);
}

TEST(OpenDataStoreTest, InMemorySqliteWorks) {
  auto store = OpenDataStore({.driver = "sqlite", .connection_string = ":memory:"});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->CurrentRevision().value_or(-1), 0);
}

TEST(DialectTest, NumbersPlaceholders) {
  EXPECT_EQ(sql::NumberPlaceholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)");
  EXPECT_EQ(sql::NumberPlaceholders("SELECT 1"), "SELECT 1");
  EXPECT_EQ(sql::PostgresDialect().ExpandSchema("id {AUTO_ID}, d {BLOB}) {WITHOUT_ROWID};"),
            "id BIGSERIAL PRIMARY KEY, d BYTEA) ;");
  EXPECT_EQ(sql::SqliteDialect().ExpandSchema("k {KEY_TEXT}, r {INT64_KEY}"),
            "k TEXT, r INTEGER PRIMARY KEY");
}

TEST(PageTokenTest, RoundTripsAndRejectsForeignTokens) {
  std::string token = EncodePageToken("e", "abc");
  EXPECT_EQ(DecodePageToken("e", token).value_or(""), "abc");
  EXPECT_FALSE(DecodePageToken("n", token).ok());
  EXPECT_FALSE(DecodePageToken("e", "").ok());
  EXPECT_FALSE(DecodePageToken("e", "!!").ok());
  EXPECT_FALSE(DecodePageToken("e", Base64UrlEncode("v1:e:")).ok());
  EXPECT_FALSE(DecodePageToken("e", std::string(5000, 'A')).ok());
}

TEST(RowCodecTest, Lists) {
  EXPECT_EQ(JoinList({"a", "b"}), "a\nb\n");
  EXPECT_EQ(JoinList({}), "");
  EXPECT_THAT(*SplitList("a\nb\n"), ElementsAre("a", "b"));
  EXPECT_TRUE(SplitList("")->empty());
  EXPECT_FALSE(SplitList("a\nb").ok());
}

TEST(RowCodecTest, SelectorsRequireCanonicalOrder) {
  auto selectors = SelectorsFromText("a:1\nb:2\n");
  ASSERT_TRUE(selectors.ok()) << selectors.status();
  EXPECT_EQ(SelectorsToText(*selectors), "a:1\nb:2\n");
  EXPECT_FALSE(SelectorsFromText("b:2\na:1\n").ok());
  EXPECT_FALSE(SelectorsFromText("a:1\na:1\n").ok());
  EXPECT_FALSE(SelectorsFromText("nocolon\n").ok());
  EXPECT_EQ(SelectorHash("a:1\n").size(), 32u);
  EXPECT_NE(SelectorHash("a:1\n"), SelectorHash("a:2\n"));
}

RegistrationEntry ValidStoredEntry() {
  RegistrationEntry e;
  e.id = "0123456789abcdef0123456789abcdef";
  e.spiffe_id = "spiffe://example.org/w";
  e.parent_id = "spiffe://example.org/agent";
  e.selectors = {*Selector::Parse("unix:uid:1")};
  e.federates_with = {"a.org"};
  e.admin = true;
  e.expires_at = absl::FromUnixSeconds(2000000000);
  e.revision = 7;
  e.created_at = absl::FromUnixSeconds(1800000000);
  return e;
}

TEST(RowCodecTest, EntryJsonRoundTrips) {
  RegistrationEntry e = ValidStoredEntry();
  auto back = EntryFromJson(EntryToJson(e));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, e);
  // Members at their default value are left out and read back as defaults.
  e.expires_at = absl::InfinitePast();
  e.admin = false;
  e.federates_with.clear();
  EXPECT_THAT(EntryToJson(e), Not(HasSubstr("admin")));
  EXPECT_EQ(*EntryFromJson(EntryToJson(e)), e);
  RegistrationEntry full = ValidStoredEntry();
  full.x509_svid_ttl_seconds = 10;
  full.jwt_svid_ttl_seconds = 20;
  full.dns_names = {"a.example.org", "b\"q\\uote"};
  full.hint = "h \"quoted\" \\ é";
  full.downstream = true;
  EXPECT_EQ(*EntryFromJson(EntryToJson(full)), full);
}

TEST(RowCodecTest, EntryJsonRejectsDamage) {
  const std::string good = EntryToJson(ValidStoredEntry());
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[]", "object"},
      {"{", ""},
      {good.substr(0, good.size() - 1) + ",\"id\":\"x\"}", "duplicate"},
      {std::string(good).replace(good.find("\"revision\":7"), 12, "\"revision\":0"), "revision"},
      {std::string(good).replace(good.find("\"admin\":true"), 12, "\"admin\":1"), "admin"},
      {good.substr(0, good.size() - 1) + ",\"extra\":1}", "unknown member"},
      {std::string(good).replace(good.find("\"created_at\""), 12, "\"created_on\""), "created"},
      {std::string(good).replace(good.find("\"unix:uid:1\""), 12, "\"unix\""), "selectors"},
  };
  for (const Case& c : cases) {
    auto e = EntryFromJson(c.json);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(e.status().message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(ValidationTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));      // bad continuation
  EXPECT_FALSE(CheckText("hint", "\xff", 10, true).ok());
}

TEST(ValidationTest, EntryIds) {
  EXPECT_TRUE(CheckEntryId("abc-DEF_1.2").ok());
  EXPECT_FALSE(CheckEntryId("").ok());
  EXPECT_FALSE(CheckEntryId(std::string(65, 'a')).ok());
  EXPECT_FALSE(CheckEntryId("a/b").ok());
  const absl::Time t = absl::FromUnixMillis(1800000000123);
  auto id = NewEntryId(t);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 32u);
  EXPECT_TRUE(CheckEntryId(*id).ok());
  EXPECT_NE(*id, *NewEntryId(t));
  // The first 12 hex digits are the milliseconds, so ids sort by creation time.
  EXPECT_EQ(id->substr(0, 12), "01a3185c507b");
  EXPECT_LT(*id, *NewEntryId(t + absl::Milliseconds(1)));
  EXPECT_LT(*NewEntryId(t - absl::Hours(24 * 365)), *id);
}

// A connection that only counts how many exist.
class FakeConnection final : public sql::Connection {
 public:
  explicit FakeConnection(int* live) : live_(live) { ++*live_; }
  ~FakeConnection() override { --*live_; }
  absl::Status Exec(absl::string_view) override { return absl::OkStatus(); }
  absl::StatusOr<sql::Result> Query(absl::string_view, absl::Span<const sql::Param>) override {
    return sql::Result();
  }
  bool healthy() const override { return true; }

 private:
  int* live_;
};

TEST(ConnectionPoolTest, ReusesBoundsAndCloses) {
  int live = 0;
  int opened = 0;
  sql::ConnectionPool pool(
      [&]() -> absl::StatusOr<std::unique_ptr<sql::Connection>> {
        ++opened;
        return std::make_unique<FakeConnection>(&live);
      },
      /*max_connections=*/2, /*acquire_timeout=*/absl::Milliseconds(50));
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    auto c = pool.Acquire();  // the pool is exhausted
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  }
  { auto again = pool.Acquire(); }
  EXPECT_EQ(opened, 2);
  EXPECT_EQ(live, 2);
  auto held = pool.Acquire();
  ASSERT_TRUE(held.ok());
  pool.Close();
  EXPECT_EQ(live, 1);  // idle ones closed now, the leased one when returned
  EXPECT_EQ(pool.Acquire().status().code(), absl::StatusCode::kUnavailable);
  { auto released = std::move(held); }
  EXPECT_EQ(live, 0);
}

}  // namespace
}  // namespace signet::server::internal
