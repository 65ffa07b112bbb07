// `signet agent run` with the jwt (OIDC) node attestor and a trust bundle fetched over https,
// against a real `signet server run`. The issuer's JWK Set and the bundle are served by a real
// HTTPS server (Python's http.server); the tokens are minted here as a CI system would.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/agent_cli_fixture.h"
#include "tests/testing/https_server.h"
#include "tests/testing/test_jwt.h"

namespace signet {
namespace {

using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://ci.example.com";
constexpr char kJwtAgentId[] = "spiffe://example.org/signet/agent/ci/acme/api/42";

class AgentJwtCliTest : public AgentCliTest {
 protected:
  AgentJwtCliTest()
      : issuer_key_(::signet::testing::MustGenerate()),
        other_key_(::signet::testing::MustGenerate()) {}

  void SetUp() override {
    WriteTestFile(web_.File("jwks.json"), ::signet::testing::TestJwks({{"ci-1", &issuer_key_}}));
    https_ = std::make_unique<::signet::testing::TestHttpsServer>(web_.path());
    AgentCliTest::SetUp();
  }

  std::string ExtraNodeAttestors() override {
    return absl::StrCat("  jwt:\n    issuer: ", kIssuer, "\n    audience: signet\n",
                        "    jwks_url: ", https_->Url("jwks.json"), "\n",
                        "    jwks_url_ca_path: ", https_->ca_path(), "\n",
                        "    agent_path_template: ci/{repository}/{run_id}\n",
                        "    conditions:\n      repository_owner_id: \"123\"\n",
                        "      ref: refs/heads/main\n");
  }

  nlohmann::json Claims() const {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return {{"iss", kIssuer},
            {"aud", "signet"},
            {"sub", "repo:acme/api"},
            {"repository", "acme/api"},
            {"repository_owner_id", "123"},
            {"ref", "refs/heads/main"},
            {"run_id", 42},
            {"iat", now - 5},
            {"exp", now + 600}};
  }
  std::string Jwt(const nlohmann::json& claims, const std::string& kid = "ci-1",
                  const std::string& alg = "ES256", const crypto::PrivateKey* key = nullptr) {
    return ::signet::testing::MintTestJwt({{"alg", alg}, {"kid", kid}, {"typ", "JWT"}}, claims,
                                          key != nullptr ? key : &issuer_key_);
  }

  // An agent config that attests with the token in token-<name>.jwt.
  std::string JwtAgentConfig(const std::string& name, const std::string& token) {
    const std::string token_path = dir_.File("token-" + name + ".jwt");
    WriteTestFile(token_path, token + "\n");
    const std::string config = AgentConfig(name, "unused");
    Edit(config, "  join_token:\n    token: unused\n",
         absl::StrCat("  jwt:\n    token_path: ", token_path, "\n"));
    return config;
  }

