// Table-driven tests of the SPIFFE ID rules (spiffe-conformance.md §1) and of the SpiffeId and
// TrustDomain value types.
#include "src/spiffe/spiffe_id.h"

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/hash/hash_testing.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::spiffe {
namespace {

using ::testing::HasSubstr;

struct IdCase {
  // A valid C++ identifier: the name of the generated test.
  std::string name;
  std::string id;
  IdError want_error;
  // For valid IDs: the expected parts.
  std::string want_trust_domain;
  std::string want_path;
};

// Keeps test names short and printable (some IDs are 2 KiB or hold control characters).
void PrintTo(const IdCase& c, std::ostream* os) { *os << c.name; }

IdCase Valid(std::string name, std::string id, std::string td, std::string path) {
  return {std::move(name), std::move(id), IdError::kNone, std::move(td), std::move(path)};
}

IdCase Invalid(std::string name, std::string id, IdError error) {
  return {std::move(name), std::move(id), error, "", ""};
}

// "spiffe://example.org/aaa...": exactly `total` bytes.
std::string IdOfLength(size_t total) {
  const std::string prefix = "spiffe://example.org/";
  return prefix + std::string(total - prefix.size(), 'a');
}

std::vector<IdCase> IdCases() {
  const std::string td255(kMaxTrustDomainLength, 'a');
  const std::string td256(kMaxTrustDomainLength + 1, 'a');
  return {
      // Valid.
      Valid("TrustDomainId", "spiffe://example.org", "example.org", ""),
      Valid("OneSegment", "spiffe://example.org/workload", "example.org", "/workload"),
      Valid("ManySegments", "spiffe://example.org/ns/prod/sa/web", "example.org",
            "/ns/prod/sa/web"),
      Valid("DotPrefixedSegment", "spiffe://td/.x", "td", "/.x"),
      Valid("DoubleDotPrefixedSegment", "spiffe://td/..x", "td", "/..x"),
      Valid("TripleDotSegment", "spiffe://td/...", "td", "/..."),
      Valid("DotSuffixedSegment", "spiffe://td/a./b..", "td", "/a./b.."),
      Valid("DotSegmentInMiddle", "spiffe://td/a/.hidden/b", "td", "/a/.hidden/b"),
      Valid("Ipv4TrustDomain", "spiffe://192.168.0.1/a", "192.168.0.1", "/a"),
      Valid("TrustDomainAllChars", "spiffe://my-domain_1.example/a", "my-domain_1.example", "/a"),
      Valid("PathAllChars", "spiffe://td/AZaz09-_.", "td", "/AZaz09-_."),
      Valid("UppercasePath", "spiffe://example.org/Workload", "example.org", "/Workload"),
      Valid("SingleCharacters", "spiffe://a/b", "a", "/b"),
      Valid("NumericOnly", "spiffe://0/0", "0", "/0"),
      Valid("ExactlyMaxLength", IdOfLength(kMaxSpiffeIdLength), "example.org",
            "/" + std::string(kMaxSpiffeIdLength - 21, 'a')),
      Valid("TrustDomainOfMaxLength", absl::StrCat("spiffe://", td255, "/x"), td255, "/x"),

      // Every "must be rejected" example of §1.
      Invalid("SchemeOnly", "spiffe://", IdError::kMissingTrustDomain),
      Invalid("SchemeAndSlash", "spiffe:///", IdError::kMissingTrustDomain),
      Invalid("SingleSlashScheme", "spiffe:/x", IdError::kWrongScheme),
      Invalid("HttpScheme", "http://td/x", IdError::kWrongScheme),
      Invalid("TrailingSlashOnTrustDomain", "spiffe://td/", IdError::kTrailingSlash),
      Invalid("EmptyFirstSegment", "spiffe://td//a", IdError::kEmptySegment),
      Invalid("DotSegment", "spiffe://td/a/./b", IdError::kDotSegment),
      Invalid("DotDotOnly", "spiffe://td/..", IdError::kDotSegment),
      Invalid("Port", "spiffe://td:443/a", IdError::kTrustDomainPort),
      Invalid("UserInfo", "spiffe://u@td/a", IdError::kTrustDomainUserInfo),
      Invalid("QueryInPath", "spiffe://td/a?x", IdError::kQuery),
      Invalid("FragmentInPath", "spiffe://td/a#x", IdError::kFragment),
      Invalid("PercentInTrustDomain", "spiffe://%62ad/a", IdError::kPercentEncoded),
      Invalid("UppercaseTrustDomain", "spiffe://TD/a", IdError::kTrustDomainUppercase),
      Invalid("UppercaseScheme", "SPIFFE://td/a", IdError::kWrongScheme),

      // More of the same rules.
      Invalid("Empty", "", IdError::kEmpty),
      Invalid("MixedCaseScheme", "Spiffe://td/a", IdError::kWrongScheme),
      Invalid("NoSlashes", "spiffe:td/a", IdError::kWrongScheme),
      Invalid("LeadingSpace", " spiffe://td/a", IdError::kWrongScheme),
      Invalid("NoScheme", "td/a", IdError::kWrongScheme),
      Invalid("PartlyUppercaseTrustDomain", "spiffe://Example.org/a",
              IdError::kTrustDomainUppercase),
      Invalid("EmptyPort", "spiffe://td:/a", IdError::kTrustDomainPort),
      Invalid("EmptyUserInfo", "spiffe://@td", IdError::kTrustDomainUserInfo),
      Invalid("Ipv6Loopback", "spiffe://[::1]/a", IdError::kTrustDomainBadChar),
      Invalid("Ipv6", "spiffe://[2001:db8::1]/a", IdError::kTrustDomainBadChar),
      Invalid("SpaceInTrustDomain", "spiffe://exa mple.org/a", IdError::kTrustDomainBadChar),
      Invalid("StarInTrustDomain", "spiffe://*.example.org/a", IdError::kTrustDomainBadChar),
      Invalid("NonAsciiTrustDomain", "spiffe://caf\xc3\xa9.org/a", IdError::kTrustDomainBadChar),
      Invalid("QueryAfterTrustDomain", "spiffe://td?x", IdError::kQuery),
      Invalid("FragmentAfterTrustDomain", "spiffe://td#x", IdError::kFragment),
      Invalid("SingleDotOnly", "spiffe://td/.", IdError::kDotSegment),
      Invalid("DotFirst", "spiffe://td/./a", IdError::kDotSegment),
      Invalid("DotDotLast", "spiffe://td/a/..", IdError::kDotSegment),
      Invalid("TrailingSlashOnPath", "spiffe://td/a/b/", IdError::kTrailingSlash),
      Invalid("EmptyMiddleSegment", "spiffe://td/a//b", IdError::kEmptySegment),
      Invalid("PercentInPath", "spiffe://td/a%20b", IdError::kPercentEncoded),
      Invalid("PercentEncodedDot", "spiffe://td/a/%2e", IdError::kPercentEncoded),
      Invalid("SpaceInPath", "spiffe://td/a b", IdError::kPathBadChar),
      Invalid("PlusInPath", "spiffe://td/a+b", IdError::kPathBadChar),
      Invalid("ColonInPath", "spiffe://td/a:b", IdError::kPathBadChar),
      Invalid("NewlineInPath", "spiffe://td/a\n", IdError::kPathBadChar),
      Invalid("NulInPath", std::string("spiffe://td/a\0b", 15), IdError::kPathBadChar),
      Invalid("NonAsciiPath", "spiffe://td/caf\xc3\xa9", IdError::kPathBadChar),
      Invalid("OneByteTooLong", IdOfLength(kMaxSpiffeIdLength + 1), IdError::kTooLong),
      Invalid("TrustDomainOneByteTooLong", absl::StrCat("spiffe://", td256, "/x"),
              IdError::kTrustDomainTooLong),
  };
}

class SpiffeIdRulesTest : public ::testing::TestWithParam<IdCase> {};

TEST_P(SpiffeIdRulesTest, ValidateAndParseAgree) {
  const IdCase& c = GetParam();
  EXPECT_EQ(ValidateSpiffeId(c.id), c.want_error)
      << "got \"" << ErrorString(ValidateSpiffeId(c.id)) << "\", want \""
      << ErrorString(c.want_error) << "\"";
  absl::StatusOr<SpiffeId> parsed = SpiffeId::Parse(c.id);
  if (c.want_error == IdError::kNone) {
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->trust_domain().name(), c.want_trust_domain);
    EXPECT_EQ(parsed->path(), c.want_path);
    EXPECT_EQ(parsed->String(), c.id);
    EXPECT_EQ(parsed->IsTrustDomainId(), c.want_path.empty());
    absl::StatusOr<SpiffeId> reparsed = SpiffeId::Parse(parsed->String());
    ASSERT_TRUE(reparsed.ok()) << reparsed.status();
    EXPECT_EQ(*reparsed, *parsed);
  } else {
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(std::string(ErrorString(c.want_error))));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, SpiffeIdRulesTest, ::testing::ValuesIn(IdCases()),
                         [](const ::testing::TestParamInfo<IdCase>& info) {
                           return info.param.name;
                         });

TEST(SpiffeIdTest, TableCoversEveryRule) {
  // A rule without a case in the table would be untested.
  std::set<IdError> seen;
  for (const IdCase& c : IdCases()) {
    seen.insert(c.want_error);
  }
  for (IdError e :
       {IdError::kNone, IdError::kEmpty, IdError::kTooLong, IdError::kWrongScheme,
        IdError::kMissingTrustDomain, IdError::kTrustDomainTooLong, IdError::kTrustDomainUppercase,
        IdError::kTrustDomainUserInfo, IdError::kTrustDomainPort, IdError::kTrustDomainBadChar,
        IdError::kPercentEncoded, IdError::kQuery, IdError::kFragment, IdError::kEmptySegment,
        IdError::kDotSegment, IdError::kTrailingSlash, IdError::kPathBadChar}) {
    EXPECT_TRUE(seen.count(e) == 1) << ErrorString(e);
  }
  EXPECT_GE(IdCases().size(), 40u);
}

TEST(SpiffeIdTest, ErrorStringsAreDistinct) {
  const std::vector<IdError> all = {
      IdError::kNone,
      IdError::kEmpty,
      IdError::kTooLong,
      IdError::kWrongScheme,
      IdError::kMissingTrustDomain,
      IdError::kTrustDomainTooLong,
      IdError::kTrustDomainUppercase,
      IdError::kTrustDomainUserInfo,
      IdError::kTrustDomainPort,
      IdError::kTrustDomainBadChar,
      IdError::kPercentEncoded,
      IdError::kQuery,
      IdError::kFragment,
      IdError::kEmptySegment,
      IdError::kDotSegment,
      IdError::kTrailingSlash,
      IdError::kPathBadChar,
      IdError::kNotTrustDomainId,
  };
  std::set<absl::string_view> strings;
  for (IdError e : all) {
    EXPECT_FALSE(ErrorString(e).empty());
    EXPECT_TRUE(strings.insert(ErrorString(e)).second) << ErrorString(e);
  }
}

struct TrustDomainNameCase {
  std::string name;
  IdError want_error;
};

TEST(SpiffeIdTrustDomainTest, ValidateTrustDomainName) {
  const std::vector<TrustDomainNameCase> cases = {
      {"example.org", IdError::kNone},
      {"10.0.0.1", IdError::kNone},
      {"a-b_c.d", IdError::kNone},
      {std::string(kMaxTrustDomainLength, 'x'), IdError::kNone},
      {std::string(kMaxTrustDomainLength + 1, 'x'), IdError::kTrustDomainTooLong},
      {"", IdError::kMissingTrustDomain},
      {"Example.org", IdError::kTrustDomainUppercase},
      {"example.org:8080", IdError::kTrustDomainPort},
      {"user@example.org", IdError::kTrustDomainUserInfo},
      {"%65xample.org", IdError::kPercentEncoded},
      {"example.org/a", IdError::kTrustDomainBadChar},
      {"[::1]", IdError::kTrustDomainBadChar},
  };
  for (const TrustDomainNameCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ValidateTrustDomainName(c.name), c.want_error);
  }
}

