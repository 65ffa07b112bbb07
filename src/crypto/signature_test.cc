#include "src/crypto/signature.h"

#include <string>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "tests/testing/test_ca.h"

namespace signet::crypto {
namespace {

using ::signet::testing::MustGenerate;

using ::testing::HasSubstr;

constexpr absl::string_view kMessage = "the quick brown fox jumps over the lazy dog";

std::string MustSign(const PrivateKey& key, const SignatureScheme& scheme,
                     absl::string_view message) {
  absl::StatusOr<std::string> sig = Sign(key, scheme, message);
  EXPECT_TRUE(sig.ok()) << sig.status();
  return sig.ok() ? *sig : std::string();
}

struct SchemeCase {
  std::string name;
  KeyType key_type;
  SignatureScheme scheme;
};

class SignatureSchemeTest : public ::testing::TestWithParam<SchemeCase> {
 protected:
  const SignatureScheme& scheme() const { return GetParam().scheme; }
};

TEST_P(SignatureSchemeTest, SignThenVerify) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  ASSERT_FALSE(sig.empty());
  EXPECT_TRUE(Verify(key.public_key(), scheme(), kMessage, sig));
}

TEST_P(SignatureSchemeTest, EmptyMessageSignsAndVerifies) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), "");
  EXPECT_TRUE(Verify(key.public_key(), scheme(), "", sig));
  EXPECT_FALSE(Verify(key.public_key(), scheme(), "x", sig));
}

TEST_P(SignatureSchemeTest, WrongKeyFails) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  PrivateKey other = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  EXPECT_FALSE(Verify(other.public_key(), scheme(), kMessage, sig));
}

TEST_P(SignatureSchemeTest, TamperedMessageFails) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  std::string tampered(kMessage);
  tampered[0] ^= 0x01;
  EXPECT_FALSE(Verify(key.public_key(), scheme(), tampered, sig));
  EXPECT_FALSE(Verify(key.public_key(), scheme(), kMessage.substr(1), sig));
  EXPECT_FALSE(Verify(key.public_key(), scheme(), std::string(kMessage) + ".", sig));
}

TEST_P(SignatureSchemeTest, TamperedSignatureFails) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  for (size_t i : {size_t{0}, sig.size() / 2, sig.size() - 1}) {
    std::string tampered = sig;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(Verify(key.public_key(), scheme(), kMessage, tampered)) << "byte " << i;
  }
  EXPECT_FALSE(Verify(key.public_key(), scheme(), kMessage, ""));
  EXPECT_FALSE(Verify(key.public_key(), scheme(), kMessage, sig.substr(0, sig.size() - 1)));
  EXPECT_FALSE(Verify(key.public_key(), scheme(), kMessage, sig + std::string(1, '\0')));
}

TEST_P(SignatureSchemeTest, OtherHashFails) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  SignatureScheme other = scheme();
  other.hash = scheme().hash == Hash::kSha256 ? Hash::kSha384 : Hash::kSha256;
  EXPECT_FALSE(Verify(key.public_key(), other, kMessage, sig));
}

TEST_P(SignatureSchemeTest, OtherKeyAlgorithmFails) {
  PrivateKey key = MustGenerate(GetParam().key_type);
  std::string sig = MustSign(key, scheme(), kMessage);
  SignatureScheme other = scheme();
  other.key_algorithm =
      scheme().key_algorithm == KeyAlgorithm::kEc ? KeyAlgorithm::kRsa : KeyAlgorithm::kEc;
  EXPECT_FALSE(Verify(key.public_key(), other, kMessage, sig));
  absl::StatusOr<std::string> mismatched = Sign(key, other, kMessage);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    AllSchemes, SignatureSchemeTest,
    ::testing::Values(
        SchemeCase{"Es256", KeyType::kEcP256, {KeyAlgorithm::kEc, Hash::kSha256}},
        SchemeCase{"Es384", KeyType::kEcP384, {KeyAlgorithm::kEc, Hash::kSha384}},
        SchemeCase{"P256Sha512", KeyType::kEcP256, {KeyAlgorithm::kEc, Hash::kSha512}},
        SchemeCase{"Rs256", KeyType::kRsa2048, {KeyAlgorithm::kRsa, Hash::kSha256}},
        SchemeCase{"Rs512", KeyType::kRsa2048, {KeyAlgorithm::kRsa, Hash::kSha512}},
        SchemeCase{
            "Ps256", KeyType::kRsa2048, {KeyAlgorithm::kRsa, Hash::kSha256, RsaPadding::kPss}},
        SchemeCase{
            "Ps384", KeyType::kRsa2048, {KeyAlgorithm::kRsa, Hash::kSha384, RsaPadding::kPss}}),
    [](const ::testing::TestParamInfo<SchemeCase>& info) { return info.param.name; });

