// Tests of SPIFFE bundles and their document forms (spiffe-conformance.md §2.4, §3.3, §4).
#include "src/spiffe/bundle.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/base64.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/jwk.h"
#include "src/spiffe/spiffe_id.h"
#include "tests/testing/test_ca.h"

namespace signet::spiffe {
namespace {

using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;
using ::signet::testing::TestCa;
using ::signet::testing::TestNow;
using ::testing::HasSubstr;
using ::testing::SizeIs;

using Json = nlohmann::json;

crypto::PublicKey NewKey(crypto::KeyType type = crypto::KeyType::kEcP256) {
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::Generate(type);
  EXPECT_TRUE(key.ok()) << key.status();
  return key->public_key();
}

TrustDomain Td(absl::string_view name) {
  absl::StatusOr<TrustDomain> td = TrustDomain::Parse(name);
  EXPECT_TRUE(td.ok()) << td.status();
  return *std::move(td);
}

// The JWK of `key`; a failure is reported as a test failure.
Json MustJwk(const crypto::PublicKey& key) {
  absl::StatusOr<Json> jwk = PublicKeyToJwk(key);
  EXPECT_TRUE(jwk.ok()) << jwk.status();
  return jwk.ok() ? *std::move(jwk) : Json::object();
}

// The JWK a producer following §2.4 writes for an X.509 authority.
Json X509Jwk(const crypto::Certificate& cert) {
  Json jwk = MustJwk(cert.public_key());
  jwk["use"] = "x509-svid";
  jwk["x5c"] = Json::array({Base64Encode(cert.ToDer())});
  return jwk;
}

// The JWK a producer following §3.3 writes for a JWT authority.
Json JwtJwk(const std::string& kid, const crypto::PublicKey& key) {
  Json jwk = MustJwk(key);
  jwk["use"] = "jwt-svid";
  jwk["kid"] = kid;
  return jwk;
}

std::string Doc(const std::vector<Json>& keys) {
  Json doc = Json::object();
  doc["keys"] = keys;
  return doc.dump();
}

Bundle ParseOk(absl::string_view json) {
  absl::StatusOr<Bundle> bundle = ParseSpiffeBundle(json);
  EXPECT_TRUE(bundle.ok()) << bundle.status() << "\n" << json;
  return bundle.ok() ? *std::move(bundle) : Bundle();
}

void ExpectParseError(absl::string_view json, absl::string_view want_substring) {
  absl::StatusOr<Bundle> bundle = ParseSpiffeBundle(json);
  ASSERT_FALSE(bundle.ok()) << json;
  EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument) << bundle.status();
  EXPECT_THAT(bundle.status().message(), HasSubstr(std::string(want_substring)));
}

class BundleTest : public ::testing::Test {
 protected:
  TestCa ca_{"example.org"};
  TestCa other_ca_{"other.org"};
};

// A self-signed certificate with the given Basic Constraints CA flag and Key Usage bits (0: no
// Key Usage extension).
crypto::Certificate SelfSigned(bool is_ca, uint32_t key_usage) {
  crypto::PrivateKey key = MustGenerate();
  absl::StatusOr<crypto::Certificate> cert =
      crypto::IssueCertificate({.subject = "O=Signet Test,CN=not an authority",
                                .not_before = TestNow() - absl::Hours(1),
                                .not_after = TestNow() + absl::Hours(1),
                                .is_ca = is_ca,
                                .key_usage = key_usage},
                               key.public_key(), nullptr, key);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *std::move(cert);
}

struct NonAuthorityCase {
  std::string name;
  crypto::Certificate cert;
};

// Certificates that must never become X.509 authorities: chain verification accepts a path that
// ends at any authority, so each of them would be a trust anchor.
std::vector<NonAuthorityCase> NonAuthorities(const TestCa& ca) {
  return {
      {"leaf svid", ca.MintSvid("/workload").leaf()},
      {"ca without keyCertSign",
       SelfSigned(true, crypto::kKeyUsageCrlSign | crypto::kKeyUsageDigitalSignature)},
      {"ca without key usage", SelfSigned(true, 0)},
      {"keyCertSign without ca", SelfSigned(false, crypto::kKeyUsageKeyCertSign)},
  };
}

TEST_F(BundleTest, RoundTripKeepsEverything) {
  Bundle bundle;
  bundle.AddX509Authority(ca_.root());
  bundle.AddX509Authority(other_ca_.root());
  const crypto::PublicKey jwt_key_1 = NewKey();
  const crypto::PublicKey jwt_key_2 = NewKey(crypto::KeyType::kEcP384);
  ASSERT_TRUE(bundle.AddJwtAuthority({"kid-1", jwt_key_1}).ok());
  ASSERT_TRUE(bundle.AddJwtAuthority({"kid-2", jwt_key_2}).ok());
  bundle.set_sequence(42);
  bundle.set_refresh_hint_seconds(300);

  Bundle back = ParseOk(MustEncode(ToSpiffeBundleJson(bundle)));
  ASSERT_THAT(back.x509_authorities(), SizeIs(2));
  EXPECT_EQ(back.x509_authorities()[0], ca_.root());
  EXPECT_EQ(back.x509_authorities()[1], other_ca_.root());
  ASSERT_THAT(back.jwt_authorities(), SizeIs(2));
  EXPECT_EQ(back.jwt_authorities()[0].key_id, "kid-1");
  EXPECT_TRUE(back.jwt_authorities()[0].key.Equals(jwt_key_1));
  EXPECT_EQ(back.jwt_authorities()[1].key_id, "kid-2");
  EXPECT_TRUE(back.jwt_authorities()[1].key.Equals(jwt_key_2));
  EXPECT_EQ(back.sequence(), 42u);
  EXPECT_EQ(back.refresh_hint_seconds(), 300);
  EXPECT_FALSE(back.empty());
  // Encoding is stable.
  EXPECT_EQ(MustEncode(ToSpiffeBundleJson(back)), MustEncode(ToSpiffeBundleJson(bundle)));
}

TEST_F(BundleTest, RsaAuthoritiesRoundTrip) {
  TestCa rsa_ca("rsa.example.org", crypto::KeyType::kRsa2048);
  Bundle bundle;
  bundle.AddX509Authority(rsa_ca.root());
  ASSERT_TRUE(bundle.AddJwtAuthority({"rsa", rsa_ca.root().public_key()}).ok());
  Bundle back = ParseOk(MustEncode(ToSpiffeBundleJson(bundle)));
  ASSERT_THAT(back.x509_authorities(), SizeIs(1));
  EXPECT_EQ(back.x509_authorities()[0], rsa_ca.root());
  ASSERT_THAT(back.jwt_authorities(), SizeIs(1));
  EXPECT_TRUE(back.jwt_authorities()[0].key.Equals(rsa_ca.root().public_key()));
}

TEST_F(BundleTest, DocumentHasTheStandardShape) {
  const std::string text = MustEncode(ToSpiffeBundleJson(ca_.bundle()));
  // Pretty-printed with two spaces.
  EXPECT_THAT(text, HasSubstr("\n  \"keys\": ["));
  Json doc = Json::parse(text);
  EXPECT_EQ(doc["spiffe_sequence"], 1);
  EXPECT_FALSE(doc.contains("spiffe_refresh_hint"));
  ASSERT_EQ(doc["keys"].size(), 2u);

  const Json& x509 = doc["keys"][0];
  EXPECT_EQ(x509["use"], "x509-svid");
  EXPECT_EQ(x509["kty"], "EC");
  EXPECT_EQ(x509["crv"], "P-256");
  EXPECT_TRUE(x509.contains("x"));
  EXPECT_TRUE(x509.contains("y"));
  EXPECT_FALSE(x509.contains("kid"));
  ASSERT_TRUE(x509["x5c"].is_array());
  ASSERT_EQ(x509["x5c"].size(), 1u);
  const std::string x5c = x509["x5c"][0].get<std::string>();
  // Standard base64 of the DER certificate, not base64url.
  EXPECT_EQ(x5c, Base64Encode(ca_.root().ToDer()));
  EXPECT_EQ(x5c.find_first_of("-_"), std::string::npos);
  absl::StatusOr<std::string> der = Base64Decode(x5c);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, ca_.root().ToDer());

