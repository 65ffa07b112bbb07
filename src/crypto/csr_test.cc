#include "src/crypto/csr.h"

#include <openssl/x509.h>

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/fast_ec.h"
#include "src/crypto/ossl.h"
#include "tests/testing/test_ca.h"

namespace signet::crypto {
namespace {

using ::signet::testing::MustGenerate;
using ::testing::HasSubstr;

class CsrRoundTripTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(CsrRoundTripTest, ParsedKeyEqualsSignerKey) {
  PrivateKey key = MustGenerate(GetParam());
  auto der = BuildCsrDer(key);
  ASSERT_TRUE(der.ok()) << der.status();
  auto parsed = ParseCsrDer(*der);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->Equals(key.public_key()));
}

TEST_P(CsrRoundTripTest, FastPathTakesEcRequestsAndAgreesWithOpenSsl) {
  PrivateKey key = MustGenerate(GetParam());
  auto der = BuildCsrDer(key);
  ASSERT_TRUE(der.ok()) << der.status();
  std::optional<PublicKey> fast = ParseEcCsrFast(*der);
  auto slow = ParseCsrDerWithOpenSsl(*der);
  ASSERT_TRUE(slow.ok()) << slow.status();
  if (GetParam() == KeyType::kRsa2048) {
    EXPECT_FALSE(fast.has_value()) << "RSA goes through OpenSSL";
    return;
  }
  ASSERT_TRUE(fast.has_value());
  EXPECT_TRUE(fast->Equals(*slow));
  EXPECT_EQ(fast->ToDer(), slow->ToDer());
  EXPECT_EQ(fast->info().curve, slow->info().curve);
  EXPECT_EQ(fast->info().bits, slow->info().bits);
}

INSTANTIATE_TEST_SUITE_P(AllKeyTypes, CsrRoundTripTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048));

TEST(CsrTest, RejectsEmptyOversizedGarbageAndTrailingBytes) {
  EXPECT_THAT(ParseCsrDer("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(ParseCsrDer(std::string(kMaxCsrDerSize + 1, '0')).status().message(),
              HasSubstr("larger than"));
  EXPECT_THAT(ParseCsrDer("not a csr").status().message(), HasSubstr("not a DER PKCS#10"));
  auto der = BuildCsrDer(MustGenerate());
  ASSERT_TRUE(der.ok());
  auto trailing = ParseCsrDer(*der + "x");
  EXPECT_EQ(trailing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(trailing.status().message(), HasSubstr("trailing bytes"));
}

TEST(CsrTest, FastPathDefersOnEveryDefect) {
  auto der = BuildCsrDer(MustGenerate());
  ASSERT_TRUE(der.ok());
  ASSERT_TRUE(ParseEcCsrFast(*der).has_value());
  std::vector<std::string> bad;
  bad.push_back(*der + "x");                       // trailing byte
  bad.push_back(der->substr(0, der->size() - 1));  // truncated
  std::string flipped = *der;
  flipped[flipped.size() - 3] ^= 0x01;  // signature
  bad.push_back(flipped);
  std::string key_bit = *der;
  key_bit[key_bit.find('\x04', 30) + 10] ^= 0x01;  // a byte of the public point
  bad.push_back(key_bit);
  bad.push_back("");
  bad.push_back(std::string("\x30\x80\x00\x00", 4));  // indefinite length
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_FALSE(ParseEcCsrFast(bad[i]).has_value()) << i;
    EXPECT_FALSE(ParseCsrDer(bad[i]).ok()) << i;
  }
}

TEST(CsrTest, CertificatesForFastPathKeysCarryTheirKey) {
  PrivateKey leaf_key = MustGenerate();
  std::optional<PublicKey> key = ParseEcCsrFast(*BuildCsrDer(leaf_key));
  ASSERT_TRUE(key.has_value());
  CertificateTemplate tmpl;
  tmpl.not_before = absl::FromUnixSeconds(1800000000);
  tmpl.not_after = tmpl.not_before + absl::Hours(1);
  tmpl.subject = "CN=leaf";
  auto cert = IssueCertificate(tmpl, *key, nullptr, leaf_key);
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASSERT_NE(X509_get0_pubkey(cert->get()), nullptr);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert->get()), leaf_key.get()), 1);
  // And the encoding carries the same key when read back by OpenSSL.
  auto again = Certificate::FromDer(cert->ToDer());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(again->get()), leaf_key.get()), 1);
}

TEST(CsrTest, RejectsBadSignature) {
  auto der = BuildCsrDer(MustGenerate());
  ASSERT_TRUE(der.ok());
  std::string tampered = *der;
  tampered[tampered.size() - 3] ^= 0x01;  // inside the signature BIT STRING
  auto parsed = ParseCsrDer(tampered);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CsrTest, RejectsCsrSignedByAnotherKey) {
  // Build a request carrying key A's public key but signed by key B.
  PrivateKey a = MustGenerate();
  PrivateKey b = MustGenerate();
  OsslPtr<X509_REQ, X509_REQ_free> req(X509_REQ_new());
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), a.get()), 1);
  ASSERT_GT(X509_REQ_sign(req.get(), b.get(), EVP_sha256()), 0);
  unsigned char* buf = nullptr;
  int len = i2d_X509_REQ(req.get(), &buf);
  std::string der = TakeOsslBytes(buf, len);
  auto parsed = ParseCsrDer(der);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("does not verify"));
}

TEST(CsrTest, RejectsKeyOutsidePolicy) {
  // RSA-1024 is below the policy minimum.
  OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 1024), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  EvpPkeyPtr weak(raw);
  OsslPtr<X509_REQ, X509_REQ_free> req(X509_REQ_new());
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), weak.get()), 1);
  ASSERT_GT(X509_REQ_sign(req.get(), weak.get(), EVP_sha256()), 0);
  unsigned char* buf = nullptr;
  int len = i2d_X509_REQ(req.get(), &buf);
  auto parsed = ParseCsrDer(TakeOsslBytes(buf, len));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace signet::crypto
