// The jwt node attestor against tokens minted here: a JWK Set file, a fake clock, and every way a
// token can fail (wrong issuer or audience, expired, alg none, unknown kid, unmet conditions).
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "src/server/nodeattestor/node_attestor.h"
#include "tests/testing/test_ca.h"
#include "tests/testing/test_jwt.h"
#include "yaml-cpp/yaml.h"

namespace signet::server {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kIssuer[] = "https://ci.example.com";

class NoTokens final : public JoinTokenStore {
 public:
  absl::Status CreateJoinToken(const JoinToken&) override { return absl::UnimplementedError(""); }
  absl::StatusOr<JoinToken> ConsumeJoinToken(absl::string_view, absl::Time) override {
    return absl::NotFoundError("");
  }
  absl::StatusOr<int64_t> PruneJoinTokens(absl::Time) override { return 0; }
};

class NoChallenges final : public ChallengeChannel {
 public:
  absl::StatusOr<std::string> Challenge(absl::string_view) override {
    return absl::InternalError("the jwt attestor sent a challenge");
  }
};

std::string Errors(const absl::Status& status) { return std::string(status.message()); }

class JwtAttestorTest : public ::testing::Test {
 protected:
  JwtAttestorTest()
      : clock_(testing::TestNow()),
        key_(testing::MustGenerate()),
        rsa_(testing::MustGenerate(crypto::KeyType::kRsa2048)),
        other_(testing::MustGenerate()),
        deps_{.trust_domain = *spiffe::TrustDomain::Parse("example.org"),
              .join_tokens = tokens_,
              .clock = clock_} {
    testing::WriteTestFile(jwks_path(), testing::TestJwks({{"k1", &key_}, {"r1", &rsa_}}));
  }

  std::string jwks_path() const { return dir_.File("jwks.json"); }

  // The plugin's YAML: issuer, audience and the JWK Set file, then `extra` lines.
  absl::StatusOr<std::unique_ptr<NodeAttestor>> Create(const std::string& extra) {
    const std::string text = std::string("issuer: ") + kIssuer +
                             "\naudience: signet\njwks_path: " + jwks_path() + "\n" + extra;
    return CreateJwtAttestor(RawConfig{YAML::Load(text), "node_attestors.jwt", 1}, deps_);
  }

  std::unique_ptr<NodeAttestor> MustCreate(const std::string& extra) {
    auto attestor = Create(extra);
    EXPECT_TRUE(attestor.ok()) << attestor.status();
    return attestor.ok() ? *std::move(attestor) : nullptr;
  }

  nlohmann::json Claims() const {
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    return {{"iss", kIssuer},
            {"aud", "signet"},
            {"sub", "repo:acme/api:ref:refs/heads/main"},
            {"repository", "acme/api"},
            {"repository_owner_id", "123"},
            {"ref", "refs/heads/main"},
            {"run_id", 987654},
            {"kubernetes.io", {{"namespace", "prod"}, {"serviceaccount", {{"name", "api"}}}}},
            {"iat", now - 10},
            {"exp", now + 300}};
  }

  std::string Token(const nlohmann::json& claims, const std::string& kid = "k1",
                    const std::string& alg = "ES256") const {
    const crypto::PrivateKey* key = alg[0] == 'E' ? &key_ : &rsa_;
    return testing::MintTestJwt({{"alg", alg}, {"kid", kid}, {"typ", "JWT"}}, claims, key);
  }

  absl::StatusOr<AttestationResult> Attest(NodeAttestor& attestor, const std::string& token) {
    NoChallenges channel;
    return attestor.Attest(token, channel);
  }

  static constexpr char kTemplate[] = "agent_path_template: github/{repository}/{run_id}\n";