  const Json& jwt = doc["keys"][1];
  EXPECT_EQ(jwt["use"], "jwt-svid");
  EXPECT_EQ(jwt["kid"], ca_.jwt_signer().key_id());
  EXPECT_FALSE(jwt.contains("x5c"));
}

TEST_F(BundleTest, KeySelection) {
  const Bundle bundle = ca_.bundle();
  auto uses = [&](BundleKeys which) {
    std::vector<std::string> out;
    const Json doc = Json::parse(MustEncode(ToSpiffeBundleJson(bundle, which)));
    for (const Json& key : doc["keys"]) {
      out.push_back(key["use"].get<std::string>());
    }
    return out;
  };
  EXPECT_THAT(uses(BundleKeys::kAll), ::testing::ElementsAre("x509-svid", "jwt-svid"));
  EXPECT_THAT(uses(BundleKeys::kX509Only), ::testing::ElementsAre("x509-svid"));
  EXPECT_THAT(uses(BundleKeys::kJwtOnly), ::testing::ElementsAre("jwt-svid"));

  Bundle jwt_only = ParseOk(MustEncode(ToSpiffeBundleJson(bundle, BundleKeys::kJwtOnly)));
  EXPECT_TRUE(jwt_only.x509_authorities().empty());
  EXPECT_THAT(jwt_only.jwt_authorities(), SizeIs(1));
  Bundle x509_only = ParseOk(MustEncode(ToSpiffeBundleJson(bundle, BundleKeys::kX509Only)));
  EXPECT_THAT(x509_only.x509_authorities(), SizeIs(1));
  EXPECT_TRUE(x509_only.jwt_authorities().empty());
}

