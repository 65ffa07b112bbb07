// Tests of the JWK encoding of public keys (RFC 7517/7518) used in SPIFFE bundles.
#include "src/spiffe/jwk.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/base64.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "tests/testing/test_ca.h"

namespace signet::spiffe {
namespace {

using ::testing::HasSubstr;

crypto::PublicKey GeneratePublicKey(crypto::KeyType type) {
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::Generate(type);
  EXPECT_TRUE(key.ok()) << key.status();
  return key->public_key();
}

// The JWK of `key`; a failure is reported as a test failure.
nlohmann::json MustJwk(const crypto::PublicKey& key) {
  absl::StatusOr<nlohmann::json> jwk = PublicKeyToJwk(key);
  EXPECT_TRUE(jwk.ok()) << jwk.status();
  return jwk.ok() ? *std::move(jwk) : nlohmann::json::object();
}

std::string DecodeUrl(const nlohmann::json& value) {
  absl::StatusOr<std::string> bytes = Base64UrlDecode(value.get<std::string>());
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

// Flips the lowest bit of the last byte of the base64url member `name`.
void CorruptMember(nlohmann::json* jwk, const char* name) {
  std::string bytes = DecodeUrl((*jwk)[name]);
  ASSERT_FALSE(bytes.empty());
  bytes.back() = static_cast<char>(bytes.back() ^ 1);
  (*jwk)[name] = Base64UrlEncode(bytes);
}

void ExpectInvalid(const nlohmann::json& jwk, absl::string_view want_substring) {
  absl::StatusOr<crypto::PublicKey> key = PublicKeyFromJwk(jwk);
  ASSERT_FALSE(key.ok()) << jwk.dump();
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << key.status();
  EXPECT_THAT(key.status().message(), HasSubstr(std::string(want_substring)));
}

struct EcCase {
  crypto::KeyType type;
  std::string curve;
  size_t coordinate_size;
};

void PrintTo(const EcCase& c, std::ostream* os) { *os << c.curve; }

class JwkEcTest : public ::testing::TestWithParam<EcCase> {};

TEST_P(JwkEcTest, RoundTrip) {
  const EcCase& c = GetParam();
  crypto::PublicKey key = GeneratePublicKey(c.type);
  nlohmann::json jwk = MustJwk(key);
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], c.curve);
  EXPECT_EQ(DecodeUrl(jwk["x"]).size(), c.coordinate_size);
  EXPECT_EQ(DecodeUrl(jwk["y"]).size(), c.coordinate_size);
  // Only public parameters, and nothing a bundle adds on top.
  EXPECT_FALSE(jwk.contains("d"));
  EXPECT_FALSE(jwk.contains("use"));
  EXPECT_FALSE(jwk.contains("kid"));
  EXPECT_EQ(jwk.size(), 4u);

