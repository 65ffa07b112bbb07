#include "src/crypto/key.h"

#include <openssl/pem.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/ossl.h"
#include "tests/testing/test_ca.h"

namespace signet::crypto {
namespace {

using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;

using ::testing::HasSubstr;
using ::testing::StartsWith;

// PEM text of `pkey` in OpenSSL's "traditional" (type-specific) form, e.g. "EC PRIVATE KEY".
std::string TraditionalPem(EVP_PKEY* pkey, const EVP_CIPHER* cipher = nullptr,
                           const std::string& passphrase = "") {
  BioPtr bio(BIO_new(BIO_s_mem()));
  auto* pass = reinterpret_cast<unsigned char*>(const_cast<char*>(passphrase.data()));
  EXPECT_EQ(
      PEM_write_bio_PrivateKey_traditional(bio.get(), pkey, cipher, pass,
                                           static_cast<int>(passphrase.size()), nullptr, nullptr),
      1);
  return BioContents(bio.get());
}

std::string EncryptedPkcs8Pem(EVP_PKEY* pkey, const std::string& passphrase) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey, EVP_aes_256_cbc(), passphrase.data(),
                                          static_cast<int>(passphrase.size()), nullptr, nullptr),
            1);
  return BioContents(bio.get());
}

std::string PrivateKeyDer(EVP_PKEY* pkey) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(i2d_PKCS8PrivateKey_bio(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return BioContents(bio.get());
}

struct KeyTypeCase {
  KeyType type;
  KeyAlgorithm algorithm;
  absl::string_view curve;
  int bits;
  absl::string_view traditional_label;
};

class KeyTypeTest : public ::testing::TestWithParam<KeyTypeCase> {};

TEST_P(KeyTypeTest, GenerateDescribesTheKey) {
  PrivateKey key = MustGenerate(GetParam().type);
  EXPECT_EQ(key.info().algorithm, GetParam().algorithm);
  EXPECT_EQ(key.info().curve, GetParam().curve);
  EXPECT_EQ(key.info().bits, GetParam().bits);
  EXPECT_EQ(key.public_key().info().algorithm, GetParam().algorithm);
  EXPECT_EQ(key.public_key().info().curve, GetParam().curve);
  EXPECT_NE(key.get(), nullptr);
}

TEST_P(KeyTypeTest, GeneratedKeysAreDistinct) {
  PrivateKey a = MustGenerate(GetParam().type);
  PrivateKey b = MustGenerate(GetParam().type);
  EXPECT_FALSE(a.public_key().Equals(b.public_key()));
  EXPECT_NE(MustEncode(a.ToPkcs8Der()), MustEncode(b.ToPkcs8Der()));
}

TEST_P(KeyTypeTest, Pkcs8DerRoundTrip) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string der = MustEncode(key.ToPkcs8Der());
  ASSERT_FALSE(der.empty());
  absl::StatusOr<PrivateKey> parsed = PrivateKey::FromPkcs8Der(der);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->public_key().Equals(key.public_key()));
  EXPECT_EQ(MustEncode(parsed->ToPkcs8Der()), der);
  EXPECT_EQ(parsed->info().curve, GetParam().curve);
}

TEST_P(KeyTypeTest, Pkcs8PemRoundTrip) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string pem = MustEncode(key.ToPkcs8Pem());
  EXPECT_THAT(pem, StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  absl::StatusOr<PrivateKey> parsed = PrivateKey::FromPem(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->public_key().Equals(key.public_key()));
  EXPECT_EQ(MustEncode(parsed->ToPkcs8Pem()), pem);
}

