// Tests for JWT-SVID minting and validation (spiffe-conformance.md §3).
//
// Every validation uses the fixed instant signet::testing::TestNow() through
// JwtValidationOptions::now; nothing here reads the real clock. Negative tokens are crafted by
// hand and signed with a trusted key (Craft), so that each one breaks exactly one rule; every
// crafting pattern also has a positive twin showing that the untouched token is accepted.
#include "src/spiffe/jwt_svid.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/base64.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "src/crypto/signature.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"
#include "tests/testing/test_ca.h"
#include "tests/testing/test_jwt.h"

namespace signet::spiffe {
namespace {

using ::testing::HasSubstr;
using Code = absl::StatusCode;

constexpr char kTrustDomain[] = "example.org";
constexpr char kKid[] = "signing-key";
constexpr char kSubject[] = "spiffe://example.org/workload";
constexpr char kAudience[] = "spiffe://example.org/backend";
constexpr absl::Duration kLeeway = absl::Seconds(10);

// Aborts with the status: a fixture that cannot be built makes every assertion meaningless.
template <typename T>
T Must(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << "jwt_svid_test fixture: " << value.status() << "\n";
    std::abort();
  }
  return *std::move(value);
}

int64_t NowSeconds() { return absl::ToUnixSeconds(signet::testing::TestNow()); }

crypto::PrivateKey GenerateP521() {
  crypto::EvpPkeyPtr pkey(EVP_EC_gen("P-521"));
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (pkey == nullptr || bio == nullptr ||
      i2d_PKCS8PrivateKey_bio(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::cerr << "jwt_svid_test fixture: cannot generate a P-521 key\n";
    std::abort();
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int): OpenSSL's type.
  return Must(crypto::PrivateKey::FromPkcs8Der(std::string(data, static_cast<size_t>(size))));
}

// Keys are generated once per binary (RSA generation is slow under ASan). Tests never mutate
// them, and "trusted" and "attacker" keys are always distinct functions.
const crypto::PrivateKey& P256Key() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP256)));
  return *key;
}
const crypto::PrivateKey& OtherP256Key() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP256)));
  return *key;
}
const crypto::PrivateKey& P384Key() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384)));
  return *key;
}
const crypto::PrivateKey& OtherP384Key() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384)));
  return *key;
}
const crypto::PrivateKey& P521Key() {
  static const auto* const key = new crypto::PrivateKey(GenerateP521());
  return *key;
}
const crypto::PrivateKey& OtherP521Key() {
  static const auto* const key = new crypto::PrivateKey(GenerateP521());
  return *key;
}
const crypto::PrivateKey& RsaKey() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048)));
  return *key;
}
const crypto::PrivateKey& OtherRsaKey() {
  static const auto* const key =
      new crypto::PrivateKey(Must(crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048)));
  return *key;
}

TrustDomain Td(absl::string_view name) { return Must(TrustDomain::Parse(name)); }
SpiffeId Id(absl::string_view id) { return Must(SpiffeId::Parse(id)); }

Bundle JwtBundle(absl::string_view kid, const crypto::PublicKey& key) {
  Bundle bundle;
  absl::Status added = bundle.AddJwtAuthority({std::string(kid), key});
  EXPECT_TRUE(added.ok()) << added;
  return bundle;
}

BundleSet BundlesWith(absl::string_view td, absl::string_view kid, const crypto::PublicKey& key) {
  BundleSet set;
  set.Put(Td(td), JwtBundle(kid, key));
  return set;
}

JwtValidationOptions Options(absl::string_view audience = kAudience,
                             absl::Duration leeway = kLeeway) {
  return {.audience = std::string(audience), .now = signet::testing::TestNow(), .leeway = leeway};
}

JwtSigner Signer(const crypto::PrivateKey& key, std::optional<JwtAlgorithm> alg = std::nullopt,
                 absl::string_view kid = kKid) {
  return Must(JwtSigner::Create(key, std::string(kid), alg));
}

JwtSvidParams Params(std::vector<std::string> audience = {kAudience}) {
  return {.subject = Id(kSubject),
          .audience = std::move(audience),
          .issued_at = signet::testing::TestNow()};
}

std::string HeaderJson(absl::string_view alg, absl::string_view kid = kKid) {
  return nlohmann::json{{"alg", std::string(alg)}, {"kid", std::string(kid)}, {"typ", "JWT"}}
      .dump();
}

nlohmann::json GoodClaims() {
  return nlohmann::json{
      {"sub", kSubject}, {"aud", kAudience}, {"exp", NowSeconds() + 300}, {"iat", NowSeconds()}};
}

std::string SignatureFor(absl::string_view signing_input, const crypto::PrivateKey& key,
                         JwtAlgorithm alg) {
  std::string sig = Must(crypto::Sign(key, JwtSignatureScheme(alg), signing_input));
  if (key.info().algorithm == crypto::KeyAlgorithm::kEc) {
    sig = Must(crypto::EcdsaDerToRaw(sig, crypto::EcCoordinateSize(key.info().curve)));
  }
  return sig;
}

// Encodes `header` and `claims` byte for byte as given and signs them with `key` using the hash
// and padding of `alg`, whatever the header says.
std::string Craft(absl::string_view header, absl::string_view claims,
                  const crypto::PrivateKey& key = P256Key(),
                  JwtAlgorithm alg = JwtAlgorithm::kES256) {
  std::string input = absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(claims));
  return absl::StrCat(input, ".", Base64UrlEncode(SignatureFor(input, key, alg)));
}

std::string CraftClaims(const nlohmann::json& claims) {
  return Craft(HeaderJson("ES256"), claims.dump());
}

std::vector<std::string> SplitParts(absl::string_view token) { return absl::StrSplit(token, '.'); }

nlohmann::json DecodePart(absl::string_view part) {
  return nlohmann::json::parse(Must(Base64UrlDecode(part)));
}

std::set<std::string> Keys(const nlohmann::json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) {
    keys.insert(item.key());
  }
  return keys;
}

std::string Hmac(const EVP_MD* md, absl::string_view secret, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &size) == nullptr) {
    std::cerr << "jwt_svid_test fixture: HMAC failed\n";
    std::abort();
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

// A trust domain whose only JWT authority is P256Key() under kKid.
class JwtSvidTest : public ::testing::Test {
 protected:
  absl::StatusOr<JwtSvid> Validate(absl::string_view token,
                                   const JwtValidationOptions& options = Options()) const {
    return ValidateJwtSvid(token, bundles_, options);
  }
  std::string MintGood() const { return Must(Signer(P256Key()).Mint(Params())); }

  BundleSet bundles_ = BundlesWith(kTrustDomain, kKid, P256Key().public_key());
};

// ---------------------------------------------------------------------------------------------
// Algorithm names.

TEST(JwtAlgorithmTest, TheNineSpiffeAlgorithmsRoundTrip) {
  for (absl::string_view name :
       {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<JwtAlgorithm> alg = ParseJwtAlgorithm(name);
    ASSERT_TRUE(alg.ok()) << alg.status();
    EXPECT_EQ(JwtAlgorithmName(*alg), name);
  }
}

TEST(JwtAlgorithmTest, EverythingElseIsRejected) {
  for (absl::string_view name :
       {"none", "None", "NONE", "", "HS256", "HS384", "HS512", "EdDSA", "ES256K", "es256", "Es256",
        "ES256 ", " ES256", "RS1", "PS256K", "ES521", "RSA-OAEP"}) {
    SCOPED_TRACE(absl::StrCat("\"", name, "\""));
    absl::StatusOr<JwtAlgorithm> alg = ParseJwtAlgorithm(name);
    ASSERT_FALSE(alg.ok());
    EXPECT_EQ(alg.status().code(), Code::kInvalidArgument);
  }
}

TEST(JwtAlgorithmTest, KeyMatchesAlgorithm) {
  struct Case {
    const crypto::PrivateKey& (*key)();
    JwtAlgorithm alg;
    bool matches;
  };
  const Case cases[] = {
      {P256Key, JwtAlgorithm::kES256, true},  {P256Key, JwtAlgorithm::kES384, false},
      {P256Key, JwtAlgorithm::kRS256, false}, {P256Key, JwtAlgorithm::kPS256, false},
      {P384Key, JwtAlgorithm::kES384, true},  {P384Key, JwtAlgorithm::kES256, false},
      {P521Key, JwtAlgorithm::kES512, true},  {P521Key, JwtAlgorithm::kES256, false},
      {RsaKey, JwtAlgorithm::kRS256, true},   {RsaKey, JwtAlgorithm::kPS512, true},
      {RsaKey, JwtAlgorithm::kES256, false},  {RsaKey, JwtAlgorithm::kES512, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.key().info().curve, " ", JwtAlgorithmName(c.alg)));
    EXPECT_EQ(KeyMatchesAlgorithm(c.key().info(), c.alg), c.matches);
  }
}

// ---------------------------------------------------------------------------------------------
// Minting.

TEST(JwtSignerTest, HeaderIsExactlyAlgKidTyp) {
  std::string token = Must(Signer(P256Key()).Mint(Params()));
  std::vector<std::string> parts = SplitParts(token);
  ASSERT_EQ(parts.size(), 3u);
  nlohmann::json header = DecodePart(parts[0]);
  EXPECT_EQ(Keys(header), (std::set<std::string>{"alg", "kid", "typ"}));
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["kid"], kKid);
  EXPECT_EQ(header["typ"], "JWT");
}

