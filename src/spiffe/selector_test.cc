#include "src/spiffe/selector.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::spiffe {
namespace {

using ::testing::HasSubstr;

TEST(SelectorTest, ParsesTypeAndValueSplittingAtFirstColon) {
  auto s = Selector::Parse("docker:label:app:web");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type(), "docker");
  EXPECT_EQ(s->value(), "label:app:web");
  EXPECT_EQ(s->ToString(), "docker:label:app:web");
}

struct BadSelector {
  std::string text;
  std::string message;
};

class SelectorRejectTest : public ::testing::TestWithParam<BadSelector> {};

TEST_P(SelectorRejectTest, RejectsWithMessage) {
  auto s = Selector::Parse(GetParam().text);
  ASSERT_FALSE(s.ok()) << GetParam().text;
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SelectorRejectTest,
    ::testing::Values(BadSelector{"unixuid1000", "not of the form type:value"},
                      BadSelector{"", "not of the form type:value"},
                      BadSelector{":1000", "empty type"}, BadSelector{"unix:", "empty value"},
                      BadSelector{"Unix:uid:1", "may hold only"},
                      BadSelector{"un ix:uid:1", "may hold only"},
                      BadSelector{"unix:uid:\n1", "control character"},
                      BadSelector{std::string(65, 'a') + ":v", "type longer than 64"},
                      BadSelector{"unix:" + std::string(1025, 'v'), "value longer than 1024"}));

TEST(SelectorTest, AcceptsLimits) {
  EXPECT_TRUE(Selector::Parse(std::string(64, 'a') + ":v").ok());
  EXPECT_TRUE(Selector::Parse("unix:" + std::string(1024, 'v')).ok());
  EXPECT_TRUE(Selector::Parse("k8s_psat-2:x").ok());
}

TEST(SelectorTest, CanonicalizeSortsAndDeduplicates) {
  std::vector<Selector> v = {*Selector::Parse("unix:uid:2"), *Selector::Parse("k8s:ns:a"),
                             *Selector::Parse("unix:uid:2")};
  CanonicalizeSelectors(v);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].ToString(), "k8s:ns:a");
  EXPECT_EQ(v[1].ToString(), "unix:uid:2");
}

TEST(SelectorTest, SubsetOf) {
  std::vector<Selector> present = {*Selector::Parse("a:1"), *Selector::Parse("b:2"),
                                   *Selector::Parse("c:3")};
  std::vector<Selector> need = {*Selector::Parse("a:1"), *Selector::Parse("c:3")};
  std::vector<Selector> miss = {*Selector::Parse("a:1"), *Selector::Parse("d:4")};
  EXPECT_TRUE(SelectorsSubsetOf(need, present));
  EXPECT_TRUE(SelectorsSubsetOf({}, present));
  EXPECT_FALSE(SelectorsSubsetOf(miss, present));
  EXPECT_FALSE(SelectorsSubsetOf(present, need));
}

}  // namespace
}  // namespace signet::spiffe