  // Through JSON text, as a bundle carries it.
  absl::StatusOr<crypto::PublicKey> back = PublicKeyFromJwk(nlohmann::json::parse(jwk.dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->Equals(key));
  EXPECT_EQ(back->info().curve, c.curve);
  EXPECT_FALSE(back->Equals(GeneratePublicKey(c.type)));
}

TEST_P(JwkEcTest, RejectsWrongCoordinateLength) {
  const EcCase& c = GetParam();
  nlohmann::json jwk = MustJwk(GeneratePublicKey(c.type));
  const std::string x = DecodeUrl(jwk["x"]);
  const std::string y = DecodeUrl(jwk["y"]);

  nlohmann::json shorter = jwk;
  shorter["x"] = Base64UrlEncode(x.substr(1));
  ExpectInvalid(shorter, "must be");

  // A leading zero byte does not change the value, but the length is fixed by the curve.
  nlohmann::json longer = jwk;
  longer["y"] = Base64UrlEncode(std::string(1, '\0') + y);
  ExpectInvalid(longer, "must be");
}

TEST_P(JwkEcTest, RejectsPointNotOnCurve) {
  nlohmann::json jwk = MustJwk(GeneratePublicKey(GetParam().type));
  CorruptMember(&jwk, "y");
  ExpectInvalid(jwk, "jwk");

  nlohmann::json zeros = jwk;
  zeros["x"] = Base64UrlEncode(std::string(GetParam().coordinate_size, '\0'));
  zeros["y"] = zeros["x"];
  ExpectInvalid(zeros, "jwk");
}

INSTANTIATE_TEST_SUITE_P(Curves, JwkEcTest,
                         ::testing::Values(EcCase{crypto::KeyType::kEcP256, "P-256", 32},
                                           EcCase{crypto::KeyType::kEcP384, "P-384", 48}),
                         [](const ::testing::TestParamInfo<EcCase>& info) {
                           return info.param.curve == "P-256" ? std::string("P256")
                                                              : std::string("P384");
                         });

TEST(JwkTest, EcP521RoundTrip) {
  // Signet does not generate P-521 keys but must read them.
  crypto::EvpPkeyPtr raw(EVP_EC_gen("P-521"));
  ASSERT_NE(raw, nullptr);
  absl::StatusOr<crypto::PublicKey> key = crypto::PublicKey::FromEvp(std::move(raw));
  ASSERT_TRUE(key.ok()) << key.status();
  nlohmann::json jwk = MustJwk(*key);
  EXPECT_EQ(jwk["crv"], "P-521");
  EXPECT_EQ(DecodeUrl(jwk["x"]).size(), 66u);
  EXPECT_EQ(DecodeUrl(jwk["y"]).size(), 66u);
  absl::StatusOr<crypto::PublicKey> back = PublicKeyFromJwk(jwk);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->Equals(*key));
}

TEST(JwkTest, EcKeyWithCompressedPointEncoding) {
  // Keys read from certificates may carry the point in compressed form; the JWK must still hold
  // both full coordinates.
  crypto::EvpPkeyPtr raw(EVP_EC_gen("P-256"));
  ASSERT_NE(raw, nullptr);
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(raw.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  absl::StatusOr<crypto::PublicKey> key = crypto::PublicKey::FromEvp(std::move(raw));
  ASSERT_TRUE(key.ok()) << key.status();
  ASSERT_EQ(key->ToDer().size(), 59u);  // SubjectPublicKeyInfo with a 33-byte point.
  nlohmann::json jwk = MustJwk(*key);
  EXPECT_EQ(DecodeUrl(jwk["x"]).size(), 32u);
  EXPECT_EQ(DecodeUrl(jwk["y"]).size(), 32u);
  absl::StatusOr<crypto::PublicKey> back = PublicKeyFromJwk(jwk);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->Equals(*key));
}

TEST(JwkTest, KeyWithoutPublicPointIsAnError) {
  absl::StatusOr<nlohmann::json> jwk = PublicKeyToJwk(signet::testing::EcPublicKeyWithoutPoint());
  ASSERT_FALSE(jwk.ok()) << jwk->dump();
  EXPECT_EQ(jwk.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(jwk.status().message(), HasSubstr("jwk: read ec public point"));
}

TEST(JwkTest, CurveMismatchWithCoordinateLength) {
  // P-256 coordinates labelled P-384.
  nlohmann::json jwk = MustJwk(GeneratePublicKey(crypto::KeyType::kEcP256));
  jwk["crv"] = "P-384";
  ExpectInvalid(jwk, "48 bytes");
}

TEST(JwkTest, RejectsUnknownOrMissingCurve) {
  const nlohmann::json good = MustJwk(GeneratePublicKey(crypto::KeyType::kEcP256));
  for (const char* curve : {"P-192", "secp256k1", "p-256", "prime256v1", ""}) {
    SCOPED_TRACE(curve);
    nlohmann::json jwk = good;
    jwk["crv"] = curve;
    ExpectInvalid(jwk, "unsupported curve");
  }
  nlohmann::json missing = good;
  missing.erase("crv");
  ExpectInvalid(missing, "\"crv\"");
  nlohmann::json number = good;
  number["crv"] = 256;
  ExpectInvalid(number, "\"crv\"");
}

TEST(JwkTest, RejectsMissingOrMalformedEcMembers) {
  const nlohmann::json good = MustJwk(GeneratePublicKey(crypto::KeyType::kEcP256));
  ASSERT_TRUE(PublicKeyFromJwk(good).ok());
  for (const char* name : {"x", "y"}) {
    SCOPED_TRACE(name);
    nlohmann::json missing = good;
    missing.erase(name);
    ExpectInvalid(missing, absl::StrCat("\"", name, "\""));

    nlohmann::json not_string = good;
    not_string[name] = nlohmann::json::array({1, 2});
    ExpectInvalid(not_string, absl::StrCat("\"", name, "\""));

    // JOSE uses unpadded base64url: padding and the standard alphabet are errors.
    nlohmann::json padded = good;
    padded[name] = good[name].get<std::string>() + "=";
    ExpectInvalid(padded, absl::StrCat("\"", name, "\""));

    nlohmann::json standard_alphabet = good;
    std::string text = good[name].get<std::string>();
    text[0] = '+';
    standard_alphabet[name] = text;
    ExpectInvalid(standard_alphabet, absl::StrCat("\"", name, "\""));
  }
}

TEST(JwkTest, RsaRoundTrip) {
  crypto::PublicKey key = GeneratePublicKey(crypto::KeyType::kRsa2048);
  nlohmann::json jwk = MustJwk(key);
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk.size(), 3u);
  EXPECT_FALSE(jwk.contains("d"));
  const std::string n = DecodeUrl(jwk["n"]);
  const std::string e = DecodeUrl(jwk["e"]);
  EXPECT_EQ(n.size(), 256u);
  EXPECT_NE(n[0], '\0');
  EXPECT_EQ(e, std::string("\x01\x00\x01", 3));  // 65537, minimal big-endian.

  absl::StatusOr<crypto::PublicKey> back = PublicKeyFromJwk(nlohmann::json::parse(jwk.dump()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->Equals(key));
  EXPECT_EQ(back->info().algorithm, crypto::KeyAlgorithm::kRsa);
  EXPECT_EQ(back->info().bits, 2048);

  // Rejections on the same key.
  nlohmann::json leading_zero = jwk;
  leading_zero["n"] = Base64UrlEncode(std::string(1, '\0') + n);
  ExpectInvalid(leading_zero, "minimal");
  nlohmann::json empty_e = jwk;
  empty_e["e"] = "";
  ExpectInvalid(empty_e, "minimal");
  for (const char* name : {"n", "e"}) {
    SCOPED_TRACE(name);
    nlohmann::json missing = jwk;
    missing.erase(name);
    ExpectInvalid(missing, absl::StrCat("\"", name, "\""));
    nlohmann::json not_string = jwk;
    not_string[name] = 65537;
    ExpectInvalid(not_string, absl::StrCat("\"", name, "\""));
  }
}

TEST(JwkTest, RejectsRsaKeyBelowPolicy) {
  // A valid 1024-bit RSA key: well-formed, but outside the key policy.
  crypto::EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_NE(small, nullptr);
  auto param = [&](const char* name) {
    BIGNUM* raw = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(small.get(), name, &raw), 1);
    crypto::BignumPtr bn(raw);
    std::string out(static_cast<size_t>(BN_num_bytes(bn.get())), '\0');
    BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
    return Base64UrlEncode(out);
  };
  nlohmann::json jwk = {
      {"kty", "RSA"}, {"n", param(OSSL_PKEY_PARAM_RSA_N)}, {"e", param(OSSL_PKEY_PARAM_RSA_E)}};
  absl::StatusOr<crypto::PublicKey> key = PublicKeyFromJwk(jwk);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << key.status();
}

TEST(JwkTest, UnknownKtyIsUnimplemented) {
  // Case-sensitive: "ec" and "rsa" are not "EC" and "RSA".
  for (const char* kty : {"OKP", "oct", "ec", "rsa", ""}) {
    SCOPED_TRACE(kty);
    nlohmann::json jwk = MustJwk(GeneratePublicKey(crypto::KeyType::kEcP256));
    jwk["kty"] = kty;
    absl::StatusOr<crypto::PublicKey> key = PublicKeyFromJwk(jwk);
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.status().code(), absl::StatusCode::kUnimplemented) << key.status();
    EXPECT_THAT(key.status().message(), HasSubstr("unsupported kty"));
  }
}