TEST(JwtSignerTest, ClaimsAreSubAudExpIat) {
  JwtSvidParams params = Params();
  params.ttl = absl::Minutes(3);
  std::string token = Must(Signer(P256Key()).Mint(params));
  nlohmann::json claims = DecodePart(SplitParts(token)[1]);
  EXPECT_EQ(Keys(claims), (std::set<std::string>{"sub", "aud", "exp", "iat"}));
  EXPECT_EQ(claims["sub"], kSubject);
  EXPECT_EQ(claims["aud"], kAudience);  // A single audience is a string.
  EXPECT_EQ(claims["iat"], NowSeconds());
  EXPECT_EQ(claims["exp"], NowSeconds() + 180);
}

TEST(JwtSignerTest, IssuerIsIncludedWhenSet) {
  JwtSvidParams params = Params();
  params.issuer = "https://issuer.example.org";
  nlohmann::json claims = DecodePart(SplitParts(Must(Signer(P256Key()).Mint(params)))[1]);
  EXPECT_EQ(claims["iss"], "https://issuer.example.org");
}

TEST(JwtSignerTest, MultipleAudiencesBecomeAnArray) {
  std::string token = Must(Signer(P256Key()).Mint(Params({"aud-one", "aud-two", kAudience})));
  nlohmann::json claims = DecodePart(SplitParts(token)[1]);
  ASSERT_TRUE(claims["aud"].is_array());
  EXPECT_EQ(claims["aud"], (nlohmann::json{"aud-one", "aud-two", kAudience}));
}

TEST(JwtSignerTest, AudienceAndKidAreJsonEscaped) {
  const std::string tricky = "a\"b\\c\",\"sub\":\"spiffe://evil.org/x";
  JwtSigner signer = Signer(P256Key(), std::nullopt, tricky);
  std::string token = Must(signer.Mint(Params({tricky})));
  std::vector<std::string> parts = SplitParts(token);
  nlohmann::json header = DecodePart(parts[0]);
  nlohmann::json claims = DecodePart(parts[1]);
  EXPECT_EQ(header["kid"], tricky);
  EXPECT_EQ(claims["aud"], tricky);
  EXPECT_EQ(claims["sub"], kSubject);

  BundleSet bundles = BundlesWith(kTrustDomain, tricky, P256Key().public_key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options(tricky));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id.String(), kSubject);
}

TEST(JwtSignerTest, DefaultAlgorithmFollowsTheKey) {
  struct Case {
    const crypto::PrivateKey& (*key)();
    JwtAlgorithm expected;
  };
  const Case cases[] = {{P256Key, JwtAlgorithm::kES256},
                        {P384Key, JwtAlgorithm::kES384},
                        {P521Key, JwtAlgorithm::kES512},
                        {RsaKey, JwtAlgorithm::kRS256}};
  for (const Case& c : cases) {
    SCOPED_TRACE(JwtAlgorithmName(c.expected));
    JwtSigner signer = Signer(c.key());
    EXPECT_EQ(signer.algorithm(), c.expected);
    nlohmann::json header = DecodePart(SplitParts(Must(signer.Mint(Params())))[0]);
    EXPECT_EQ(header["alg"], std::string(JwtAlgorithmName(c.expected)));
  }
}

TEST(JwtSignerTest, Ps256WhenAsked) {
  JwtSigner signer = Signer(RsaKey(), JwtAlgorithm::kPS256);
  EXPECT_EQ(signer.algorithm(), JwtAlgorithm::kPS256);
  nlohmann::json header = DecodePart(SplitParts(Must(signer.Mint(Params())))[0]);
  EXPECT_EQ(header["alg"], "PS256");
}

TEST(JwtSignerTest, CreateRejectsKeyAlgorithmMismatch) {
  struct Case {
    const crypto::PrivateKey& (*key)();
    JwtAlgorithm alg;
  };
  const Case cases[] = {
      {P256Key, JwtAlgorithm::kES384}, {P256Key, JwtAlgorithm::kES512},
      {P256Key, JwtAlgorithm::kRS256}, {P256Key, JwtAlgorithm::kPS256},
      {P384Key, JwtAlgorithm::kES256}, {P521Key, JwtAlgorithm::kES384},
      {RsaKey, JwtAlgorithm::kES256},  {RsaKey, JwtAlgorithm::kES512},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.key().info().curve, " ", JwtAlgorithmName(c.alg)));
    absl::StatusOr<JwtSigner> signer = JwtSigner::Create(c.key(), kKid, c.alg);
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.status().code(), Code::kInvalidArgument);
  }
}

TEST(JwtSignerTest, CreateRejectsEmptyOrOverlongKid) {
  absl::StatusOr<JwtSigner> empty = JwtSigner::Create(P256Key(), "");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Code::kInvalidArgument);

  absl::StatusOr<JwtSigner> longest = JwtSigner::Create(P256Key(), std::string(256, 'k'));
  EXPECT_TRUE(longest.ok()) << longest.status();
  absl::StatusOr<JwtSigner> overlong = JwtSigner::Create(P256Key(), std::string(257, 'k'));
  ASSERT_FALSE(overlong.ok());
  EXPECT_EQ(overlong.status().code(), Code::kInvalidArgument);
}

TEST(JwtSignerTest, MintRejectsBadParams) {
  struct Case {
    const char* name;
    void (*mutate)(JwtSvidParams&);
  };
  const Case cases[] = {
      {"trust-domain id subject", [](JwtSvidParams& p) { p.subject = Id("spiffe://example.org"); }},
      {"empty audience list", [](JwtSvidParams& p) { p.audience.clear(); }},
      {"empty audience value",
       [](JwtSvidParams& p) {
         p.audience = {kAudience, ""};
       }},
      {"zero ttl", [](JwtSvidParams& p) { p.ttl = absl::ZeroDuration(); }},
      {"negative ttl", [](JwtSvidParams& p) { p.ttl = -absl::Seconds(1); }},
  };
  JwtSigner signer = Signer(P256Key());
  ASSERT_TRUE(signer.Mint(Params()).ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    JwtSvidParams params = Params();
    c.mutate(params);
    absl::StatusOr<std::string> token = signer.Mint(params);
    ASSERT_FALSE(token.ok()) << *token;
    EXPECT_EQ(token.status().code(), Code::kInvalidArgument);
  }
}