TEST(SpiffeIdTrustDomainTest, ParseNameAndIdFormsAgree) {
  absl::StatusOr<TrustDomain> by_name = TrustDomain::Parse("example.org");
  absl::StatusOr<TrustDomain> by_id = TrustDomain::Parse("spiffe://example.org");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_name->name(), "example.org");
  EXPECT_EQ(by_id->name(), "example.org");
  EXPECT_EQ(*by_name, *by_id);
  EXPECT_EQ(by_name->IdString(), "spiffe://example.org");
}

TEST(SpiffeIdTrustDomainTest, ParseRejects) {
  const std::vector<std::pair<std::string, IdError>> cases = {
      {"spiffe://example.org/path", IdError::kNotTrustDomainId},
      {"spiffe://example.org/", IdError::kNotTrustDomainId},
      {"", IdError::kMissingTrustDomain},
      {"spiffe://", IdError::kMissingTrustDomain},
      {"Example.org", IdError::kTrustDomainUppercase},
      {"spiffe://Example.org", IdError::kTrustDomainUppercase},
      {"SPIFFE://example.org", IdError::kWrongScheme},
      {"http://example.org", IdError::kWrongScheme},
      {"spiffe://example.org:443", IdError::kTrustDomainPort},
      {"spiffe://example.org?x", IdError::kQuery},
      {"spiffe://example.org#x", IdError::kFragment},
      {"example.org:443", IdError::kTrustDomainPort},
      {std::string(kMaxTrustDomainLength + 1, 'a'), IdError::kTrustDomainTooLong},
  };
  for (const auto& [input, want] : cases) {
    SCOPED_TRACE(input);
    absl::StatusOr<TrustDomain> td = TrustDomain::Parse(input);
    ASSERT_FALSE(td.ok());
    EXPECT_EQ(td.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(td.status().message(), HasSubstr(std::string(ErrorString(want))));
  }
}

TrustDomain Td(absl::string_view name) {
  absl::StatusOr<TrustDomain> td = TrustDomain::Parse(name);
  EXPECT_TRUE(td.ok()) << td.status();
  return *std::move(td);
}

SpiffeId Id(absl::string_view id) {
  absl::StatusOr<SpiffeId> parsed = SpiffeId::Parse(id);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *std::move(parsed);
}

TEST(SpiffeIdTest, FromParts) {
  const TrustDomain td = Td("example.org");
  absl::StatusOr<SpiffeId> root = SpiffeId::FromParts(td, "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(root->IsTrustDomainId());
  EXPECT_EQ(root->String(), "spiffe://example.org");
  EXPECT_EQ(root->String(), td.IdString());

  absl::StatusOr<SpiffeId> leaf = SpiffeId::FromParts(td, "/ns/Prod");
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_FALSE(leaf->IsTrustDomainId());
  EXPECT_EQ(leaf->String(), "spiffe://example.org/ns/Prod");
  EXPECT_EQ(leaf->trust_domain(), td);
  EXPECT_EQ(leaf->path(), "/ns/Prod");
  EXPECT_EQ(*leaf, Id("spiffe://example.org/ns/Prod"));
}

TEST(SpiffeIdTest, FromPartsRejectsBadPaths) {
  const TrustDomain td = Td("example.org");
  const std::vector<std::pair<std::string, IdError>> cases = {
      {"/a/", IdError::kTrailingSlash},
      {"/", IdError::kTrailingSlash},
      {"//a", IdError::kEmptySegment},
      {"/./a", IdError::kDotSegment},
      {"/a?x", IdError::kQuery},
      {"/a#x", IdError::kFragment},
      {"/a%2f", IdError::kPercentEncoded},
      {"/a b", IdError::kPathBadChar},
      {"/" + std::string(kMaxSpiffeIdLength, 'a'), IdError::kTooLong},
  };
  for (const auto& [path, want] : cases) {
    SCOPED_TRACE(path);
    absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(td, path);
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(id.status().message(), HasSubstr(std::string(ErrorString(want))));
  }
  // A path must start with "/": otherwise it would extend the trust domain name.
  for (absl::string_view path : {"a", ".evil.com/a", ":443/a", "@x/a"}) {
    SCOPED_TRACE(path);
    absl::StatusOr<SpiffeId> id = SpiffeId::FromParts(td, path);
    EXPECT_FALSE(id.ok()) << id->String();
  }
}

TEST(SpiffeIdTest, IsTrustDomainId) {
  EXPECT_TRUE(Id("spiffe://example.org").IsTrustDomainId());
  EXPECT_FALSE(Id("spiffe://example.org/a").IsTrustDomainId());
}

TEST(SpiffeIdTest, MemberOf) {
  const SpiffeId id = Id("spiffe://example.org/web");
  EXPECT_TRUE(id.MemberOf(Td("example.org")));
  EXPECT_TRUE(Id("spiffe://example.org").MemberOf(Td("example.org")));
  EXPECT_FALSE(id.MemberOf(Td("example.com")));
  EXPECT_FALSE(id.MemberOf(Td("example.or")));
  EXPECT_FALSE(Id("spiffe://example.org.evil/web").MemberOf(Td("example.org")));
  EXPECT_FALSE(Id("spiffe://sub.example.org/web").MemberOf(Td("example.org")));
}

TEST(SpiffeIdTest, EqualityIsExactAndPathCaseSensitive) {
  EXPECT_EQ(Id("spiffe://example.org/a/b"), Id("spiffe://example.org/a/b"));
  EXPECT_NE(Id("spiffe://example.org/a/b"), Id("spiffe://example.org/a/B"));
  EXPECT_NE(Id("spiffe://example.org/a"), Id("spiffe://example.com/a"));
  EXPECT_NE(Id("spiffe://example.org/a"), Id("spiffe://example.org/a/b"));
  EXPECT_NE(Id("spiffe://example.org"), Id("spiffe://example.org/a"));
  EXPECT_EQ(Td("example.org"), Td("spiffe://example.org"));
  EXPECT_NE(Td("example.org"), Td("example.com"));
}

TEST(SpiffeIdTest, OrderingIsByTrustDomainThenPath) {
  EXPECT_LT(Td("a.org"), Td("b.org"));
  EXPECT_GT(Td("b.org"), Td("a.org"));
  // The trust domain decides before the path does.
  EXPECT_LT(Id("spiffe://a.org/z"), Id("spiffe://b.org/a"));
  EXPECT_LT(Id("spiffe://a.org/a"), Id("spiffe://a.org/b"));
  EXPECT_LT(Id("spiffe://a.org"), Id("spiffe://a.org/a"));

  std::vector<SpiffeId> ids = {Id("spiffe://b.org/a"), Id("spiffe://a.org/z"), Id("spiffe://a.org"),
                               Id("spiffe://a.org/B"), Id("spiffe://a.org/a")};
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> strings;
  for (const SpiffeId& id : ids) {
    strings.push_back(id.String());
  }
  EXPECT_THAT(strings,
              ::testing::ElementsAre("spiffe://a.org", "spiffe://a.org/B", "spiffe://a.org/a",
                                     "spiffe://a.org/z", "spiffe://b.org/a"));
}

TEST(SpiffeIdTest, AbslHashIsConsistent) {
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({
      Id("spiffe://example.org"),
      Id("spiffe://example.org/a"),
      Id("spiffe://example.org/A"),
      Id("spiffe://example.org/a/b"),
      Id("spiffe://example.com/a"),
      Id("spiffe://example.or/ga"),
  }));
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(
      {Td("example.org"), Td("example.com"), Td("a"), Td("10.0.0.1")}));
}