TEST_P(KeyTypeTest, PublicKeyDerAndPemRoundTrip) {
  PrivateKey key = MustGenerate(GetParam().type);
  absl::StatusOr<PublicKey> from_der = PublicKey::FromDer(key.public_key().ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_TRUE(from_der->Equals(key.public_key()));
  EXPECT_EQ(from_der->info().bits, GetParam().bits);

  std::string pem = MustEncode(key.public_key().ToPem());
  EXPECT_THAT(pem, StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  absl::StatusOr<PublicKey> from_pem = PublicKey::FromPem(pem);
  ASSERT_TRUE(from_pem.ok()) << from_pem.status();
  EXPECT_TRUE(from_pem->Equals(key.public_key()));
}

TEST_P(KeyTypeTest, TraditionalPemAccepted) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string pem = TraditionalPem(key.get());
  ASSERT_THAT(pem, StartsWith(absl::StrCat("-----BEGIN ", GetParam().traditional_label, "-----")));
  absl::StatusOr<PrivateKey> parsed = PrivateKey::FromPem(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->public_key().Equals(key.public_key()));
  // Re-encoding always gives PKCS#8.
  EXPECT_THAT(MustEncode(parsed->ToPkcs8Pem()), StartsWith("-----BEGIN PRIVATE KEY-----"));
}

TEST_P(KeyTypeTest, EncryptedPkcs8PemRejected) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string pem = EncryptedPkcs8Pem(key.get(), "correct horse");
  ASSERT_THAT(pem, StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  absl::StatusOr<PrivateKey> parsed = PrivateKey::FromPem(pem);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("private key"));
}

TEST_P(KeyTypeTest, EncryptedTraditionalPemRejected) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string pem = TraditionalPem(key.get(), EVP_aes_128_cbc(), "correct horse");
  ASSERT_THAT(pem, HasSubstr("Proc-Type: 4,ENCRYPTED"));
  absl::StatusOr<PrivateKey> parsed = PrivateKey::FromPem(pem);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(KeyTypeTest, TrailingDataAfterDerRejected) {
  PrivateKey key = MustGenerate(GetParam().type);
  absl::StatusOr<PrivateKey> priv =
      PrivateKey::FromPkcs8Der(MustEncode(key.ToPkcs8Der()) + std::string(1, '\0'));
  ASSERT_FALSE(priv.ok());
  EXPECT_THAT(std::string(priv.status().message()), HasSubstr("trailing data"));

  absl::StatusOr<PublicKey> pub = PublicKey::FromDer(key.public_key().ToDer() + "x");
  ASSERT_FALSE(pub.ok());
  EXPECT_THAT(std::string(pub.status().message()), HasSubstr("trailing data"));
}

TEST_P(KeyTypeTest, TruncatedDerRejected) {
  PrivateKey key = MustGenerate(GetParam().type);
  std::string der = MustEncode(key.ToPkcs8Der());
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(der.substr(0, der.size() - 1)).ok());
  std::string pub = key.public_key().ToDer();
  EXPECT_FALSE(PublicKey::FromDer(pub.substr(0, pub.size() - 1)).ok());
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, KeyTypeTest,
                         ::testing::Values(KeyTypeCase{KeyType::kEcP256, KeyAlgorithm::kEc, "P-256",
                                                       256, "EC PRIVATE KEY"},
                                           KeyTypeCase{KeyType::kEcP384, KeyAlgorithm::kEc, "P-384",
                                                       384, "EC PRIVATE KEY"},
                                           KeyTypeCase{KeyType::kRsa2048, KeyAlgorithm::kRsa, "",
                                                       2048, "RSA PRIVATE KEY"}),
                         [](const ::testing::TestParamInfo<KeyTypeCase>& info) {
                           switch (info.param.type) {
                             case KeyType::kEcP256:
                               return std::string("EcP256");
                             case KeyType::kEcP384:
                               return std::string("EcP384");
                             case KeyType::kRsa2048:
                               return std::string("Rsa2048");
                           }
                           return std::string("Unknown");
                         });

TEST(KeyPolicyTest, Rsa1024Rejected) {
  EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_NE(small, nullptr);
  std::string der = PrivateKeyDer(small.get());

  absl::StatusOr<PrivateKey> from_der = PrivateKey::FromPkcs8Der(der);
  ASSERT_FALSE(from_der.ok());
  EXPECT_EQ(from_der.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(from_der.status().message()), HasSubstr("1024"));

  EXPECT_FALSE(PrivateKey::FromPem(TraditionalPem(small.get())).ok());
  EXPECT_FALSE(DescribeKey(small.get()).ok());
  EXPECT_FALSE(PublicKey::FromEvp(std::move(small)).ok());
}