TEST(BundleSequenceTest, ParsedAsUnsigned64Bit) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"0", 0},
      {"1", 1},
      {"9007199254740992", uint64_t{1} << 53},
      {"9007199254740993", (uint64_t{1} << 53) + 1},  // Not representable as a double.
      {"9223372036854775808", uint64_t{1} << 63},
      {"18446744073709551615", std::numeric_limits<uint64_t>::max()},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    Bundle bundle = ParseOk(absl::StrCat(R"({"keys": [], "spiffe_sequence": )", text, "}"));
    EXPECT_EQ(bundle.sequence(), want);
  }
}

TEST(BundleSequenceTest, EncodesFull64Bits) {
  Bundle bundle;
  bundle.set_sequence(std::numeric_limits<uint64_t>::max());
  const std::string text = MustEncode(ToSpiffeBundleJson(bundle));
  EXPECT_THAT(text, HasSubstr("\"spiffe_sequence\": 18446744073709551615"));
  EXPECT_EQ(ParseOk(text).sequence(), std::numeric_limits<uint64_t>::max());

  bundle.set_sequence((uint64_t{1} << 53) + 1);
  EXPECT_EQ(ParseOk(MustEncode(ToSpiffeBundleJson(bundle))).sequence(), (uint64_t{1} << 53) + 1);
}

TEST(BundleSequenceTest, RejectsNegativeAndNonIntegers) {
  for (const char* value : {"-1", "-9223372036854775808", "1.5", "1.0", "1e3",
                            "18446744073709551616", "\"1\"", "true", "null", "[1]"}) {
    SCOPED_TRACE(value);
    ExpectParseError(absl::StrCat(R"({"keys": [], "spiffe_sequence": )", value, "}"),
                     "spiffe_sequence");
  }
}

TEST(BundleSequenceTest, AbsentIsNullopt) {
  Bundle bundle = ParseOk(R"({"keys": []})");
  EXPECT_FALSE(bundle.sequence().has_value());
  EXPECT_FALSE(bundle.refresh_hint_seconds().has_value());
  // And nothing is invented when encoding.
  Json doc = Json::parse(MustEncode(ToSpiffeBundleJson(Bundle())));
  EXPECT_EQ(doc, Json::parse(R"({"keys": []})"));
}

TEST(BundleRefreshHintTest, Parsed) {
  EXPECT_EQ(ParseOk(R"({"keys": [], "spiffe_refresh_hint": 300})").refresh_hint_seconds(), 300);
  EXPECT_EQ(ParseOk(R"({"keys": [], "spiffe_refresh_hint": 0})").refresh_hint_seconds(), 0);
  for (const char* value : {"-5", "2.5", "\"300\"", "null", "9223372036854775808"}) {
    SCOPED_TRACE(value);
    ExpectParseError(absl::StrCat(R"({"keys": [], "spiffe_refresh_hint": )", value, "}"),
                     "spiffe_refresh_hint");
  }
}

TEST(BundleParseTest, KeysIsRequired) {
  ExpectParseError("{}", "\"keys\"");
  ExpectParseError(R"({"spiffe_sequence": 1})", "\"keys\"");
  ExpectParseError(R"({"keys": null})", "\"keys\"");
  ExpectParseError(R"({"keys": {}})", "\"keys\"");
  ExpectParseError(R"({"keys": "x"})", "\"keys\"");
  ExpectParseError("[]", "not a json object");
}

TEST(BundleParseTest, EmptyKeysIsAnEmptyBundle) {
  Bundle bundle = ParseOk(R"({"keys": [], "spiffe_sequence": 7})");
  EXPECT_TRUE(bundle.empty());
  EXPECT_TRUE(bundle.x509_authorities().empty());
  EXPECT_TRUE(bundle.jwt_authorities().empty());
  EXPECT_EQ(bundle.sequence(), 7u);
}

TEST(BundleParseTest, UnknownTopLevelMembersAllowed) {
  Bundle bundle = ParseOk(
      R"({"keys": [], "spiffe_sequence": 3, "x-vendor": {"a": [1, 2]}, "spiffe_future": true})");
  EXPECT_TRUE(bundle.empty());
  EXPECT_EQ(bundle.sequence(), 3u);
}

TEST(BundleParseTest, RejectsBadJson) {
  ExpectParseError("", "json");
  ExpectParseError("{\"keys\": [", "json");
  ExpectParseError("{\"keys\": []} trailing", "json");
  ExpectParseError("{\"keys\": []}{}", "json");
  // A NUL byte does not end the document.
  ExpectParseError(std::string("{\"keys\": []}\0x", 14), "json");
}