// A byte that never occurs in UTF-8, an overlong encoding of '/', a sequence cut short.
const char* const kNotUtf8[] = {"\xff", "\xc0\xaf", "\xe2\x82"};

TEST(JwtSignerTest, CreateRejectsKidThatIsNotUtf8) {
  for (const char* bad : kNotUtf8) {
    SCOPED_TRACE(absl::CHexEscape(bad));
    absl::StatusOr<JwtSigner> signer = JwtSigner::Create(P256Key(), absl::StrCat("kid-", bad));
    ASSERT_FALSE(signer.ok());
    EXPECT_EQ(signer.status().code(), Code::kInvalidArgument);
    EXPECT_THAT(signer.status().message(), HasSubstr("jwt signer: key id is not valid UTF-8"));
  }
}

TEST(JwtSignerTest, MintRejectsClaimsThatAreNotUtf8) {
  struct Case {
    const char* name;
    void (*set)(JwtSvidParams&, const std::string&);
    const char* want;
  };
  const Case cases[] = {
      {"single audience", [](JwtSvidParams& p, const std::string& v) { p.audience = {v}; },
       "jwt svid: audience is not valid UTF-8"},
      {"second audience",
       [](JwtSvidParams& p, const std::string& v) {
         p.audience = {kAudience, v};
       },
       "jwt svid: audience is not valid UTF-8"},
      {"issuer", [](JwtSvidParams& p, const std::string& v) { p.issuer = v; },
       "jwt svid: issuer is not valid UTF-8"},
  };
  JwtSigner signer = Signer(P256Key());
  for (const Case& c : cases) {
    for (const char* bad : kNotUtf8) {
      SCOPED_TRACE(absl::StrCat(c.name, " ", absl::CHexEscape(bad)));
      JwtSvidParams params = Params();
      c.set(params, absl::StrCat("value-", bad));
      absl::StatusOr<std::string> token = signer.Mint(params);
      ASSERT_FALSE(token.ok()) << *token;
      EXPECT_EQ(token.status().code(), Code::kInvalidArgument);
      EXPECT_THAT(token.status().message(), HasSubstr(c.want));
    }
  }
}

TEST(JwtSignerTest, MultiByteUtf8IsKeptExactly) {
  const std::string kid = "cl\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac";
  const std::string audience = "aud-\xf0\x9f\x94\x91";
  const std::string issuer = "iss-\xc3\xa9";
  JwtSvidParams params = Params({audience});
  params.issuer = issuer;
  std::string token = Must(Signer(P256Key(), std::nullopt, kid).Mint(params));
  std::vector<std::string> parts = SplitParts(token);
  EXPECT_EQ(DecodePart(parts[0])["kid"], kid);
  EXPECT_EQ(DecodePart(parts[1])["iss"], issuer);

  BundleSet bundles = BundlesWith(kTrustDomain, kid, P256Key().public_key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options(audience));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->key_id, kid);
  EXPECT_EQ(svid->audience, std::vector<std::string>{audience});
}

// ---------------------------------------------------------------------------------------------
// Round trips, one per algorithm.

struct AlgorithmCase {
  const char* name;
  const crypto::PrivateKey& (*key)();
  const crypto::PrivateKey& (*other_key)();  // Same type, not in the bundle.
  std::optional<JwtAlgorithm> requested;
  JwtAlgorithm expected;
};

class JwtRoundTripTest : public ::testing::TestWithParam<AlgorithmCase> {};

TEST_P(JwtRoundTripTest, MintedTokenValidates) {
  const AlgorithmCase& c = GetParam();
  JwtSigner signer = Signer(c.key(), c.requested);
  ASSERT_EQ(signer.algorithm(), c.expected);
  JwtSvidParams params = Params({"other-audience", kAudience});
  std::string token = Must(signer.Mint(params));
  EXPECT_EQ(DecodePart(SplitParts(token)[0])["alg"], c.name);

  BundleSet bundles = BundlesWith(kTrustDomain, kKid, c.key().public_key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id, Id(kSubject));
  EXPECT_EQ(svid->audience, (std::vector<std::string>{"other-audience", kAudience}));
  EXPECT_EQ(svid->expiry, signet::testing::TestNow() + absl::Minutes(5));
  EXPECT_EQ(svid->issued_at, signet::testing::TestNow());
  EXPECT_EQ(svid->algorithm, c.expected);
  EXPECT_EQ(svid->key_id, kKid);
  EXPECT_EQ(svid->Claims()["sub"], kSubject);
  EXPECT_EQ(svid->Claims()["aud"], (nlohmann::json{"other-audience", kAudience}));
}

TEST_P(JwtRoundTripTest, TokenFromAnotherKeyOfTheSameTypeFails) {
  const AlgorithmCase& c = GetParam();
  std::string token = Must(Signer(c.other_key(), c.requested).Mint(Params()));
  BundleSet bundles = BundlesWith(kTrustDomain, kKid, c.key().public_key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, JwtRoundTripTest,
    ::testing::Values(
        AlgorithmCase{"ES256", P256Key, OtherP256Key, std::nullopt, JwtAlgorithm::kES256},
        AlgorithmCase{"ES384", P384Key, OtherP384Key, std::nullopt, JwtAlgorithm::kES384},
        AlgorithmCase{"ES512", P521Key, OtherP521Key, std::nullopt, JwtAlgorithm::kES512},
        AlgorithmCase{"RS256", RsaKey, OtherRsaKey, std::nullopt, JwtAlgorithm::kRS256},
        AlgorithmCase{"RS384", RsaKey, OtherRsaKey, JwtAlgorithm::kRS384, JwtAlgorithm::kRS384},
        AlgorithmCase{"RS512", RsaKey, OtherRsaKey, JwtAlgorithm::kRS512, JwtAlgorithm::kRS512},
        AlgorithmCase{"PS256", RsaKey, OtherRsaKey, JwtAlgorithm::kPS256, JwtAlgorithm::kPS256},
        AlgorithmCase{"PS384", RsaKey, OtherRsaKey, JwtAlgorithm::kPS384, JwtAlgorithm::kPS384},
        AlgorithmCase{"PS512", RsaKey, OtherRsaKey, JwtAlgorithm::kPS512, JwtAlgorithm::kPS512}),
    [](const ::testing::TestParamInfo<AlgorithmCase>& info) { return info.param.name; });

// RS256 and PS256 share a key type; a signature of one must not pass as the other.
TEST(JwtPaddingTest, Rs256AndPs256SignaturesAreNotInterchangeable) {
  BundleSet bundles = BundlesWith(kTrustDomain, kKid, RsaKey().public_key());
  std::string claims = GoodClaims().dump();
  for (auto [header_alg, signing_alg] : {std::pair{JwtAlgorithm::kRS256, JwtAlgorithm::kPS256},
                                         std::pair{JwtAlgorithm::kPS256, JwtAlgorithm::kRS256},
                                         std::pair{JwtAlgorithm::kRS256, JwtAlgorithm::kRS384}}) {
    SCOPED_TRACE(
        absl::StrCat(JwtAlgorithmName(header_alg), " signed as ", JwtAlgorithmName(signing_alg)));
    std::string header = HeaderJson(JwtAlgorithmName(header_alg));
    ASSERT_TRUE(
        ValidateJwtSvid(Craft(header, claims, RsaKey(), header_alg), bundles, Options()).ok());
    absl::StatusOr<JwtSvid> svid =
        ValidateJwtSvid(Craft(header, claims, RsaKey(), signing_alg), bundles, Options());
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  }
}

// ---------------------------------------------------------------------------------------------
// Algorithm confusion.

TEST_F(JwtSvidTest, CraftedTokenValidates) {
  // The positive twin of every crafted negative below.
  absl::StatusOr<JwtSvid> svid = Validate(CraftClaims(GoodClaims()));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id, Id(kSubject));
}

