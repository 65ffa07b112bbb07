#include "src/proxy/allow_list.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::proxy {
namespace {

using ::testing::HasSubstr;

TEST(AllowListTest, AnEmptyListIsRefusedAtCreation) {
  absl::StatusOr<AllowList> list = AllowList::Create({}, {}, {});
  ASSERT_FALSE(list.ok());
  EXPECT_THAT(list.status().message(), HasSubstr("no peer is allowed"));
}

TEST(AllowListTest, EachRuleAdmitsWhatItNamesAndNothingElse) {
  absl::StatusOr<AllowList> list = AllowList::Create({"spiffe://example.org/web"}, {"partner.org"},
                                                     {"spiffe://example.org/ns/prod/"});
  ASSERT_TRUE(list.ok()) << list.status();
  for (const char* ok : {"spiffe://example.org/web", "spiffe://partner.org/anything",
                         "spiffe://example.org/ns/prod", "spiffe://example.org/ns/prod/db"}) {
    EXPECT_TRUE(list->Check(ok).ok()) << ok;
  }
  for (const char* denied :
       {"spiffe://example.org/web2", "spiffe://example.org/web/child", "spiffe://example.org/db",
        "spiffe://example.org/ns/production", "spiffe://evil.org/ns/prod/db",
        "spiffe://partner.org.evil.com/x", "not a spiffe id", ""}) {
    absl::Status s = list->Check(denied);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << denied;
  }
  EXPECT_TRUE(list->AsAuthorizer()("spiffe://partner.org/x").ok());
  EXPECT_FALSE(list->AsAuthorizer()("spiffe://example.org/x").ok());
}

TEST(AllowListTest, BadItemsAreNamed) {
  struct Case {
    std::vector<std::string> ids, tds, prefixes;
    const char* want;
  };
  const Case cases[] = {
      {{"https://example.org/web"}, {}, {}, "allowed ID \"https://example.org/web\""},
      {{}, {"Example..org"}, {}, "allowed trust domain \"Example..org\""},
      {{}, {}, {"spiffe://example.org"}, "must be a SPIFFE ID with a path"},
      {{}, {}, {"/ns/prod"}, "must be a SPIFFE ID with a path"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AllowList> list = AllowList::Create(c.ids, c.tds, c.prefixes);
    ASSERT_FALSE(list.ok()) << c.want;
    EXPECT_THAT(list.status().message(), HasSubstr(c.want));
  }
}

}  // namespace
}  // namespace signet::proxy