TEST(BundleParseTest, RejectsDuplicateMembers) {
  ExpectParseError(R"({"keys": [], "keys": []})", "duplicate");
  ExpectParseError(R"({"keys": [], "spiffe_sequence": 1, "spiffe_sequence": 2})", "duplicate");
  // Inside a key: which "kid" would be meant is ambiguous.
  const std::string jwk = JwtJwk("a", NewKey()).dump();
  ExpectParseError(
      absl::StrCat(R"({"keys": [)", jwk.substr(0, jwk.size() - 1), R"(, "kid": "b"}]})"),
      "duplicate");
}

TEST_F(BundleTest, UnknownKtyIgnored) {
  Json okp = {{"kty", "OKP"},
              {"crv", "Ed25519"},
              {"use", "jwt-svid"},
              {"kid", "ed"},
              {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}};
  Json oct = {{"kty", "oct"}, {"use", "jwt-svid"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  Json x509 = X509Jwk(ca_.root());
  x509["kty"] = "ec";  // Case-sensitive.
  Bundle bundle = ParseOk(Doc({okp, oct, x509, JwtJwk("good", NewKey())}));
  EXPECT_TRUE(bundle.x509_authorities().empty());
  ASSERT_THAT(bundle.jwt_authorities(), SizeIs(1));
  EXPECT_EQ(bundle.jwt_authorities()[0].key_id, "good");
}

TEST_F(BundleTest, MissingOrUnknownUseIgnored) {
  const Json x509 = X509Jwk(ca_.root());
  const Json jwt = JwtJwk("k", NewKey());
  std::vector<Json> keys;
  for (const Json& base : {x509, jwt}) {
    Json missing = base;
    missing.erase("use");
    keys.push_back(missing);
    for (const Json& use : {Json("X509-SVID"), Json("JWT-SVID"), Json("Jwt-Svid"), Json("sig"),
                            Json("enc"), Json("wit-svid"), Json(""), Json(1), Json(nullptr)}) {
      Json unknown = base;
      unknown["use"] = use;
      keys.push_back(unknown);
    }
  }
  // Ignored keys are not checked further: bad parameters under an unknown use are no error.
  Json broken = jwt;
  broken["use"] = "enc";
  broken["x"] = "!";
  broken.erase("kid");
  keys.push_back(broken);

  Bundle bundle = ParseOk(Doc(keys));
  EXPECT_TRUE(bundle.empty());
  EXPECT_TRUE(bundle.x509_authorities().empty());
  EXPECT_TRUE(bundle.jwt_authorities().empty());
}

TEST_F(BundleTest, X509KeyWithoutX5cIgnored) {
  Json missing = X509Jwk(ca_.root());
  missing.erase("x5c");
  Json empty = X509Jwk(ca_.root());
  empty["x5c"] = Json::array();
  Bundle bundle = ParseOk(Doc({missing, empty, X509Jwk(other_ca_.root())}));
  ASSERT_THAT(bundle.x509_authorities(), SizeIs(1));
  EXPECT_EQ(bundle.x509_authorities()[0], other_ca_.root());
}

TEST_F(BundleTest, X509KeyUsesFirstX5cElement) {
  Json jwk = X509Jwk(ca_.root());
  jwk["x5c"].push_back(Base64Encode(other_ca_.root().ToDer()));
  Bundle bundle = ParseOk(Doc({jwk}));
  ASSERT_THAT(bundle.x509_authorities(), SizeIs(1));
  EXPECT_EQ(bundle.x509_authorities()[0], ca_.root());
}

TEST_F(BundleTest, X509KeyWithBadX5cIsAnError) {
  const std::string good = Base64Encode(ca_.root().ToDer());
  // A DER certificate encodes to hundreds of characters; some of them are '+' or '/'.
  ASSERT_NE(good.find_first_of("+/"), std::string::npos);
  std::string url = absl::StrReplaceAll(good, {{"+", "-"}, {"/", "_"}});

  std::string garbage_der = ca_.root().ToDer() + std::string(1, '\0');
  const std::vector<std::pair<Json, std::string>> cases = {
      {Json("!!!!"), "\"x5c\"[0]"},
      {Json(url), "\"x5c\"[0]"},                                          // base64url alphabet.
      {Json(good.substr(0, 64) + "\n" + good.substr(64)), "\"x5c\"[0]"},  // Line break.
      {Json(good + "===="), "\"x5c\"[0]"},
      {Json(Base64Encode("not a certificate")), "\"x5c\"[0]"},
      {Json(Base64Encode(garbage_der)), "\"x5c\"[0]"},
      {Json(""), "\"x5c\"[0]"},
      {Json(42), "\"x5c\"[0] is not a string"},
  };
  for (const auto& [value, want] : cases) {
    SCOPED_TRACE(value.dump().substr(0, 80));
    Json jwk = X509Jwk(ca_.root());
    jwk["x5c"] = Json::array({value});
    ExpectParseError(Doc({jwk}), want);
    ExpectParseError(Doc({jwk}), "keys[0]");
  }
  Json not_array = X509Jwk(ca_.root());
  not_array["x5c"] = good;
  ExpectParseError(Doc({not_array}), "\"x5c\" is not an array");
}

TEST_F(BundleTest, X509KeyParametersMustMatchCertificate) {
  // The certificate of one CA with the public parameters of another key.
  Json jwk = MustJwk(other_ca_.root().public_key());
  jwk["use"] = "x509-svid";
  jwk["x5c"] = Json::array({Base64Encode(ca_.root().ToDer())});
  ExpectParseError(Doc({jwk}), "do not match");

  // Parameters that are not a key at all.
  Json no_curve = X509Jwk(ca_.root());
  no_curve.erase("crv");
  ExpectParseError(Doc({no_curve}), "do not match");

  // The right key type but one coordinate changed.
  Json changed = X509Jwk(ca_.root());
  Json other_params = MustJwk(other_ca_.root().public_key());
  changed["y"] = other_params["y"];
  ExpectParseError(Doc({changed}), "do not match");
}

TEST_F(BundleTest, X509KeyMustBeACaWithKeyCertSign) {
  for (const NonAuthorityCase& c : NonAuthorities(ca_)) {
    SCOPED_TRACE(c.name);
    ExpectParseError(Doc({X509Jwk(other_ca_.root()), X509Jwk(c.cert)}),
                     "bundle: keys[1]: \"x5c\"[0] is not a CA certificate with keyCertSign");
  }
  // The same document with a real CA parses.
  Bundle bundle = ParseOk(Doc({X509Jwk(other_ca_.root()), X509Jwk(ca_.root())}));
  EXPECT_THAT(bundle.x509_authorities(), SizeIs(2));
}

TEST_F(BundleTest, ErrorNamesTheKeyIndex) {
  Json bad = X509Jwk(ca_.root());
  bad["x5c"] = Json::array({"!!!!"});
  ExpectParseError(Doc({JwtJwk("a", NewKey()), X509Jwk(other_ca_.root()), bad}), "keys[2]");
}

TEST(BundleJwtKeyTest, KidIsRequired) {
  const Json good = JwtJwk("k", NewKey());
  Json missing = good;
  missing.erase("kid");
  ExpectParseError(Doc({missing}), "\"kid\"");
  for (const Json& kid : {Json(""), Json(nullptr), Json(7), Json::array({"k"})}) {
    SCOPED_TRACE(kid.dump());
    Json jwk = good;
    jwk["kid"] = kid;
    ExpectParseError(Doc({jwk}), "\"kid\"");
  }
}

TEST(BundleJwtKeyTest, KidLengthLimit) {
  Bundle bundle = ParseOk(Doc({JwtJwk(std::string(256, 'k'), NewKey())}));
  EXPECT_THAT(bundle.jwt_authorities(), SizeIs(1));
  ExpectParseError(Doc({JwtJwk(std::string(257, 'k'), NewKey())}), "\"kid\"");
}

TEST(BundleJwtKeyTest, DuplicateKidIsAnError) {
  ExpectParseError(Doc({JwtJwk("same", NewKey()), JwtJwk("same", NewKey())}), "keys[1]");
  ExpectParseError(Doc({JwtJwk("same", NewKey()), JwtJwk("same", NewKey())}), "duplicate");
  // Key IDs are case-sensitive: these are different.
  Bundle bundle = ParseOk(Doc({JwtJwk("kid", NewKey()), JwtJwk("KID", NewKey())}));
  EXPECT_THAT(bundle.jwt_authorities(), SizeIs(2));
}

TEST(BundleJwtKeyTest, BadParametersAreAnError) {
  Json jwk = JwtJwk("k", NewKey());
  jwk["crv"] = "P-999";
  ExpectParseError(Doc({jwk}), "keys[0]");
  jwk = JwtJwk("k", NewKey());
  jwk.erase("x");
  ExpectParseError(Doc({jwk}), "\"x\"");
}

TEST(BundleJwtKeyTest, UnknownKeyMembersAllowed) {
  const crypto::PublicKey key = NewKey();
  Json jwk = JwtJwk("k", key);
  jwk["alg"] = "ES256";
  jwk["x-vendor"] = Json::object();
  Bundle bundle = ParseOk(Doc({jwk}));
  ASSERT_NE(bundle.FindJwtAuthority("k"), nullptr);
  EXPECT_TRUE(bundle.FindJwtAuthority("k")->key.Equals(key));
}

TEST(BundleParseTest, MalformedKeyEntriesAreErrors) {
  ExpectParseError(R"({"keys": [1]})", "keys[0]");
  ExpectParseError(R"({"keys": ["EC"]})", "not a json object");
  ExpectParseError(R"({"keys": [{"use": "jwt-svid", "kid": "k"}]})", "\"kty\"");
  ExpectParseError(R"({"keys": [{"kty": 1, "use": "jwt-svid", "kid": "k"}]})", "\"kty\"");
}

class BundleMapTest : public ::testing::Test {
 protected:
  std::string MapDoc(const std::vector<std::pair<std::string, std::string>>& entries) {
    // Built by hand so that duplicate names survive into the text.
    std::string out = R"({"trust_domains": {)";
    for (size_t i = 0; i < entries.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ", ", Json(entries[i].first).dump(), ": ",
                      entries[i].second);
    }
    return out + "}}";
  }

  TestCa a_{"a.example"};
  TestCa b_{"b.example"};
};

TEST_F(BundleMapTest, ParsesEveryTrustDomain) {
  absl::StatusOr<BundleSet> set =
      ParseBundleMap(MapDoc({{"a.example", MustEncode(ToSpiffeBundleJson(a_.bundle()))},
                             {"spiffe://b.example", MustEncode(ToSpiffeBundleJson(b_.bundle()))},
                             {"empty.example", R"({"keys": []})"}}));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->bundles().size(), 3u);
  std::shared_ptr<const Bundle> a = set->GetBundle(Td("a.example"));
  ASSERT_NE(a, nullptr);
  ASSERT_THAT(a->x509_authorities(), SizeIs(1));
  EXPECT_EQ(a->x509_authorities()[0], a_.root());
  std::shared_ptr<const Bundle> b = set->GetBundle(Td("b.example"));
  ASSERT_NE(b, nullptr);
  ASSERT_THAT(b->x509_authorities(), SizeIs(1));
  EXPECT_EQ(b->x509_authorities()[0], b_.root());
  ASSERT_NE(b->FindJwtAuthority(b_.jwt_signer().key_id()), nullptr);
  ASSERT_NE(set->GetBundle(Td("empty.example")), nullptr);
  EXPECT_TRUE(set->GetBundle(Td("empty.example"))->empty());
  EXPECT_EQ(set->GetBundle(Td("c.example")), nullptr);
}