TEST_F(JwtSvidTest, AlgNoneWithEmptySignatureIsRejected) {
  std::string input =
      absl::StrCat(Base64UrlEncode(HeaderJson("none")), ".", Base64UrlEncode(GoodClaims().dump()));
  absl::StatusOr<JwtSvid> svid = Validate(absl::StrCat(input, "."));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
}

TEST_F(JwtSvidTest, AlgNoneWithSignatureIsRejected) {
  // A signature that is valid for the same signing input under ES256.
  std::string input =
      absl::StrCat(Base64UrlEncode(HeaderJson("none")), ".", Base64UrlEncode(GoodClaims().dump()));
  std::string sig = SignatureFor(input, P256Key(), JwtAlgorithm::kES256);
  absl::StatusOr<JwtSvid> svid = Validate(absl::StrCat(input, ".", Base64UrlEncode(sig)));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
  EXPECT_THAT(svid.status().message(), HasSubstr("not allowed"));
}

TEST_F(JwtSvidTest, HmacWithThePublicKeyAsSecretIsRejected) {
  // The classic confusion: a verifier that feeds its "key" to HMAC when the token says HS*.
  struct Case {
    const char* alg;
    const EVP_MD* md;
  };
  const Case cases[] = {{"HS256", EVP_sha256()}, {"HS384", EVP_sha384()}, {"HS512", EVP_sha512()}};
  for (const crypto::PrivateKey* key : {&P256Key(), &RsaKey()}) {
    BundleSet bundles = BundlesWith(kTrustDomain, kKid, key->public_key());
    for (const std::string& secret : {Must(key->public_key().ToPem()), key->public_key().ToDer()}) {
      for (const Case& c : cases) {
        SCOPED_TRACE(
            absl::StrCat(c.alg, " key bits ", key->info().bits, " secret size ", secret.size()));
        std::string input = absl::StrCat(Base64UrlEncode(HeaderJson(c.alg)), ".",
                                         Base64UrlEncode(GoodClaims().dump()));
        std::string token = absl::StrCat(input, ".", Base64UrlEncode(Hmac(c.md, secret, input)));
        absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
        ASSERT_FALSE(svid.ok());
        EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
        EXPECT_THAT(svid.status().message(), HasSubstr("not allowed"));
      }
    }
  }
}

TEST_F(JwtSvidTest, RsaKeyInBundleWithEs256TokenIsRejected) {
  BundleSet bundles = BundlesWith(kTrustDomain, kKid, RsaKey().public_key());
  std::string token = Craft(HeaderJson("ES256"), GoodClaims().dump(), P256Key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  EXPECT_THAT(svid.status().message(), HasSubstr("does not match"));
}

TEST_F(JwtSvidTest, EcKeyInBundleWithRsaTokenIsRejected) {
  for (JwtAlgorithm alg : {JwtAlgorithm::kRS256, JwtAlgorithm::kPS256}) {
    SCOPED_TRACE(JwtAlgorithmName(alg));
    std::string token =
        Craft(HeaderJson(JwtAlgorithmName(alg)), GoodClaims().dump(), RsaKey(), alg);
    absl::StatusOr<JwtSvid> svid = Validate(token);
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
    EXPECT_THAT(svid.status().message(), HasSubstr("does not match"));
  }
}

TEST_F(JwtSvidTest, Es256TokenWithP384KeyUnderTheKidIsRejected) {
  // The signature is a genuine ECDSA-P384-SHA256 signature by the bundle's key: only the
  // curve/alg mismatch makes it invalid.
  BundleSet bundles = BundlesWith(kTrustDomain, kKid, P384Key().public_key());
  std::string claims = GoodClaims().dump();
  ASSERT_TRUE(ValidateJwtSvid(Craft(HeaderJson("ES384"), claims, P384Key(), JwtAlgorithm::kES384),
                              bundles, Options())
                  .ok());
  std::string token = Craft(HeaderJson("ES256"), claims, P384Key(), JwtAlgorithm::kES256);
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, Es384TokenWithP256KeyUnderTheKidIsRejected) {
  std::string token =
      Craft(HeaderJson("ES384"), GoodClaims().dump(), P256Key(), JwtAlgorithm::kES384);
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, DisallowedAlgorithmsAreRejected) {
  // Each token is otherwise a correct ES256 token by the trusted key.
  for (absl::string_view alg : {"EdDSA", "ES256K", "es256", "Es256", "ES256 ", "", "HS256", "none",
                                "RS1", "RSA-OAEP-256"}) {
    SCOPED_TRACE(absl::StrCat("\"", alg, "\""));
    absl::StatusOr<JwtSvid> svid = Validate(Craft(HeaderJson(alg), GoodClaims().dump()));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
  }
}

TEST_F(JwtSvidTest, MalformedAlgIsRejected) {
  for (const char* header :
       {R"({"alg":"ES256\u0000","kid":"signing-key","typ":"JWT"})",
        R"({"kid":"signing-key","typ":"JWT"})", R"({"alg":null,"kid":"signing-key","typ":"JWT"})",
        R"({"alg":["ES256"],"kid":"signing-key","typ":"JWT"})",
        R"({"alg":256,"kid":"signing-key","typ":"JWT"})"}) {
    SCOPED_TRACE(header);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(header, GoodClaims().dump()));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
  }
}

TEST_F(JwtSvidTest, AlgIsCheckedBeforeAnythingElse) {
  // Missing kid, bad typ and crit would each fail too; the alg must be what is reported.
  std::string token =
      Craft(R"({"alg":"HS256","typ":"bogus","crit":["x"],"x":1})", GoodClaims().dump());
  absl::StatusOr<JwtSvid> svid = Validate(token);
  ASSERT_FALSE(svid.ok());
  EXPECT_THAT(svid.status().message(), HasSubstr("HS256"));
  EXPECT_THAT(svid.status().message(), HasSubstr("not allowed"));
}

TEST_F(JwtSvidTest, KidOfAnotherTrustDomainIsUntrusted) {
  // Trust domain B's key signs a token for a subject in trust domain A. B's kid only exists in
  // B's bundle, so A's validation must not find it.
  BundleSet bundles;
  bundles.Put(Td("a.example"), JwtBundle("kid-a", P256Key().public_key()));
  bundles.Put(Td("b.example"), JwtBundle("kid-b", OtherP256Key().public_key()));
  nlohmann::json claims = GoodClaims();

  claims["sub"] = "spiffe://b.example/workload";
  std::string control = Craft(HeaderJson("ES256", "kid-b"), claims.dump(), OtherP256Key());
  ASSERT_TRUE(ValidateJwtSvid(control, bundles, Options()).ok());

  claims["sub"] = "spiffe://a.example/workload";
  std::string token = Craft(HeaderJson("ES256", "kid-b"), claims.dump(), OtherP256Key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, SameKidInTwoTrustDomainsUsesTheSubjectsKey) {
  BundleSet bundles;
  bundles.Put(Td("a.example"), JwtBundle(kKid, P256Key().public_key()));
  bundles.Put(Td("b.example"), JwtBundle(kKid, OtherP256Key().public_key()));
  nlohmann::json claims = GoodClaims();
  claims["sub"] = "spiffe://a.example/workload";
  std::string token = Craft(HeaderJson("ES256"), claims.dump(), OtherP256Key());
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, UnknownKidIsUntrusted) {
  for (const std::string& kid : {std::string("some-other-kid"), std::string("SIGNING-KEY"),
                                 std::string("signing-key "), std::string("signing-key\0", 12)}) {
    SCOPED_TRACE(kid);
    std::string token = Craft(HeaderJson("ES256", kid), GoodClaims().dump());
    absl::StatusOr<JwtSvid> svid = Validate(token);
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  }
}

TEST_F(JwtSvidTest, MissingOrEmptyKidIsRejected) {
  for (const char* header :
       {R"({"alg":"ES256","typ":"JWT"})", R"({"alg":"ES256","kid":"","typ":"JWT"})",
        R"({"alg":"ES256","kid":null,"typ":"JWT"})", R"({"alg":"ES256","kid":7,"typ":"JWT"})"}) {
    SCOPED_TRACE(header);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(header, GoodClaims().dump()));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
  }
}