TEST(JwkTest, MissingOrMalformedKtyIsInvalid) {
  nlohmann::json jwk = MustJwk(GeneratePublicKey(crypto::KeyType::kEcP256));
  jwk.erase("kty");
  ExpectInvalid(jwk, "\"kty\"");
  jwk["kty"] = nullptr;
  ExpectInvalid(jwk, "\"kty\"");
  jwk["kty"] = nlohmann::json::array({"EC"});
  ExpectInvalid(jwk, "\"kty\"");
}

TEST(JwkTest, NotAnObjectIsInvalid) {
  for (const nlohmann::json& value : {nlohmann::json(nullptr), nlohmann::json("EC"),
                                      nlohmann::json::array(), nlohmann::json(1)}) {
    SCOPED_TRACE(value.dump());
    ExpectInvalid(value, "not a json object");
  }
}

// ---------------------------------------------------------------- JWK Sets

nlohmann::json SetKey(const crypto::PublicKey& key, const std::string& kid) {
  nlohmann::json jwk = *PublicKeyToJwk(key);
  jwk["kid"] = kid;
  return jwk;
}

TEST(JwkSetTest, KeepsSignatureKeysAndSkipsTheOthers) {
  crypto::PublicKey ec = GeneratePublicKey(crypto::KeyType::kEcP256);
  crypto::PublicKey rsa = GeneratePublicKey(crypto::KeyType::kRsa2048);
  nlohmann::json rs = SetKey(rsa, "r1");
  rs["alg"] = "RS256";
  rs["use"] = "sig";
  rs["x5c"] = {"ignored"};
  nlohmann::json enc = SetKey(ec, "enc-1");
  enc["use"] = "enc";
  nlohmann::json okp = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}, {"kid", "o1"}};
  nlohmann::json doc = {{"keys", {SetKey(ec, "e1"), rs, enc, okp}}};
  absl::StatusOr<JwkSet> set = JwkSet::Parse(doc.dump());
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->keys().size(), 2u);
  ASSERT_NE(set->Find("e1"), nullptr);
  EXPECT_TRUE(set->Find("e1")->key.Equals(ec));
  EXPECT_EQ(set->Find("e1")->algorithm, "");
  ASSERT_NE(set->Find("r1"), nullptr);
  EXPECT_EQ(set->Find("r1")->algorithm, "RS256");
  EXPECT_EQ(set->Find("enc-1"), nullptr);
  EXPECT_EQ(set->Find("o1"), nullptr);
  EXPECT_EQ(set->Find("nope"), nullptr);
}