TEST_F(BundleMapTest, RoundTrip) {
  BundleSet set;
  set.Put(a_.trust_domain(), a_.bundle());
  set.Put(b_.trust_domain(), b_.bundle());
  const std::string text = MustEncode(ToBundleMapJson(set));
  absl::StatusOr<BundleSet> back = ParseBundleMap(text);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->bundles().size(), 2u);
  for (const auto& [td, bundle] : set.bundles()) {
    SCOPED_TRACE(td.name());
    std::shared_ptr<const Bundle> got = back->GetBundle(td);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(MustEncode(ToSpiffeBundleJson(*got)), MustEncode(ToSpiffeBundleJson(*bundle)));
  }
  EXPECT_EQ(MustEncode(ToBundleMapJson(*back)), text);
}

TEST_F(BundleMapTest, EmptyMap) {
  absl::StatusOr<BundleSet> set = ParseBundleMap(R"({"trust_domains": {}})");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(set->bundles().empty());
}

TEST_F(BundleMapTest, Rejects) {
  const std::string bundle = MustEncode(ToSpiffeBundleJson(a_.bundle()));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {MapDoc({{"Example.org", bundle}}), "Example.org"},
      {MapDoc({{"example.org:443", bundle}}), "example.org:443"},
      {MapDoc({{"spiffe://example.org/path", bundle}}), "spiffe://example.org/path"},
      {MapDoc({{"", bundle}}), "bundle map"},
      // The same trust domain under its name and its ID.
      {MapDoc({{"example.org", bundle}, {"spiffe://example.org", bundle}}), "appears twice"},
      {MapDoc({{"spiffe://example.org", bundle}, {"example.org", bundle}}), "appears twice"},
      {MapDoc({{"example.org", bundle}, {"example.org", bundle}}), "duplicate"},
      // One bad bundle spoils the whole map.
      {MapDoc({{"a.example", bundle}, {"b.example", R"({"keys": 1})"}}), "b.example"},
      {MapDoc({{"a.example", bundle}, {"b.example", "[]"}}), "b.example"},
      {"{}", "trust_domains"},
      {R"({"trust_domains": []})", "trust_domains"},
      {"[]", "trust_domains"},
      {R"({"trust_domains": {}} x)", "json"},
  };
  for (const auto& [doc, want] : cases) {
    SCOPED_TRACE(doc.substr(0, 120));
    absl::StatusOr<BundleSet> set = ParseBundleMap(doc);
    ASSERT_FALSE(set.ok());
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << set.status();
    EXPECT_THAT(set.status().message(), HasSubstr(want));
  }
}