TEST_F(JwtSvidTest, EmbeddedJwkHeaderDoesNotEstablishTrust) {
  // A key carried in the token itself ("jwk", RFC 7515 §4.1.3) must never be used.
  nlohmann::json header = {{"alg", "ES256"}, {"kid", "attacker"}, {"typ", "JWT"}};
  header["jwk"] = {{"kty", "EC"}, {"crv", "P-256"}, {"x", "AAAA"}, {"y", "AAAA"}};
  absl::StatusOr<JwtSvid> svid =
      Validate(Craft(header.dump(), GoodClaims().dump(), OtherP256Key()));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, NoBundleForTheTrustDomainIsUntrusted) {
  nlohmann::json claims = GoodClaims();
  claims["sub"] = "spiffe://other.org/workload";
  absl::StatusOr<JwtSvid> svid = Validate(CraftClaims(claims));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, BundleWithoutJwtAuthoritiesIsUntrusted) {
  signet::testing::TestCa ca(kTrustDomain);
  BundleSet bundles;
  Bundle x509_only;
  x509_only.AddX509Authority(ca.root());
  bundles.Put(Td(kTrustDomain), x509_only);
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(MintGood(), bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();

  bundles.Put(Td(kTrustDomain), Bundle());
  svid = ValidateJwtSvid(MintGood(), bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, DuplicateHeaderMemberIsRejected) {
  ASSERT_TRUE(
      Validate(Craft(R"({"alg":"ES256","kid":"signing-key","typ":"JWT"})", GoodClaims().dump()))
          .ok());
  for (const char* header : {
           R"({"alg":"ES256","kid":"signing-key","typ":"JWT","kid":"signing-key"})",
           R"({"alg":"none","kid":"signing-key","typ":"JWT","alg":"ES256"})",
           R"({"alg":"ES256","kid":"signing-key","typ":"JWT","typ":"JWT"})",
           R"({"alg":"ES256","kid":"signing-key","typ":"JWT","\u0061lg":"ES256"})",
       }) {
    SCOPED_TRACE(header);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(header, GoodClaims().dump()));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
    EXPECT_THAT(svid.status().message(), HasSubstr("duplicate"));
  }
}

TEST_F(JwtSvidTest, DuplicateClaimIsRejected) {
  const std::string exp = absl::StrCat(NowSeconds() + 300);
  const std::string tail = absl::StrCat(R"(,"exp":)", exp, "}");
  ASSERT_TRUE(Validate(Craft(HeaderJson("ES256"),
                             absl::StrCat(R"({"sub":"spiffe://example.org/workload","aud":")",
                                          kAudience, "\"", tail)))
                  .ok());
  const std::string aud = absl::StrCat(R"("aud":")", kAudience, "\"");
  const std::string claims[] = {
      absl::StrCat(R"({"sub":"spiffe://example.org/workload","sub":"spiffe://example.org/admin",)",
                   aud, tail),
      absl::StrCat(R"({"sub":"spiffe://example.org/workload",)", aud,
                   R"(,"\u0073ub":"spiffe://example.org/admin")", tail),
      absl::StrCat(R"({"sub":"spiffe://example.org/workload",)", aud, ",", aud, tail),
      absl::StrCat(R"({"sub":"spiffe://example.org/workload",)", aud, R"(,"exp":1)", tail),
  };
  for (const std::string& c : claims) {
    SCOPED_TRACE(c);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(HeaderJson("ES256"), c));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
    EXPECT_THAT(svid.status().message(), HasSubstr("duplicate"));
  }
}

TEST_F(JwtSvidTest, TrailingGarbageAndNonCanonicalEncodingsAreRejected) {
  struct Case {
    const char* name;
    std::function<std::string(const std::vector<std::string>&)> make;
    Code code;
  };
  auto join = [](const std::vector<std::string>& p) { return absl::StrJoin(p, "."); };
  const Case cases[] = {
      {"unchanged", join, Code::kOk},
      {"four parts", [&](const auto& p) { return join(p) + "." + p[2]; }, Code::kInvalidArgument},
      {"trailing dot", [&](const auto& p) { return join(p) + "."; }, Code::kInvalidArgument},
      {"two parts", [](const auto& p) { return p[0] + "." + p[1]; }, Code::kInvalidArgument},
      {"leading dot", [&](const auto& p) { return "." + join(p); }, Code::kInvalidArgument},
      {"padding on signature", [&](const auto& p) { return join(p) + "=="; },
       Code::kInvalidArgument},
      {"padding on header", [](const auto& p) { return absl::StrCat(p[0], "=.", p[1], ".", p[2]); },
       Code::kInvalidArgument},
      {"padding on payload",
       [](const auto& p) { return absl::StrCat(p[0], ".", p[1], "==.", p[2]); },
       Code::kInvalidArgument},
      {"standard base64 alphabet",
       [](const auto& p) {
         std::string sig = Base64Encode(Must(Base64UrlDecode(p[2])));
         return absl::StrCat(p[0], ".", p[1], ".", sig);
       },
       Code::kInvalidArgument},
      {"leading space", [&](const auto& p) { return " " + join(p); }, Code::kInvalidArgument},
      {"trailing space", [&](const auto& p) { return join(p) + " "; }, Code::kInvalidArgument},
      {"trailing newline", [&](const auto& p) { return join(p) + "\n"; }, Code::kInvalidArgument},
      {"trailing crlf", [&](const auto& p) { return join(p) + "\r\n"; }, Code::kInvalidArgument},
      {"space after dot", [](const auto& p) { return absl::StrCat(p[0], ". ", p[1], ".", p[2]); },
       Code::kInvalidArgument},
      {"tab in payload",
       [](const auto& p) {
         return absl::StrCat(p[0], ".", p[1].substr(0, 4), "\t", p[1].substr(4), ".", p[2]);
       },
       Code::kInvalidArgument},
      {"bearer prefix", [&](const auto& p) { return "Bearer " + join(p); }, Code::kInvalidArgument},
      {"nul byte after signature", [&](const auto& p) { return join(p) + std::string(1, '\0'); },
       Code::kInvalidArgument},
      // Extra decoded bytes after a valid signature: the signature no longer has its size.
      {"extra signature bytes",
       [](const auto& p) {
         std::string sig = Must(Base64UrlDecode(p[2])) + std::string("\x00\x01", 2);
         return absl::StrCat(p[0], ".", p[1], ".", Base64UrlEncode(sig));
       },
       Code::kUnauthenticated},
      {"extra base64 chars after signature", [&](const auto& p) { return join(p) + "AA"; },
       Code::kUnauthenticated},
  };
  std::vector<std::string> parts = SplitParts(MintGood());
  ASSERT_EQ(parts.size(), 3u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<JwtSvid> svid = Validate(c.make(parts));
    EXPECT_EQ(svid.status().code(), c.code) << svid.status();
  }
}

TEST_F(JwtSvidTest, ExtraBytesAfterRsaSignatureAreRejected) {
  BundleSet bundles = BundlesWith(kTrustDomain, kKid, RsaKey().public_key());
  std::vector<std::string> parts = SplitParts(Must(Signer(RsaKey()).Mint(Params())));
  ASSERT_TRUE(ValidateJwtSvid(absl::StrJoin(parts, "."), bundles, Options()).ok());
  std::string sig = Must(Base64UrlDecode(parts[2])) + std::string(1, '\0');
  std::string token = absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(sig));
  absl::StatusOr<JwtSvid> svid = ValidateJwtSvid(token, bundles, Options());
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, CritHeaderIsRejected) {
  for (const char* header : {
           R"({"alg":"ES256","crit":["exp"],"exp":1,"kid":"signing-key","typ":"JWT"})",
           R"({"alg":"ES256","crit":[],"kid":"signing-key","typ":"JWT"})",
       }) {
    SCOPED_TRACE(header);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(header, GoodClaims().dump()));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
    EXPECT_THAT(svid.status().message(), HasSubstr("crit"));
  }
}