  testing::TempDir dir_;
  FakeClock clock_;
  NoTokens tokens_;
  crypto::PrivateKey key_;
  crypto::PrivateKey rsa_;
  crypto::PrivateKey other_;
  NodeAttestorDeps deps_;
};

TEST_F(JwtAttestorTest, AValidTokenNamesTheAgentAndGivesClaimSelectors) {
  auto attestor = MustCreate(std::string(kTemplate) +
                             "conditions:\n  repository_owner_id: \"123\"\n"
                             "  ref: refs/heads/*\nselector_claims: [sub, absent]\n");
  ASSERT_NE(attestor, nullptr);
  EXPECT_EQ(attestor->type(), "jwt");
  absl::StatusOr<AttestationResult> result = Attest(*attestor, Token(Claims()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->agent_id.String(), "spiffe://example.org/signet/agent/github/acme/api/987654");
  EXPECT_TRUE(result->can_reattest);
  std::vector<std::string> selectors;
  for (const auto& s : result->selectors) selectors.push_back(s.ToString());
  EXPECT_THAT(selectors, UnorderedElementsAre(
                             "jwt:claim:repository:acme/api", "jwt:claim:run_id:987654",
                             "jwt:claim:repository_owner_id:123", "jwt:claim:ref:refs/heads/main",
                             "jwt:claim:sub:repo:acme/api:ref:refs/heads/main"));
  // RSA keys of the same set work too.
  EXPECT_TRUE(Attest(*attestor, Token(Claims(), "r1", "RS256")).ok());
  EXPECT_TRUE(Attest(*attestor, Token(Claims(), "r1", "PS256")).ok());
}

TEST_F(JwtAttestorTest, NestedClaimsReachKubernetesServiceAccountFields) {
  auto attestor = MustCreate(
      "agent_path_template: k8s/{kubernetes.io/namespace}/{kubernetes.io/serviceaccount/name}\n"
      "conditions:\n  kubernetes.io/namespace: [prod, staging]\n");
  ASSERT_NE(attestor, nullptr);
  absl::StatusOr<AttestationResult> result = Attest(*attestor, Token(Claims()));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->agent_id.String(), "spiffe://example.org/signet/agent/k8s/prod/api");
  nlohmann::json claims = Claims();
  claims["kubernetes.io"]["namespace"] = "dev";
  result = Attest(*attestor, Token(claims));
  EXPECT_TRUE(absl::IsPermissionDenied(result.status())) << result.status();
  EXPECT_THAT(Errors(result.status()),
              HasSubstr("claim \"kubernetes.io/namespace\" is \"dev\", which does not meet the "
                        "condition \"prod\" or \"staging\""));
}

TEST_F(JwtAttestorTest, EveryBadTokenIsRefusedWithAPreciseReason) {
  auto attestor =
      MustCreate(std::string(kTemplate) +
                 "conditions:\n  repository_owner_id: \"123\"\n  ref: refs/heads/main\n");
  ASSERT_NE(attestor, nullptr);
  struct Case {
    const char* name;
    std::string token;
    absl::StatusCode code;
    const char* reason;
  };
  nlohmann::json wrong_issuer = Claims();
  wrong_issuer["iss"] = "https://evil.example.com";
  nlohmann::json wrong_audience = Claims();
  wrong_audience["aud"] = {"someone-else"};
  nlohmann::json expired = Claims();
  expired["exp"] = absl::ToUnixSeconds(clock_.Now()) - 60;
  nlohmann::json not_yet = Claims();
  not_yet["nbf"] = absl::ToUnixSeconds(clock_.Now()) + 600;
  nlohmann::json other_owner = Claims();
  other_owner["repository_owner_id"] = "666";
  nlohmann::json other_ref = Claims();
  other_ref["ref"] = "refs/heads/feature";
  nlohmann::json no_ref = Claims();
  no_ref.erase("ref");
  nlohmann::json no_iss = Claims();
  no_iss.erase("iss");
  nlohmann::json bad_id = Claims();
  bad_id["repository"] = "acme/../api";
  const std::string none =
      testing::MintTestJwt({{"alg", "none"}, {"kid", "k1"}}, Claims(), nullptr);
  const std::string hs256 =
      testing::MintTestJwt({{"alg", "HS256"}, {"kid", "k1"}}, Claims(), nullptr);
  const std::string forged =
      testing::MintTestJwt({{"alg", "ES256"}, {"kid", "k1"}}, Claims(), &other_);
  const Case cases[] = {
      {"wrong issuer", Token(wrong_issuer), absl::StatusCode::kPermissionDenied,
       "issuer \"https://evil.example.com\" is not the configured \"https://ci.example.com\""},
      {"no issuer", Token(no_iss), absl::StatusCode::kPermissionDenied,
       "claim \"iss\" missing or not a string"},
      {"wrong audience", Token(wrong_audience), absl::StatusCode::kPermissionDenied,
       "audience does not include \"signet\""},
      {"expired", Token(expired), absl::StatusCode::kPermissionDenied, "token has expired"},
      {"not yet valid", Token(not_yet), absl::StatusCode::kPermissionDenied, "not valid yet"},
      {"alg none", none, absl::StatusCode::kPermissionDenied, "alg \"none\" is not allowed"},
      {"alg HS256", hs256, absl::StatusCode::kPermissionDenied, "\"HS256\""},
      {"unknown kid", Token(Claims(), "k9"), absl::StatusCode::kPermissionDenied,
       "key id \"k9\" is not in the issuer's key set"},
      {"alg of another key type", Token(Claims(), "k1", "RS256"),
       absl::StatusCode::kPermissionDenied, "alg RS256 does not match the type of key \"k1\""},
      {"signed by another key", forged, absl::StatusCode::kPermissionDenied,
       "signature verification failed"},
      {"owner condition", Token(other_owner), absl::StatusCode::kPermissionDenied,
       "claim \"repository_owner_id\" is \"666\", which does not meet the condition \"123\""},
      {"ref condition", Token(other_ref), absl::StatusCode::kPermissionDenied,
       "claim \"ref\" is \"refs/heads/feature\", which does not meet the condition "
       "\"refs/heads/main\""},
      {"claim missing", Token(no_ref), absl::StatusCode::kPermissionDenied,
       "the token has no claim \"ref\""},
      {"claims that make no agent id", Token(bad_id), absl::StatusCode::kPermissionDenied,
       "do not give a valid agent id"},
      {"not a jwt", "garbage", absl::StatusCode::kInvalidArgument, "compact JWS"},
      {"empty", "", absl::StatusCode::kInvalidArgument, "1 to"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AttestationResult> result = Attest(*attestor, c.token);
    EXPECT_EQ(result.status().code(), c.code) << c.name << ": " << result.status();
    EXPECT_THAT(Errors(result.status()), HasSubstr(c.reason)) << c.name;
  }
}

TEST_F(JwtAttestorTest, ARotatedKeyIsFetchedAgainButNotMoreThanTwiceAMinute) {
  auto attestor = MustCreate(kTemplate);
  ASSERT_NE(attestor, nullptr);
  const std::string rotated =
      testing::MintTestJwt({{"alg", "ES256"}, {"kid", "k2"}}, Claims(), &other_);
  // The issuer publishes k2 after the server loaded its set.
  testing::WriteTestFile(jwks_path(), testing::TestJwks({{"k1", &key_}, {"k2", &other_}}));
  // Within 30 s of the first load an unknown kid does not make the server fetch again.
  absl::StatusOr<AttestationResult> result = Attest(*attestor, rotated);
  EXPECT_THAT(Errors(result.status()), HasSubstr("key id \"k2\" is not in the issuer's key set"));
  clock_.Advance(absl::Seconds(31));
  result = Attest(*attestor, rotated);
  EXPECT_TRUE(result.ok()) << result.status();
}

TEST_F(JwtAttestorTest, TheSetIsRefreshedAfterTheIntervalAndKeptWhenTheRefreshFails) {
  auto attestor = MustCreate(std::string(kTemplate) + "jwks_refresh_interval: 1m\n");
  ASSERT_NE(attestor, nullptr);
  // The issuer drops k1: once the interval has passed, k1 tokens stop working.
  testing::WriteTestFile(jwks_path(), testing::TestJwks({{"r1", &rsa_}}));
  clock_.Advance(absl::Seconds(61));
  absl::StatusOr<AttestationResult> result = Attest(*attestor, Token(Claims()));
  EXPECT_THAT(Errors(result.status()), HasSubstr("key id \"k1\" is not in the issuer's key set"));
  // A broken publication does not replace the last good set.
  testing::WriteTestFile(jwks_path(), "{not json");
  clock_.Advance(absl::Seconds(61));
  result = Attest(*attestor, Token(Claims(), "r1", "RS256"));
  EXPECT_TRUE(result.ok()) << result.status();
}

TEST_F(JwtAttestorTest, ConfigurationProblemsAreNamed) {
  struct Case {
    std::string yaml;
    const char* problem;
  };
  const Case cases[] = {
      {"", "agent_path_template: required key is missing"},
      {"agent_path_template: fixed\n", "must use at least one {claim}"},
      {"agent_path_template: a/{sub\n", "an unclosed '{'"},
      {"agent_path_template: a/{}\n", "\"{}\" is not a claim name"},
      {std::string(kTemplate) + "jwks_url: https://ci.example.com/jwks\n",
       "set exactly one of jwks_path and jwks_url"},
      {std::string(kTemplate) + "jwks_url_ca_path: /x\n", "only applies with jwks_url"},
      {std::string(kTemplate) + "conditions:\n  ref: \"\"\n", "needs a non-empty value"},
      {std::string(kTemplate) + "conditions:\n  \"a b\": x\n", "is not a claim name"},
      {std::string(kTemplate) + "jwks_refresh_interval: 1s\n", "jwks_refresh_interval"},
      {std::string(kTemplate) + "audiences: [x]\n", "unknown key \"audiences\""},
  };
  for (const Case& c : cases) {
    auto attestor = Create(c.yaml);
    EXPECT_TRUE(absl::IsInvalidArgument(attestor.status())) << c.yaml << attestor.status();
    EXPECT_THAT(Errors(attestor.status()), HasSubstr(c.problem)) << c.yaml;
  }
  testing::WriteTestFile(jwks_path(), R"({"keys":[{"kty":"EC","crv":"P-256"}]})");
  auto attestor = Create(kTemplate);
  EXPECT_TRUE(absl::IsInvalidArgument(attestor.status()));
  EXPECT_THAT(Errors(attestor.status()),
              HasSubstr("node_attestors.jwt.jwks_path: cannot load the key set from"));
}

TEST_F(JwtAttestorTest, AnIssuerThatCannotBeReachedDoesNotStopTheServer) {
  const std::string text = std::string("issuer: ") + kIssuer +
                           "\naudience: signet\njwks_url: https://127.0.0.1:1/jwks\n" + kTemplate;
  auto attestor = CreateJwtAttestor(RawConfig{YAML::Load(text), "node_attestors.jwt", 1}, deps_);
  ASSERT_TRUE(attestor.ok()) << attestor.status();
  absl::StatusOr<AttestationResult> result = Attest(**attestor, Token(Claims()));
  EXPECT_TRUE(absl::IsUnavailable(result.status())) << result.status();
  EXPECT_THAT(Errors(result.status()),
              HasSubstr("cannot load the key set from https://127.0.0.1:1/jwks"));
}

}  // namespace
}  // namespace signet::server