TEST_F(BundleTest, PemBundle) {
  const std::string pem = MustEncode(ca_.root().ToPem()) + MustEncode(other_ca_.root().ToPem());
  absl::StatusOr<Bundle> bundle = ParsePemBundle(pem);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  ASSERT_THAT(bundle->x509_authorities(), SizeIs(2));
  EXPECT_EQ(bundle->x509_authorities()[0], ca_.root());
  EXPECT_EQ(bundle->x509_authorities()[1], other_ca_.root());
  EXPECT_TRUE(bundle->jwt_authorities().empty());
  EXPECT_EQ(MustEncode(X509AuthoritiesToPem(*bundle)), pem);
  // Only X.509 authorities go to PEM.
  EXPECT_EQ(MustEncode(X509AuthoritiesToPem(ca_.bundle())), MustEncode(ca_.root().ToPem()));
}

TEST_F(BundleTest, PemBundleRejectsNonCaCertificate) {
  const crypto::Certificate leaf = ca_.MintSvid("/workload").leaf();
  for (const std::string& pem :
       {MustEncode(leaf.ToPem()), MustEncode(ca_.root().ToPem()) + MustEncode(leaf.ToPem())}) {
    absl::StatusOr<Bundle> bundle = ParsePemBundle(pem);
    ASSERT_FALSE(bundle.ok());
    EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bundle.status().message(), HasSubstr("not a CA"));
  }
}