TEST_F(JwtSvidTest, TypMustBeJwtOrJose) {
  struct Case {
    const char* header;
    Code code;
  };
  const Case cases[] = {
      {R"({"alg":"ES256","kid":"signing-key","typ":"JWT"})", Code::kOk},
      {R"({"alg":"ES256","kid":"signing-key","typ":"JOSE"})", Code::kOk},
      {R"({"alg":"ES256","kid":"signing-key"})", Code::kOk},
      {R"({"alg":"ES256","kid":"signing-key","typ":"jwt"})", Code::kInvalidArgument},
      {R"({"alg":"ES256","kid":"signing-key","typ":"at+jwt"})", Code::kInvalidArgument},
      {R"({"alg":"ES256","kid":"signing-key","typ":"JWS"})", Code::kInvalidArgument},
      {R"({"alg":"ES256","kid":"signing-key","typ":""})", Code::kInvalidArgument},
      {R"({"alg":"ES256","kid":"signing-key","typ":null})", Code::kInvalidArgument},
      {R"({"alg":"ES256","kid":"signing-key","typ":1})", Code::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(c.header, GoodClaims().dump()));
    EXPECT_EQ(svid.status().code(), c.code) << svid.status();
  }
}

TEST_F(JwtSvidTest, TamperingIsDetected) {
  std::vector<std::string> parts = SplitParts(MintGood());
  ASSERT_TRUE(Validate(absl::StrJoin(parts, ".")).ok());

  nlohmann::json claims = DecodePart(parts[1]);
  claims["sub"] = "spiffe://example.org/admin";
  std::string other_payload = Base64UrlEncode(claims.dump());
  nlohmann::json header = DecodePart(parts[0]);
  header["typ"] = "JOSE";
  std::string other_header = Base64UrlEncode(header.dump());
  std::string sig = Must(Base64UrlDecode(parts[2]));
  sig[10] ^= 0x01;

  for (const std::string& token : {
           absl::StrCat(parts[0], ".", other_payload, ".", parts[2]),
           absl::StrCat(other_header, ".", parts[1], ".", parts[2]),
           absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(sig)),
       }) {
    SCOPED_TRACE(token);
    absl::StatusOr<JwtSvid> svid = Validate(token);
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  }
}

TEST_F(JwtSvidTest, EcdsaSignatureOfWrongLengthIsRejected) {
  std::vector<std::string> parts = SplitParts(MintGood());
  std::string sig = Must(Base64UrlDecode(parts[2]));
  ASSERT_EQ(sig.size(), 64u);
  for (const std::string& bad : {sig.substr(0, 63), sig.substr(1), sig + sig.substr(0, 1),
                                 sig + sig.substr(0, 32), sig.substr(0, 32)}) {
    SCOPED_TRACE(bad.size());
    absl::StatusOr<JwtSvid> svid =
        Validate(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(bad)));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  }
}

TEST_F(JwtSvidTest, SwappedEcdsaHalvesAreRejected) {
  // r||s are two fixed-size numbers: the right length alone is not enough.
  std::vector<std::string> parts = SplitParts(MintGood());
  std::string sig = Must(Base64UrlDecode(parts[2]));
  std::string swapped = sig.substr(32) + sig.substr(0, 32);
  absl::StatusOr<JwtSvid> svid =
      Validate(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(swapped)));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, LeftPaddedEcdsaHalvesAreRejected) {
  // 0||r||0||s is numerically the same signature; only the fixed length keeps the encoding
  // canonical, so this must fail on length before the halves are ever compared.
  std::vector<std::string> parts = SplitParts(MintGood());
  std::string sig = Must(Base64UrlDecode(parts[2]));
  std::string padded =
      absl::StrCat(std::string(1, '\0'), sig.substr(0, 32), std::string(1, '\0'), sig.substr(32));
  absl::StatusOr<JwtSvid> svid =
      Validate(absl::StrCat(parts[0], ".", parts[1], ".", Base64UrlEncode(padded)));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  EXPECT_THAT(svid.status().message(), HasSubstr("wrong length"));
}

TEST_F(JwtSvidTest, DerEncodedEcdsaSignatureIsRejected) {
  std::string input =
      absl::StrCat(Base64UrlEncode(HeaderJson("ES256")), ".", Base64UrlEncode(GoodClaims().dump()));
  std::string der = Must(crypto::Sign(P256Key(), JwtSignatureScheme(JwtAlgorithm::kES256), input));
  ASSERT_TRUE(
      crypto::Verify(P256Key().public_key(), JwtSignatureScheme(JwtAlgorithm::kES256), input, der));
  absl::StatusOr<JwtSvid> svid = Validate(absl::StrCat(input, ".", Base64UrlEncode(der)));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
}

TEST_F(JwtSvidTest, DegenerateEcdsaValuesAreRejected) {
  std::string input =
      absl::StrCat(Base64UrlEncode(HeaderJson("ES256")), ".", Base64UrlEncode(GoodClaims().dump()));
  for (const std::string& sig : {std::string(64, '\0'), std::string(64, '\xff'),
                                 std::string(32, '\0') + std::string(31, '\0') + "\x01"}) {
    absl::StatusOr<JwtSvid> svid = Validate(absl::StrCat(input, ".", Base64UrlEncode(sig)));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kUnauthenticated) << svid.status();
  }
}

// ---------------------------------------------------------------------------------------------
// Claims.

struct ClaimsCase {
  const char* name;
  void (*mutate)(nlohmann::json&);
  Code code;
};