TEST(KeyPolicyTest, LargerRsaAndP521Accepted) {
  EvpPkeyPtr rsa(EVP_RSA_gen(3072));
  ASSERT_NE(rsa, nullptr);
  absl::StatusOr<KeyInfo> rsa_info = DescribeKey(rsa.get());
  ASSERT_TRUE(rsa_info.ok()) << rsa_info.status();
  EXPECT_EQ(rsa_info->algorithm, KeyAlgorithm::kRsa);
  EXPECT_EQ(rsa_info->bits, 3072);

  EvpPkeyPtr p521(EVP_EC_gen("P-521"));
  ASSERT_NE(p521, nullptr);
  absl::StatusOr<PrivateKey> key = PrivateKey::FromPkcs8Der(PrivateKeyDer(p521.get()));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->info().curve, "P-521");
  EXPECT_EQ(key->info().bits, 521);
}

TEST(KeyPolicyTest, UnsupportedCurveAndTypeRejected) {
  EvpPkeyPtr k256(EVP_EC_gen("secp256k1"));
  ASSERT_NE(k256, nullptr);
  absl::StatusOr<PrivateKey> from_k256 = PrivateKey::FromPkcs8Der(PrivateKeyDer(k256.get()));
  ASSERT_FALSE(from_k256.ok());
  EXPECT_THAT(std::string(from_k256.status().message()), HasSubstr("unsupported ec curve"));

  EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_NE(ed, nullptr);
  absl::StatusOr<PrivateKey> from_ed = PrivateKey::FromPkcs8Der(PrivateKeyDer(ed.get()));
  ASSERT_FALSE(from_ed.ok());
  EXPECT_THAT(std::string(from_ed.status().message()), HasSubstr("unsupported key type"));

  EXPECT_FALSE(DescribeKey(nullptr).ok());
  EXPECT_FALSE(PublicKey::FromEvp(nullptr).ok());
}

TEST(KeyParseTest, GarbageRejected) {
  EXPECT_FALSE(PrivateKey::FromPkcs8Der("").ok());
  EXPECT_FALSE(PrivateKey::FromPkcs8Der("not a key").ok());
  EXPECT_FALSE(PrivateKey::FromPem("").ok());
  EXPECT_FALSE(
      PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  EXPECT_FALSE(PublicKey::FromDer("").ok());
  EXPECT_FALSE(PublicKey::FromPem("not pem").ok());
}

TEST(KeyParseTest, PublicAndPrivateFormsAreNotInterchangeable) {
  PrivateKey key = MustGenerate(KeyType::kEcP256);
  EXPECT_FALSE(PrivateKey::FromPem(MustEncode(key.public_key().ToPem())).ok());
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(key.public_key().ToDer()).ok());
  EXPECT_FALSE(PublicKey::FromDer(MustEncode(key.ToPkcs8Der())).ok());
}

TEST(KeyEncodeTest, KeyWithoutPublicPointCannotBeWrittenAsPem) {
  absl::StatusOr<std::string> pem = signet::testing::EcPublicKeyWithoutPoint().ToPem();
  ASSERT_FALSE(pem.ok()) << *pem;
  EXPECT_EQ(pem.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(pem.status().message(), HasSubstr("public key: encode pem"));
}

TEST(KeyTypeNameTest, NamesRoundTrip) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    absl::StatusOr<KeyType> parsed = ParseKeyType(KeyTypeName(type));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_EQ(KeyTypeName(KeyType::kEcP256), "ec-p256");
  EXPECT_EQ(KeyTypeName(KeyType::kEcP384), "ec-p384");
  EXPECT_EQ(KeyTypeName(KeyType::kRsa2048), "rsa-2048");
}

TEST(KeyTypeNameTest, UnknownNamesRejected) {
  for (absl::string_view name : {"", "EC-P256", "ec-p521", "rsa-1024", "rsa", "ec-p256 "}) {
    absl::StatusOr<KeyType> parsed = ParseKeyType(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(absl::StrCat("\"", name, "\"")));
  }
}

TEST(KeySharingTest, CopiesShareTheKeyAndOutliveTheOriginal) {
  std::string der;
  std::optional<PublicKey> pub;
  {
    PrivateKey key = MustGenerate(KeyType::kEcP256);
    der = key.public_key().ToDer();
    pub = key.public_key();
  }
  EXPECT_EQ(pub->ToDer(), der);
}

}  // namespace
}  // namespace signet::crypto