TEST_F(BundleTest, PemBundleRejectsEveryNonAuthority) {
  for (const NonAuthorityCase& c : NonAuthorities(ca_)) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Bundle> bundle =
        ParsePemBundle(MustEncode(ca_.root().ToPem()) + MustEncode(c.cert.ToPem()));
    ASSERT_FALSE(bundle.ok());
    EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bundle.status().message(),
                HasSubstr("pem certificate 1 is not a CA certificate with keyCertSign"));
  }
}

TEST_F(BundleTest, PemBundleRejectsOtherBlocks) {
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP256);
  ASSERT_TRUE(key.ok());
  for (const std::string& pem :
       {MustEncode(key->ToPkcs8Pem()),
        MustEncode(ca_.root().ToPem()) + MustEncode(key->public_key().ToPem()),
        MustEncode(key->ToPkcs8Pem()) + MustEncode(ca_.root().ToPem())}) {
    absl::StatusOr<Bundle> bundle = ParsePemBundle(pem);
    ASSERT_FALSE(bundle.ok());
    EXPECT_EQ(bundle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(bundle.status().message(), HasSubstr("CERTIFICATE"));
  }
  EXPECT_FALSE(ParsePemBundle("").ok());
  EXPECT_FALSE(ParsePemBundle("hello").ok());
}

TEST_F(BundleTest, ParseBundleAutoTellsFormatsApart) {
  absl::StatusOr<Bundle> from_json =
      ParseBundleAuto("\n \t" + MustEncode(ToSpiffeBundleJson(ca_.bundle())));
  ASSERT_TRUE(from_json.ok()) << from_json.status();
  EXPECT_THAT(from_json->x509_authorities(), SizeIs(1));
  EXPECT_THAT(from_json->jwt_authorities(), SizeIs(1));  // Only a JWKS can carry JWT keys.
  EXPECT_EQ(from_json->sequence(), 1u);

  absl::StatusOr<Bundle> from_pem = ParseBundleAuto("\n" + MustEncode(ca_.root().ToPem()));
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  ASSERT_THAT(from_pem->x509_authorities(), SizeIs(1));
  EXPECT_EQ(from_pem->x509_authorities()[0], ca_.root());
  EXPECT_TRUE(from_pem->jwt_authorities().empty());

  EXPECT_FALSE(ParseBundleAuto("{\"keys\": 1}").ok());
  EXPECT_FALSE(ParseBundleAuto("").ok());
  EXPECT_FALSE(ParseBundleAuto("garbage").ok());
}

TEST_F(BundleTest, AddAndRemoveX509Authorities) {
  Bundle bundle;
  EXPECT_TRUE(bundle.empty());
  bundle.AddX509Authority(ca_.root());
  bundle.AddX509Authority(ca_.root());  // Identical: not added twice.
  EXPECT_THAT(bundle.x509_authorities(), SizeIs(1));
  EXPECT_FALSE(bundle.empty());
  // Rotation: the new authority goes beside the old one.
  bundle.AddX509Authority(other_ca_.root());
  EXPECT_THAT(bundle.x509_authorities(), SizeIs(2));

  EXPECT_TRUE(bundle.RemoveX509Authority(ca_.root()));
  EXPECT_FALSE(bundle.RemoveX509Authority(ca_.root()));
  ASSERT_THAT(bundle.x509_authorities(), SizeIs(1));
  EXPECT_EQ(bundle.x509_authorities()[0], other_ca_.root());
  EXPECT_TRUE(bundle.RemoveX509Authority(other_ca_.root()));
  EXPECT_TRUE(bundle.empty());
}