TEST_F(JwtSvidTest, ClaimRules) {
  const ClaimsCase cases[] = {
      {"good", [](nlohmann::json&) {}, Code::kOk},
      // exp
      {"exp missing", [](nlohmann::json& c) { c.erase("exp"); }, Code::kInvalidArgument},
      {"exp past", [](nlohmann::json& c) { c["exp"] = NowSeconds() - 3600; },
       Code::kUnauthenticated},
      {"exp string", [](nlohmann::json& c) { c["exp"] = absl::StrCat(NowSeconds() + 300); },
       Code::kInvalidArgument},
      {"exp bool", [](nlohmann::json& c) { c["exp"] = true; }, Code::kInvalidArgument},
      {"exp null", [](nlohmann::json& c) { c["exp"] = nullptr; }, Code::kInvalidArgument},
      {"exp array",
       [](nlohmann::json& c) { c["exp"] = nlohmann::json::array({NowSeconds() + 300}); },
       Code::kInvalidArgument},
      {"exp huge", [](nlohmann::json& c) { c["exp"] = 1e300; }, Code::kInvalidArgument},
      {"exp max uint64", [](nlohmann::json& c) { c["exp"] = UINT64_MAX; }, Code::kInvalidArgument},
      {"exp fractional", [](nlohmann::json& c) { c["exp"] = NowSeconds() + 0.5; }, Code::kOk},
      // nbf
      {"nbf past", [](nlohmann::json& c) { c["nbf"] = NowSeconds() - 60; }, Code::kOk},
      {"nbf future", [](nlohmann::json& c) { c["nbf"] = NowSeconds() + 60; },
       Code::kUnauthenticated},
      {"nbf string", [](nlohmann::json& c) { c["nbf"] = "0"; }, Code::kInvalidArgument},
      // iat
      {"iat missing", [](nlohmann::json& c) { c.erase("iat"); }, Code::kOk},
      {"iat future", [](nlohmann::json& c) { c["iat"] = NowSeconds() + 60; },
       Code::kUnauthenticated},
      {"iat string", [](nlohmann::json& c) { c["iat"] = "now"; }, Code::kInvalidArgument},
      // aud
      {"aud missing", [](nlohmann::json& c) { c.erase("aud"); }, Code::kInvalidArgument},
      {"aud empty array", [](nlohmann::json& c) { c["aud"] = nlohmann::json::array(); },
       Code::kInvalidArgument},
      {"aud non-string member",
       [](nlohmann::json& c) {
         c["aud"] = {kAudience, 1};
       },
       Code::kInvalidArgument},
      {"aud null member",
       [](nlohmann::json& c) {
         c["aud"] = {kAudience, nullptr};
       },
       Code::kInvalidArgument},
      {"aud number", [](nlohmann::json& c) { c["aud"] = 1; }, Code::kInvalidArgument},
      {"aud null", [](nlohmann::json& c) { c["aud"] = nullptr; }, Code::kInvalidArgument},
      {"aud object",
       [](nlohmann::json& c) {
         c["aud"] = {{"aud", kAudience}};
       },
       Code::kInvalidArgument},
      {"aud other string", [](nlohmann::json& c) { c["aud"] = "spiffe://example.org/other"; },
       Code::kUnauthenticated},
      {"aud other array",
       [](nlohmann::json& c) {
         c["aud"] = {"x", "y"};
       },
       Code::kUnauthenticated},
      {"aud case differs", [](nlohmann::json& c) { c["aud"] = "SPIFFE://example.org/backend"; },
       Code::kUnauthenticated},
      {"aud prefix only", [](nlohmann::json& c) { c["aud"] = "spiffe://example.org/back"; },
       Code::kUnauthenticated},
      {"aud string form", [](nlohmann::json& c) { c["aud"] = kAudience; }, Code::kOk},
      {"aud array form", [](nlohmann::json& c) { c["aud"] = nlohmann::json::array({kAudience}); },
       Code::kOk},
      {"aud array with others",
       [](nlohmann::json& c) {
         c["aud"] = {"x", kAudience, "y"};
       },
       Code::kOk},
      // sub
      {"sub missing", [](nlohmann::json& c) { c.erase("sub"); }, Code::kInvalidArgument},
      {"sub number", [](nlohmann::json& c) { c["sub"] = 1; }, Code::kInvalidArgument},
      {"sub null", [](nlohmann::json& c) { c["sub"] = nullptr; }, Code::kInvalidArgument},
      {"sub not a spiffe id", [](nlohmann::json& c) { c["sub"] = "workload"; },
       Code::kInvalidArgument},
      {"sub https", [](nlohmann::json& c) { c["sub"] = "https://example.org/workload"; },
       Code::kInvalidArgument},
      {"sub uppercase trust domain",
       [](nlohmann::json& c) { c["sub"] = "spiffe://Example.org/workload"; },
       Code::kInvalidArgument},
      {"sub trailing slash", [](nlohmann::json& c) { c["sub"] = "spiffe://example.org/w/"; },
       Code::kInvalidArgument},
      {"sub trust domain only", [](nlohmann::json& c) { c["sub"] = "spiffe://example.org"; },
       Code::kInvalidArgument},
      {"sub other path", [](nlohmann::json& c) { c["sub"] = "spiffe://example.org/other"; },
       Code::kOk},
      // Other claims are carried along, not interpreted.
      {"jti and iss",
       [](nlohmann::json& c) {
         c["jti"] = "id-1";
         c["iss"] = "x";
       },
       Code::kOk},
  };
  for (const ClaimsCase& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::json claims = GoodClaims();
    c.mutate(claims);
    absl::StatusOr<JwtSvid> svid = Validate(CraftClaims(claims));
    EXPECT_EQ(svid.status().code(), c.code) << svid.status();
  }
}

// Time checks at the boundaries, with the leeway on either side.
TEST_F(JwtSvidTest, TimeClaimsRespectTheLeeway) {
  struct Case {
    const char* claim;
    double offset_seconds;  // Claim value relative to now.
    absl::Duration leeway;
    Code code;
  };
  const Case cases[] = {
      {"exp", 1, absl::ZeroDuration(), Code::kOk},
      {"exp", 0, absl::ZeroDuration(), Code::kOk},
      {"exp", -1, absl::ZeroDuration(), Code::kUnauthenticated},
      {"exp", -9, absl::Seconds(10), Code::kOk},
      {"exp", -10, absl::Seconds(10), Code::kOk},
      {"exp", -10.5, absl::Seconds(10), Code::kUnauthenticated},
      {"exp", -11, absl::Seconds(10), Code::kUnauthenticated},
      {"exp", -59, absl::Minutes(1), Code::kOk},
      {"exp", -61, absl::Minutes(1), Code::kUnauthenticated},
      {"nbf", 0, absl::ZeroDuration(), Code::kOk},
      {"nbf", 1, absl::ZeroDuration(), Code::kUnauthenticated},
      {"nbf", 10, absl::Seconds(10), Code::kOk},
      {"nbf", 10.5, absl::Seconds(10), Code::kUnauthenticated},
      {"nbf", 11, absl::Seconds(10), Code::kUnauthenticated},
      {"iat", 0, absl::ZeroDuration(), Code::kOk},
      {"iat", 1, absl::ZeroDuration(), Code::kUnauthenticated},
      {"iat", 10, absl::Seconds(10), Code::kOk},
      {"iat", 11, absl::Seconds(10), Code::kUnauthenticated},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.claim, " at now", c.offset_seconds >= 0 ? "+" : "",
                              c.offset_seconds, "s, leeway ", absl::FormatDuration(c.leeway)));
    nlohmann::json claims = GoodClaims();
    claims[c.claim] = static_cast<double>(NowSeconds()) + c.offset_seconds;
    absl::StatusOr<JwtSvid> svid = Validate(CraftClaims(claims), Options(kAudience, c.leeway));
    EXPECT_EQ(svid.status().code(), c.code) << svid.status();
  }
}

TEST_F(JwtSvidTest, ValidityFollowsTheInjectedClock) {
  std::string token = MintGood();  // Valid from TestNow() for five minutes.
  JwtValidationOptions options = Options(kAudience, absl::ZeroDuration());
  options.now = signet::testing::TestNow() + absl::Minutes(5);
  EXPECT_TRUE(Validate(token, options).ok());
  options.now += absl::Seconds(1);
  EXPECT_EQ(Validate(token, options).status().code(), Code::kUnauthenticated);
  options.now = signet::testing::TestNow() - absl::Seconds(1);
  EXPECT_EQ(Validate(token, options).status().code(), Code::kUnauthenticated);  // iat ahead.
}

TEST_F(JwtSvidTest, ExpectedAudienceIsRequired) {
  absl::StatusOr<JwtSvid> svid = Validate(MintGood(), Options(""));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();

  // Even a token that carries an empty audience does not match an empty expectation.
  nlohmann::json claims = GoodClaims();
  claims["aud"] = "";
  svid = Validate(CraftClaims(claims), Options(""));
  ASSERT_FALSE(svid.ok());
  EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
}

TEST_F(JwtSvidTest, ClaimsThatAreNotAnObjectAreRejected) {
  for (const char* claims : {"[]", "\"spiffe://example.org/workload\"", "null", "1", "{",
                             "{\"sub\":\"spiffe://example.org/workload\"} x"}) {
    SCOPED_TRACE(claims);
    absl::StatusOr<JwtSvid> svid = Validate(Craft(HeaderJson("ES256"), claims));
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
  }
}