// absl::flat_hash_set would need absl::raw_hash_set, which this test target does not link
// (Debian's Abseil is shared libraries); absl::Hash drives AbslHashValue the same way.
TEST(SpiffeIdTest, WorksInHashContainersThroughAbslHash) {
  EXPECT_EQ(absl::Hash<SpiffeId>{}(Id("spiffe://example.org/a")),
            absl::Hash<SpiffeId>{}(Id("spiffe://example.org/a")));
  EXPECT_NE(absl::Hash<SpiffeId>{}(Id("spiffe://example.org/a")),
            absl::Hash<SpiffeId>{}(Id("spiffe://example.org/A")));

  std::unordered_set<SpiffeId, absl::Hash<SpiffeId>> ids;
  EXPECT_TRUE(ids.insert(Id("spiffe://example.org/a")).second);
  EXPECT_FALSE(ids.insert(Id("spiffe://example.org/a")).second);
  EXPECT_TRUE(ids.insert(Id("spiffe://example.org/A")).second);
  EXPECT_TRUE(ids.insert(Id("spiffe://example.org")).second);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.count(Id("spiffe://example.org/A")), 1u);
  EXPECT_EQ(ids.count(Id("spiffe://example.com/a")), 0u);

  std::unordered_map<TrustDomain, int, absl::Hash<TrustDomain>> by_td;
  by_td[Td("example.org")] = 1;
  by_td[Td("spiffe://example.org")] += 1;
  by_td[Td("example.com")] = 5;
  EXPECT_EQ(by_td.size(), 2u);
  EXPECT_EQ(by_td[Td("example.org")], 2);
}

TEST(SpiffeIdTest, CopiesAreEqualAndIndependent) {
  SpiffeId a = Id("spiffe://example.org/a");
  SpiffeId b = a;
  EXPECT_EQ(a, b);
  b = Id("spiffe://example.org/b");
  EXPECT_EQ(a.String(), "spiffe://example.org/a");
  EXPECT_EQ(b.String(), "spiffe://example.org/b");
}

}  // namespace
}  // namespace signet::spiffe