TEST(BundleJwtAuthorityTest, AddFindRemove) {
  Bundle bundle;
  const crypto::PublicKey key_a = NewKey();
  const crypto::PublicKey key_b = NewKey();
  EXPECT_EQ(bundle.FindJwtAuthority("a"), nullptr);
  ASSERT_TRUE(bundle.AddJwtAuthority({"a", key_a}).ok());
  EXPECT_FALSE(bundle.empty());

  absl::Status duplicate = bundle.AddJwtAuthority({"a", key_b});
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;
  absl::Status empty_kid = bundle.AddJwtAuthority({"", key_b});
  EXPECT_EQ(empty_kid.code(), absl::StatusCode::kInvalidArgument) << empty_kid;
  EXPECT_THAT(bundle.jwt_authorities(), SizeIs(1));
  ASSERT_NE(bundle.FindJwtAuthority("a"), nullptr);
  EXPECT_TRUE(bundle.FindJwtAuthority("a")->key.Equals(key_a));  // Not replaced.

  ASSERT_TRUE(bundle.AddJwtAuthority({"b", key_b}).ok());
  ASSERT_NE(bundle.FindJwtAuthority("b"), nullptr);
  EXPECT_TRUE(bundle.FindJwtAuthority("b")->key.Equals(key_b));
  EXPECT_EQ(bundle.FindJwtAuthority("A"), nullptr);

  EXPECT_TRUE(bundle.RemoveJwtAuthority("a"));
  EXPECT_FALSE(bundle.RemoveJwtAuthority("a"));
  EXPECT_EQ(bundle.FindJwtAuthority("a"), nullptr);
  EXPECT_NE(bundle.FindJwtAuthority("b"), nullptr);
  EXPECT_TRUE(bundle.RemoveJwtAuthority("b"));
  EXPECT_TRUE(bundle.empty());
}

TEST(BundleJwtAuthorityTest, KeyIdMustBeUtf8) {
  const crypto::PublicKey key = NewKey();
  // A byte that never occurs in UTF-8, an overlong encoding of '/', a sequence cut short.
  for (const std::string bad : {"\xff", "\xc0\xaf", "\xe2\x82"}) {
    SCOPED_TRACE(absl::CHexEscape(bad));
    Bundle bundle;
    absl::Status added = bundle.AddJwtAuthority({"kid-" + bad, key});
    EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument) << added;
    EXPECT_THAT(added.message(), HasSubstr("key id is not valid UTF-8"));
    EXPECT_TRUE(bundle.empty());
    EXPECT_TRUE(ToSpiffeBundleJson(bundle).ok());
  }
  // Multi-byte UTF-8 is a valid key id and survives the document round trip.
  const std::string kid = "cl\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x94\x91";
  Bundle bundle;
  ASSERT_TRUE(bundle.AddJwtAuthority({kid, key}).ok());
  Bundle back = ParseOk(MustEncode(ToSpiffeBundleJson(bundle)));
  ASSERT_NE(back.FindJwtAuthority(kid), nullptr);
  EXPECT_TRUE(back.FindJwtAuthority(kid)->key.Equals(key));
}

TEST_F(BundleTest, BundleSetPutGetRemove) {
  BundleSet set;
  EXPECT_EQ(set.GetBundle(ca_.trust_domain()), nullptr);
  EXPECT_FALSE(set.Remove(ca_.trust_domain()));

  set.Put(ca_.trust_domain(), ca_.bundle());
  set.Put(other_ca_.trust_domain(), other_ca_.bundle());
  std::shared_ptr<const Bundle> got = set.GetBundle(Td("spiffe://example.org"));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->x509_authorities()[0], ca_.root());
  EXPECT_EQ(set.bundles().size(), 2u);
  EXPECT_EQ(set.bundles().begin()->first, ca_.trust_domain());  // Ordered by name.

  // Put replaces; a reader holding the old snapshot keeps it.
  Bundle replacement;
  replacement.set_sequence(99);
  set.Put(ca_.trust_domain(), replacement);
  EXPECT_EQ(set.GetBundle(ca_.trust_domain())->sequence(), 99u);
  EXPECT_EQ(got->sequence(), 1u);
  EXPECT_FALSE(got->empty());

  EXPECT_TRUE(set.Remove(ca_.trust_domain()));
  EXPECT_FALSE(set.Remove(ca_.trust_domain()));
  EXPECT_EQ(set.GetBundle(ca_.trust_domain()), nullptr);
  EXPECT_NE(set.GetBundle(other_ca_.trust_domain()), nullptr);

  // Through the BundleSource interface.
  const BundleSource& source = set;
  EXPECT_NE(source.GetBundle(other_ca_.trust_domain()), nullptr);
  EXPECT_EQ(source.GetBundle(ca_.trust_domain()), nullptr);
}

}  // namespace
}  // namespace signet::spiffe