TEST(SignatureRsaPaddingTest, Pkcs1AndPssAreNotInterchangeable) {
  PrivateKey key = MustGenerate(KeyType::kRsa2048);
  SignatureScheme pkcs1{KeyAlgorithm::kRsa, Hash::kSha256, RsaPadding::kPkcs1};
  SignatureScheme pss{KeyAlgorithm::kRsa, Hash::kSha256, RsaPadding::kPss};
  std::string pkcs1_sig = MustSign(key, pkcs1, kMessage);
  std::string pss_sig = MustSign(key, pss, kMessage);
  EXPECT_TRUE(Verify(key.public_key(), pkcs1, kMessage, pkcs1_sig));
  EXPECT_TRUE(Verify(key.public_key(), pss, kMessage, pss_sig));
  EXPECT_FALSE(Verify(key.public_key(), pss, kMessage, pkcs1_sig));
  EXPECT_FALSE(Verify(key.public_key(), pkcs1, kMessage, pss_sig));
  // PKCS#1 v1.5 is deterministic, PSS is salted.
  EXPECT_EQ(MustSign(key, pkcs1, kMessage), pkcs1_sig);
  EXPECT_NE(MustSign(key, pss, kMessage), pss_sig);
}

TEST(SignatureEcdsaFormatTest, DerRawRoundTripForEachCurve) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384}) {
    PrivateKey key = MustGenerate(type);
    size_t size = EcCoordinateSize(key.info().curve);
    SignatureScheme scheme{KeyAlgorithm::kEc,
                           type == KeyType::kEcP256 ? Hash::kSha256 : Hash::kSha384};
    // Several signatures so that a short r or s (leading zero byte) is likely to occur.
    for (int i = 0; i < 20; ++i) {
      std::string der = MustSign(key, scheme, kMessage);
      absl::StatusOr<std::string> raw = EcdsaDerToRaw(der, size);
      ASSERT_TRUE(raw.ok()) << raw.status();
      EXPECT_EQ(raw->size(), 2 * size);
      absl::StatusOr<std::string> back = EcdsaRawToDer(*raw);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, der);
      EXPECT_TRUE(Verify(key.public_key(), scheme, kMessage, *back));
    }
  }
}

TEST(SignatureEcdsaFormatTest, SmallValuesAreLeftPadded) {
  // ECDSA-Sig-Value { r = 1, s = 0x0102 }.
  const std::string der("\x30\x07\x02\x01\x01\x02\x02\x01\x02", 9);
  absl::StatusOr<std::string> raw = EcdsaDerToRaw(der, 4);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, std::string("\0\0\0\x01\0\0\x01\x02", 8));
  absl::StatusOr<std::string> back = EcdsaRawToDer(*raw);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, der);
}

TEST(SignatureEcdsaFormatTest, HighBitValuesGetASignByteInDer) {
  const std::string raw("\x80\x01\xff\x02", 4);
  absl::StatusOr<std::string> der = EcdsaRawToDer(raw);
  ASSERT_TRUE(der.ok()) << der.status();
  EXPECT_EQ(*der, std::string("\x30\x0a\x02\x03\x00\x80\x01\x02\x03\x00\xff\x02", 12));
  absl::StatusOr<std::string> back = EcdsaDerToRaw(*der, 2);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, raw);
}

TEST(SignatureEcdsaFormatTest, BadDerRejected) {
  EXPECT_FALSE(EcdsaDerToRaw("", 32).ok());
  EXPECT_FALSE(EcdsaDerToRaw("not der at all", 32).ok());
  EXPECT_FALSE(EcdsaDerToRaw(std::string("\x30\x07\x02\x01\x01\x02\x02\x01", 8), 32).ok());
  absl::StatusOr<std::string> bad = EcdsaDerToRaw("\x04\x02\x01\x02", 32);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SignatureEcdsaFormatTest, ValueTooLargeForCoordinateRejected) {
  PrivateKey key = MustGenerate(KeyType::kEcP384);
  std::string der = MustSign(key, {KeyAlgorithm::kEc, Hash::kSha384}, kMessage);
  absl::StatusOr<std::string> raw = EcdsaDerToRaw(der, EcCoordinateSize("P-256"));
  ASSERT_FALSE(raw.ok());
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("too large"));
}

TEST(SignatureEcdsaFormatTest, BadRawRejected) {
  EXPECT_FALSE(EcdsaRawToDer("").ok());
  EXPECT_FALSE(EcdsaRawToDer("abc").ok());
  EXPECT_FALSE(EcdsaRawToDer(std::string(65, 'x')).ok());
  EXPECT_TRUE(EcdsaRawToDer(std::string(64, 'x')).ok());
}

TEST(SignatureEcdsaFormatTest, CoordinateSizes) {
  EXPECT_EQ(EcCoordinateSize("P-256"), 32u);
  EXPECT_EQ(EcCoordinateSize("P-384"), 48u);
  EXPECT_EQ(EcCoordinateSize("P-521"), 66u);
  EXPECT_EQ(EcCoordinateSize("secp256k1"), 0u);
  EXPECT_EQ(EcCoordinateSize(""), 0u);
}

TEST(SignatureHashTest, Sha256KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SignatureHashTest, HashMdSizes) {
  EXPECT_EQ(EVP_MD_get_size(HashMd(Hash::kSha256)), 32);
  EXPECT_EQ(EVP_MD_get_size(HashMd(Hash::kSha384)), 48);
  EXPECT_EQ(EVP_MD_get_size(HashMd(Hash::kSha512)), 64);
}

}  // namespace
}  // namespace signet::crypto