TEST(JwkSetTest, RefusesBrokenSets) {
  crypto::PublicKey ec = GeneratePublicKey(crypto::KeyType::kEcP256);
  nlohmann::json no_kid = *PublicKeyToJwk(ec);
  nlohmann::json bad_point = SetKey(ec, "b");
  bad_point["x"] = "AAAA";
  nlohmann::json bad_alg = SetKey(ec, "a");
  bad_alg["alg"] = 7;
  struct Case {
    std::string text;
    const char* message;
  };
  const Case cases[] = {
      {"{", "jwks: json:"},
      {"[]", "not an object with a \"keys\" array"},
      {R"({"keys":{}})", "not an object with a \"keys\" array"},
      {R"({"keys":[]})", "no EC or RSA signature key"},
      {R"({"keys":[1]})", "keys[0]: not an object"},
      {nlohmann::json{{"keys", {no_kid}}}.dump(), "keys[0]: \"kid\" missing"},
      {nlohmann::json{{"keys", {SetKey(ec, "k"), SetKey(ec, "k")}}}.dump(),
       "keys[1]: kid \"k\" is used twice"},
      {nlohmann::json{{"keys", {bad_point}}}.dump(), "keys[0]: jwk:"},
      {nlohmann::json{{"keys", {bad_alg}}}.dump(), "keys[0]: \"alg\" is not a string"},
      {R"({"keys":[],"keys":[]})", "duplicate"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<JwkSet> set = JwkSet::Parse(c.text);
    EXPECT_TRUE(absl::IsInvalidArgument(set.status())) << c.text;
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(c.message)) << c.text;
  }
  nlohmann::json many = {{"keys", nlohmann::json::array()}};
  for (int i = 0; i < 257; ++i) many["keys"].push_back(SetKey(ec, absl::StrCat("k", i)));
  EXPECT_THAT(std::string(JwkSet::Parse(many.dump()).status().message()),
              HasSubstr("more than 256 keys"));
}

}  // namespace
}  // namespace signet::spiffe