  ::signet::testing::TempDir web_;
  std::unique_ptr<::signet::testing::TestHttpsServer> https_;
  crypto::PrivateKey issuer_key_;
  crypto::PrivateKey other_key_;
};

TEST_F(AgentJwtCliTest, AJwtAgentAttestsWithClaimSelectorsAndComesBackAfterEviction) {
  auto agent = StartAgent("j", JwtAgentConfig("j", Jwt(Claims())));
  ASSERT_TRUE(WaitFor([&] { return Attested("j"); })) << agent->Log() << server_->Log();
  EXPECT_EQ(Status("j")["agent_id"], kJwtAgentId);
  nlohmann::json node = AdminJson(absl::StrCat("agent show --spiffe-id ", kJwtAgentId));
  EXPECT_EQ(node["attestation_type"], "jwt") << node.dump();
  EXPECT_THAT(node.dump(), HasSubstr("claim:repository:acme/api"));
  EXPECT_THAT(node.dump(), HasSubstr("claim:ref:refs/heads/main"));

  // Evicted, it attests again with the token its file now holds (CI rotates it).
  nlohmann::json fresh = Claims();
  fresh["iat"] = absl::ToUnixSeconds(absl::Now());
  WriteTestFile(dir_.File("token-j.jwt"), Jwt(fresh));
  std::string out;
  ASSERT_EQ(Admin(absl::StrCat("agent evict --spiffe-id ", kJwtAgentId), &out), 0) << out;
  EXPECT_TRUE(WaitFor([&] {
    return agent->Log().find("attesting again after eviction") != std::string::npos &&
           Admin(absl::StrCat("agent show --spiffe-id ", kJwtAgentId), &out) == 0 && Attested("j");
  })) << agent->Log();
}

TEST_F(AgentJwtCliTest, EachBadTokenIsRefusedAndTheServerLogSaysWhy) {
  nlohmann::json wrong_issuer = Claims();
  wrong_issuer["iss"] = "https://evil.example.com";
  nlohmann::json wrong_audience = Claims();
  wrong_audience["aud"] = "someone-else";
  nlohmann::json expired = Claims();
  expired["exp"] = absl::ToUnixSeconds(absl::Now()) - 120;
  nlohmann::json other_owner = Claims();
  other_owner["repository_owner_id"] = "999";
  nlohmann::json feature_branch = Claims();
  feature_branch["ref"] = "refs/heads/feature";
  struct Case {
    const char* name;
    std::string token;
    const char* logged;
  };
  const Case cases[] = {
      {"wrong issuer", Jwt(wrong_issuer),
       "issuer \\\"https://evil.example.com\\\" is not the configured "
       "\\\"https://ci.example.com\\\""},
      {"wrong audience", Jwt(wrong_audience), "audience does not include \\\"signet\\\""},
      {"expired", Jwt(expired), "token has expired"},
      {"alg none",
       ::signet::testing::MintTestJwt({{"alg", "none"}, {"kid", "ci-1"}}, Claims(), nullptr),
       "alg \\\"none\\\" is not allowed"},
      {"unknown kid", Jwt(Claims(), "ci-9", "ES256", &other_key_),
       "key id \\\"ci-9\\\" is not in the issuer's key set"},
      {"owner condition", Jwt(other_owner),
       "claim \\\"repository_owner_id\\\" is \\\"999\\\", which does not meet the condition"},
      {"ref condition", Jwt(feature_branch),
       "claim \\\"ref\\\" is \\\"refs/heads/feature\\\", which does not meet the condition"},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string name = absl::StrCat("bad", n++);
    auto agent = StartAgent(name, JwtAgentConfig(name, c.token), "5s");
    // A refusal is final: the agent exits at once instead of retrying.
    EXPECT_EQ(agent->Wait(absl::Seconds(30)), 1) << agent->Log();
    EXPECT_THAT(agent->Log(), HasSubstr("PERMISSION_DENIED"));
    EXPECT_TRUE(WaitFor([&] { return server_->Log().find(c.logged) != std::string::npos; },
                        absl::Seconds(5)))
        << c.logged << "\n"
        << server_->Log();
    EXPECT_FALSE(Attested(name));
  }
  std::string out;
  EXPECT_NE(Admin(absl::StrCat("agent show --spiffe-id ", kJwtAgentId), &out), 0) << out;
}

TEST_F(AgentJwtCliTest, TheTrustBundleCanComeFromAnHttpsUrl) {
  // The server's bundle published on a web server the agent trusts through its CA file.
  absl::StatusOr<std::string> bundle = ReadFile(dir_.File("bundle.pem"));
  ASSERT_TRUE(bundle.ok());
  WriteTestFile(web_.File("bundle.pem"), *bundle);
  const std::string config = AgentConfig("u", Token());
  Edit(config, absl::StrCat("trust_bundle_path: ", dir_.File("bundle.pem")),
       absl::StrCat("trust_bundle_url: ", https_->Url("bundle.pem"),
                    "\ntrust_bundle_url_ca_path: ", https_->ca_path()));
  auto agent = StartAgent("u", config);
  ASSERT_TRUE(WaitFor([&] { return Attested("u"); })) << agent->Log();

  // Without the web server's CA the bundle cannot be fetched: the agent retries, then gives up.
  const std::string untrusted = AgentConfig("v", Token());
  Edit(untrusted, absl::StrCat("trust_bundle_path: ", dir_.File("bundle.pem")),
       absl::StrCat("trust_bundle_url: ", https_->Url("bundle.pem")));
  auto refused = StartAgent("v", untrusted, "2s");
  EXPECT_EQ(refused->Wait(absl::Seconds(30)), 1) << refused->Log();
  EXPECT_THAT(refused->Log(), HasSubstr("the server certificate does not verify"));
}

}  // namespace
}  // namespace signet
