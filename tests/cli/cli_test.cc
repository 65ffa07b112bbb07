// Runs the real `signet` binary and checks its output and exit codes.
#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::testing::MustEncode;
using ::signet::testing::RunCommand;
using ::signet::testing::TempDir;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Signet(const std::string& args) { return std::string(SIGNET_BINARY) + " " + args; }

TEST(CliTest, IdParseRejectsDotSegmentNamingTheRule) {
  std::string out;
  EXPECT_EQ(RunCommand(Signet("id parse spiffe://td/a/../b"), &out), 1);
  EXPECT_THAT(out, HasSubstr("path segments may not be \".\" or \"..\""));
}

TEST(CliTest, IdParsePrintsTrustDomainAndPath) {
  std::string out;
  ASSERT_EQ(RunCommand(Signet("id parse spiffe://example.org/ns/prod/sa/web"), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("trust domain: example.org"));
  EXPECT_THAT(out, HasSubstr("path:         /ns/prod/sa/web"));
}

TEST(CliTest, IdParseJsonOutput) {
  std::string out;
  ASSERT_EQ(RunCommand(Signet("id parse --output json spiffe://example.org/a"), &out), 0);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["trust_domain"], "example.org");
  EXPECT_EQ(j["path"], "/a");
}

TEST(CliTest, IdParseRejectsEachRuleWithExitOne) {
  for (const char* bad : {"http://td/a", "spiffe://TD/a", "spiffe://td:443/a", "spiffe://td/",
                          "spiffe://td//a", "spiffe://u@td/a"}) {
    std::string out;
    EXPECT_EQ(RunCommand(Signet(std::string("id parse '") + bad + "'"), &out), 1) << bad;
    EXPECT_THAT(out, HasSubstr("invalid spiffe id: ")) << bad;
  }
}

TEST(CliTest, UsageErrorsExitTwo) {
  std::string out;
  EXPECT_EQ(RunCommand(Signet(""), &out), 2);
  EXPECT_EQ(RunCommand(Signet("id parse"), &out), 2);
  EXPECT_EQ(RunCommand(Signet("no-such-command"), &out), 2);
  EXPECT_EQ(RunCommand(Signet("id parse --output yaml spiffe://td/a"), &out), 2);
}

TEST(CliTest, HelpExitsZeroAndListsCommands) {
  std::string out;
  ASSERT_EQ(RunCommand(Signet("--help"), &out), 0);
  for (const char* cmd : {"version", "id", "bundle", "jwt", "demo"}) {
    EXPECT_THAT(out, HasSubstr(cmd));
  }
}

TEST(CliTest, VersionNamesOpenssl) {
  std::string out;
  ASSERT_EQ(RunCommand(Signet("version"), &out), 0);
  EXPECT_THAT(out, HasSubstr("signet 0."));
  EXPECT_THAT(out, HasSubstr("OpenSSL 3"));
}

TEST(CliTest, BundleInspectSpiffeAndPem) {
  testing::TestCa ca("example.org");
  TempDir dir;
  WriteTestFile(dir.File("b.json"), MustEncode(spiffe::ToSpiffeBundleJson(ca.bundle())));
  WriteTestFile(dir.File("b.pem"), MustEncode(spiffe::X509AuthoritiesToPem(ca.bundle())));
  std::string out;
  ASSERT_EQ(RunCommand(Signet("bundle inspect " + dir.File("b.json")), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("uri san:    spiffe://example.org"));
  EXPECT_THAT(out, HasSubstr("key id:     kid-example.org"));
  ASSERT_EQ(RunCommand(Signet("bundle inspect -o json " + dir.File("b.pem")), &out), 0) << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["format"], "pem");
  EXPECT_EQ(j["x509_authorities"].size(), 1u);
  EXPECT_EQ(j["x509_authorities"][0]["sha256"], ca.root().Sha256Fingerprint());
}

TEST(CliTest, BundleInspectRejectsBadFiles) {
  TempDir dir;
  WriteTestFile(dir.File("bad.json"), R"({"keys": [{"kty":"EC","use":"jwt-svid"}]})");
  std::string out;
  EXPECT_EQ(RunCommand(Signet("bundle inspect " + dir.File("bad.json")), &out), 1);
  EXPECT_THAT(out, HasSubstr("keys[0]"));
  EXPECT_EQ(RunCommand(Signet("bundle inspect " + dir.File("missing")), &out), 1);
  EXPECT_THAT(out, HasSubstr("missing"));
}

TEST(CliTest, JwtInspectMarksOutputUnverified) {
  testing::TestCa ca("example.org");
  std::string token = ca.MintJwt("/web", {"api"});
  std::string out;
  ASSERT_EQ(RunCommand(Signet("jwt inspect " + token), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("UNVERIFIED"));
  EXPECT_THAT(out, HasSubstr("\"sub\": \"spiffe://example.org/web\""));
  ASSERT_EQ(RunCommand(Signet("jwt inspect -o json " + token), &out), 0);
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verified"], false);
  EXPECT_EQ(j["header"]["kid"], "kid-example.org");
  EXPECT_EQ(RunCommand(Signet("jwt inspect not.a-jwt"), &out), 1);
}

TEST(CliTest, DemoPassesAndWritesKeyWithMode0600) {
  TempDir dir;
  std::string out;
  ASSERT_EQ(RunCommand(Signet("demo --write " + dir.File("out")), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("demo: all 9 steps passed"));
  EXPECT_THAT(out, Not(HasSubstr("[FAIL]")));
  struct stat st;
  ASSERT_EQ(stat(dir.File("out/svid.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

}  // namespace
}  // namespace signet