// ---------------------------------------------------------------------------------------------
// Length limit and unverified decoding.

// A correctly signed ES256 token of exactly `length` bytes, padded with a `jti` claim. Not every
// length is reachable with a given header (base64url never has length 4k+1), hence three headers.
std::string TokenOfLength(size_t length) {
  constexpr size_t kSignatureChars = 86;  // base64url of 64 bytes.
  for (const std::string& header :
       {HeaderJson("ES256"), std::string(R"({"alg":"ES256","kid":"signing-key"})"),
        std::string(R"({"alg":"ES256","kid":"signing-key","typ":"JOSE"})")}) {
    size_t fixed = Base64UrlEncode(header).size() + 2 + kSignatureChars;
    nlohmann::json claims = GoodClaims();
    claims["jti"] = "";
    size_t base = claims.dump().size();
    for (size_t n = (length - fixed) * 3 / 4 - 3; n <= (length - fixed) * 3 / 4 + 3; ++n) {
      size_t encoded = n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
      if (fixed + encoded == length && n >= base) {
        claims["jti"] = std::string(n - base, 'j');
        return Craft(header, claims.dump());
      }
    }
  }
  ADD_FAILURE() << "no token of length " << length;
  return "";
}

TEST_F(JwtSvidTest, TokenAtTheLengthLimitIsAccepted) {
  std::string token = TokenOfLength(kMaxJwtLength);
  ASSERT_EQ(token.size(), kMaxJwtLength);
  absl::StatusOr<JwtSvid> svid = Validate(token);
  EXPECT_TRUE(svid.ok()) << svid.status();
  EXPECT_TRUE(DecodeJwtUnverified(token).ok());
}

TEST_F(JwtSvidTest, OversizedTokenIsRejected) {
  for (const std::string& token :
       {TokenOfLength(kMaxJwtLength + 1), std::string(kMaxJwtLength + 1, 'a'),
        MintGood() + std::string(kMaxJwtLength, 'A')}) {
    SCOPED_TRACE(token.size());
    ASSERT_GT(token.size(), kMaxJwtLength);
    absl::StatusOr<JwtSvid> svid = Validate(token);
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), Code::kInvalidArgument) << svid.status();
    EXPECT_THAT(svid.status().message(), HasSubstr("longer than"));
    absl::StatusOr<UnverifiedJwt> decoded = DecodeJwtUnverified(token);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().code(), Code::kInvalidArgument) << decoded.status();
  }
}

TEST(DecodeJwtUnverifiedTest, ReturnsHeaderAndClaims) {
  JwtSvidParams params = Params({"a", "b"});
  absl::StatusOr<UnverifiedJwt> jwt = DecodeJwtUnverified(Must(Signer(P256Key()).Mint(params)));
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->header, (nlohmann::json{{"alg", "ES256"}, {"kid", kKid}, {"typ", "JWT"}}));
  EXPECT_EQ(jwt->claims["sub"], kSubject);
  EXPECT_EQ(jwt->claims["aud"], (nlohmann::json{"a", "b"}));
  EXPECT_EQ(jwt->claims["exp"], NowSeconds() + 300);
}

TEST(DecodeJwtUnverifiedTest, DoesNotVerifyTheSignatureOrTheAlgorithm) {
  // For display only: an untrusted or unsigned token still decodes.
  std::string untrusted =
      Craft(HeaderJson("ES256", "who-knows"), GoodClaims().dump(), OtherP256Key());
  absl::StatusOr<UnverifiedJwt> jwt = DecodeJwtUnverified(untrusted);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->header["kid"], "who-knows");

  std::string none = absl::StrCat(Base64UrlEncode(HeaderJson("none")), ".",
                                  Base64UrlEncode(GoodClaims().dump()), ".AAAA");
  jwt = DecodeJwtUnverified(none);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->header["alg"], "none");
}

TEST(DecodeJwtUnverifiedTest, RejectsMalformedTokens) {
  std::string header = Base64UrlEncode(HeaderJson("ES256"));
  std::string claims = Base64UrlEncode(GoodClaims().dump());
  for (const std::string& token : {
           absl::StrCat(header, ".", claims),
           absl::StrCat(header, ".", claims, ".AAAA.AAAA"),
           absl::StrCat(header, ".", claims, "."),
           absl::StrCat(header, ".", Base64UrlEncode("not json"), ".AAAA"),
           absl::StrCat(Base64UrlEncode("[1]"), ".", claims, ".AAAA"),
           absl::StrCat(header, ".", Base64UrlEncode(R"({"a":1,"a":2})"), ".AAAA"),
           absl::StrCat(header, "!.", claims, ".AAAA"),
           std::string(""),
       }) {
    SCOPED_TRACE(token);
    absl::StatusOr<UnverifiedJwt> jwt = DecodeJwtUnverified(token);
    ASSERT_FALSE(jwt.ok());
    EXPECT_EQ(jwt.status().code(), Code::kInvalidArgument) << jwt.status();
  }
}

// ---------------------------------------------------------------- VerifyJwt (any OIDC issuer)

TEST(VerifyJwtTest, ChecksTheIssuerAndTheAlgorithmAKeyIsPublishedFor) {
  crypto::PrivateKey rsa = testing::MustGenerate(crypto::KeyType::kRsa2048);
  nlohmann::json jwk = *PublicKeyToJwk(rsa.public_key());
  jwk["kid"] = "r1";
  jwk["alg"] = "RS256";
  absl::StatusOr<JwkSet> keys = JwkSet::Parse(nlohmann::json{{"keys", {jwk}}}.dump());
  ASSERT_TRUE(keys.ok()) << keys.status();
  const absl::Time now = testing::TestNow();
  const nlohmann::json claims = {{"iss", "https://issuer"},
                                 {"sub", "not a spiffe id"},
                                 {"aud", {"x", "signet"}},
                                 {"exp", absl::ToUnixSeconds(now) + 60}};
  const JwtVerifyOptions options = {.issuer = "https://issuer", .audience = "signet", .now = now};
  auto mint = [&](const char* alg, const nlohmann::json& c) {
    return testing::MintTestJwt({{"alg", alg}, {"kid", "r1"}}, c, &rsa);
  };
  absl::StatusOr<VerifiedJwt> ok = VerifyJwt(mint("RS256", claims), *keys, options);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->algorithm, JwtAlgorithm::kRS256);
  EXPECT_EQ(ok->key_id, "r1");
  EXPECT_THAT(ok->audience, ::testing::ElementsAre("x", "signet"));
  EXPECT_EQ(ok->expiry, absl::FromUnixSeconds(absl::ToUnixSeconds(now) + 60));
  EXPECT_EQ(nlohmann::json::parse(ok->claims_json), claims);

  // The same key under PS256 is refused: the issuer published it for RS256 only.
  absl::StatusOr<VerifiedJwt> pss = VerifyJwt(mint("PS256", claims), *keys, options);
  EXPECT_TRUE(absl::IsUnauthenticated(pss.status())) << pss.status();
  EXPECT_THAT(std::string(pss.status().message()),
              HasSubstr("alg PS256 is not the \"RS256\" that key \"r1\" is published for"));

  nlohmann::json no_iss = claims;
  no_iss.erase("iss");
  EXPECT_TRUE(absl::IsInvalidArgument(VerifyJwt(mint("RS256", no_iss), *keys, options).status()));
  nlohmann::json other_iss = claims;
  other_iss["iss"] = "https://issuer/";
  EXPECT_TRUE(
      absl::IsUnauthenticated(VerifyJwt(mint("RS256", other_iss), *keys, options).status()));
  // Both expectations are required.
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyJwt(mint("RS256", claims), *keys, {.audience = "signet", .now = now}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      VerifyJwt(mint("RS256", claims), *keys, {.issuer = "https://issuer", .now = now}).status()));
}

}  // namespace
}  // namespace signet::spiffe
