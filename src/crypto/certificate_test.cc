#include "src/crypto/certificate.h"

#include <openssl/pem.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/chain_verify.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "src/crypto/signature.h"
#include "tests/testing/test_ca.h"

namespace signet::crypto {
namespace {

using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;

using ::signet::testing::TestCa;
using ::signet::testing::TestNow;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr absl::string_view kLeafId = "spiffe://example.org/workload";

Certificate MustIssue(const CertificateTemplate& tmpl, const PublicKey& subject_key,
                      const Certificate* issuer, const PrivateKey& issuer_key) {
  absl::StatusOr<Certificate> cert = IssueCertificate(tmpl, subject_key, issuer, issuer_key);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *std::move(cert);
}

CertificateTemplate LeafTemplate() {
  CertificateTemplate t;
  t.not_before = TestNow() - absl::Seconds(10);
  t.not_after = TestNow() + absl::Hours(1);
  t.key_usage = kKeyUsageDigitalSignature;
  t.server_auth = true;
  t.client_auth = true;
  t.uri_sans = {std::string(kLeafId)};
  return t;
}

CertificateTemplate CaTemplate(const std::string& subject) {
  CertificateTemplate t;
  t.subject = subject;
  t.not_before = TestNow() - absl::Hours(1);
  t.not_after = TestNow() + absl::Hours(24);
  t.is_ca = true;
  t.key_usage = kKeyUsageKeyCertSign | kKeyUsageCrlSign;
  t.uri_sans = {"spiffe://example.org"};
  return t;
}

// Copies `cert`, lets `mutate` change the copy, and re-signs it with `key`.
Certificate Resign(const Certificate& cert, const std::function<void(X509*)>& mutate,
                   const PrivateKey& key) {
  X509Ptr copy(X509_dup(cert.get()));
  EXPECT_NE(copy, nullptr);
  mutate(copy.get());
  EXPECT_GT(X509_sign(copy.get(), key.get(), EVP_sha256()), 0);
  absl::StatusOr<Certificate> out = Certificate::FromX509(std::move(copy));
  EXPECT_TRUE(out.ok()) << out.status();
  return *std::move(out);
}

// A self-signed certificate with no extensions at all and the given serial.
absl::StatusOr<Certificate> BareCertificate(EVP_PKEY* key, long serial) {  // NOLINT(runtime/int)
  X509Ptr x509(X509_new());
  EXPECT_EQ(X509_set_version(x509.get(), X509_VERSION_3), 1);
  EXPECT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(x509.get()), serial), 1);
  X509_NAME* name = X509_get_subject_name(x509.get());
  EXPECT_EQ(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                       reinterpret_cast<const unsigned char*>("bare"), -1, -1, 0),
            1);
  EXPECT_EQ(X509_set_issuer_name(x509.get(), name), 1);
  ASN1_TIME_set(X509_getm_notBefore(x509.get()), absl::ToTimeT(TestNow()));
  ASN1_TIME_set(X509_getm_notAfter(x509.get()), absl::ToTimeT(TestNow() + absl::Hours(1)));
  EXPECT_EQ(X509_set_pubkey(x509.get(), key), 1);
  EXPECT_GT(X509_sign(x509.get(), key, EVP_sha256()), 0);
  return Certificate::FromX509(std::move(x509));
}

// A PEM block named `label` around `der`.
std::string PemBlock(const char* label, absl::string_view der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_GT(PEM_write_bio(bio.get(), label, "", reinterpret_cast<const unsigned char*>(der.data()),
                          static_cast<long>(der.size())),  // NOLINT(runtime/int)
            0);
  return BioContents(bio.get());
}

class CertificateTest : public ::testing::Test {
 protected:
  TestCa ca_{"example.org"};
};

// --- Parsing ---

TEST_F(CertificateTest, DerChainOfConcatenatedCertificates) {
  spiffe::X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  std::vector<Certificate> chain = svid.chain();
  chain.push_back(ca_.root());
  std::string der = ChainToDer(chain);
  EXPECT_EQ(der, chain[0].ToDer() + chain[1].ToDer() + chain[2].ToDer());

  absl::StatusOr<std::vector<Certificate>> parsed = ParseDerChain(der);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_THAT(*parsed, SizeIs(3));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*parsed)[i], chain[i]) << i;
  }
  absl::StatusOr<std::vector<Certificate>> autodetected = ParseChain(der);
  ASSERT_TRUE(autodetected.ok()) << autodetected.status();
  EXPECT_EQ(ChainToDer(*autodetected), der);
}

TEST_F(CertificateTest, PemChainOfSeveralBlocks) {
  spiffe::X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  std::string pem = MustEncode(ChainToPem(svid.chain()));
  EXPECT_EQ(pem, MustEncode(svid.chain()[0].ToPem()) + MustEncode(svid.chain()[1].ToPem()));

  absl::StatusOr<std::vector<Certificate>> parsed = ParsePemChain(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_THAT(*parsed, SizeIs(2));
  EXPECT_EQ((*parsed)[0], svid.chain()[0]);
  EXPECT_EQ((*parsed)[1], svid.chain()[1]);
  EXPECT_EQ(MustEncode(ChainToPem(*parsed)), pem);

  absl::StatusOr<std::vector<Certificate>> autodetected = ParseChain(pem);
  ASSERT_TRUE(autodetected.ok()) << autodetected.status();
  EXPECT_THAT(*autodetected, SizeIs(2));
}

TEST_F(CertificateTest, PemExplanatoryTextAroundBlocksIsIgnored) {
  std::string pem = absl::StrCat("subject=leaf\n", MustEncode(ca_.root().ToPem()),
                                 "\nissuer=root\n\n", MustEncode(ca_.root().ToPem()));
  absl::StatusOr<std::vector<Certificate>> parsed = ParsePemChain(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_THAT(*parsed, SizeIs(2));
}

TEST_F(CertificateTest, PemNonCertificateBlockRejected) {
  PrivateKey key = MustGenerate();
  for (const std::string& pem :
       {MustEncode(ca_.root().ToPem()) + MustEncode(key.ToPkcs8Pem()),
        MustEncode(key.ToPkcs8Pem()) + MustEncode(ca_.root().ToPem()),
        MustEncode(key.public_key().ToPem()), PemBlock("X509 CRL", ca_.root().ToDer()),
        PemBlock("TRUSTED CERTIFICATE", ca_.root().ToDer())}) {
    absl::StatusOr<std::vector<Certificate>> parsed = ParsePemChain(pem);
    ASSERT_FALSE(parsed.ok()) << pem;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("want CERTIFICATE"));
  }
}

TEST_F(CertificateTest, GarbageRejected) {
  EXPECT_FALSE(ParseChain("garbage").ok());
  EXPECT_FALSE(ParseDerChain("garbage").ok());
  EXPECT_FALSE(ParseDerChain(std::string("\x30\x03\x02\x01\x01", 5)).ok());
  EXPECT_FALSE(ParsePemChain("garbage").ok());
  EXPECT_FALSE(ParsePemChain(PemBlock("CERTIFICATE", "not a certificate")).ok());
  EXPECT_FALSE(Certificate::FromDer("garbage").ok());
  EXPECT_FALSE(Certificate::FromDer(ca_.root().public_key().ToDer()).ok());
}

TEST_F(CertificateTest, CorruptPemBlockAfterAValidOneRejected) {
  // A damaged second block must not be silently dropped from the chain.
  std::string pem = absl::StrCat(MustEncode(ca_.root().ToPem()),
                                 "-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n"
                                 "-----END CERTIFICATE-----\n");
  EXPECT_FALSE(ParsePemChain(pem).ok());

  std::string truncated = MustEncode(ca_.root().ToPem());
  truncated.resize(truncated.size() - 10);  // Cuts the END line.
  EXPECT_FALSE(ParsePemChain(MustEncode(ca_.root().ToPem()) + truncated).ok());
}

TEST_F(CertificateTest, TrailingDataRejected) {
  std::string der = ca_.root().ToDer();
  absl::StatusOr<Certificate> single = Certificate::FromDer(der + std::string(1, '\0'));
  ASSERT_FALSE(single.ok());
  EXPECT_THAT(std::string(single.status().message()), HasSubstr("trailing data"));

  EXPECT_FALSE(ParseDerChain(der + std::string(1, '\0')).ok());
  EXPECT_FALSE(ParseDerChain(der + "xyz").ok());
  EXPECT_FALSE(ParseChain(der + der.substr(0, 20)).ok());
  // Trailing bytes inside a PEM block's DER.
  EXPECT_FALSE(ParsePemChain(PemBlock("CERTIFICATE", der + "x")).ok());
}

TEST_F(CertificateTest, TruncatedDerRejected) {
  std::string der = ca_.root().ToDer();
  EXPECT_FALSE(Certificate::FromDer(der.substr(0, der.size() - 1)).ok());
  EXPECT_FALSE(ParseDerChain(der + der.substr(0, der.size() - 1)).ok());
}

TEST_F(CertificateTest, EmptyInputRejected) {
  absl::StatusOr<std::vector<Certificate>> der = ParseDerChain("");
  ASSERT_FALSE(der.ok());
  EXPECT_THAT(std::string(der.status().message()), HasSubstr("empty"));
  EXPECT_FALSE(ParsePemChain("").ok());
  EXPECT_FALSE(ParsePemChain("no pem here\n").ok());
  EXPECT_FALSE(ParseChain("").ok());
  EXPECT_FALSE(Certificate::FromDer("").ok());
}

TEST_F(CertificateTest, AtMostSixteenCertificates) {
  std::vector<Certificate> sixteen(16, ca_.root());
  absl::StatusOr<std::vector<Certificate>> der16 = ParseDerChain(ChainToDer(sixteen));
  ASSERT_TRUE(der16.ok()) << der16.status();
  EXPECT_THAT(*der16, SizeIs(16));
  absl::StatusOr<std::vector<Certificate>> pem16 = ParsePemChain(MustEncode(ChainToPem(sixteen)));
  ASSERT_TRUE(pem16.ok()) << pem16.status();
  EXPECT_THAT(*pem16, SizeIs(16));

  std::vector<Certificate> seventeen(17, ca_.root());
  absl::StatusOr<std::vector<Certificate>> der17 = ParseDerChain(ChainToDer(seventeen));
  ASSERT_FALSE(der17.ok());
  EXPECT_THAT(std::string(der17.status().message()), HasSubstr("more than 16"));
  absl::StatusOr<std::vector<Certificate>> pem17 = ParsePemChain(MustEncode(ChainToPem(seventeen)));
  ASSERT_FALSE(pem17.ok());
  EXPECT_THAT(std::string(pem17.status().message()), HasSubstr("more than 16"));
}

TEST_F(CertificateTest, ToDerAndToPemRoundTrip) {
  absl::StatusOr<Certificate> from_der = Certificate::FromDer(ca_.root().ToDer());
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(*from_der, ca_.root());
  EXPECT_EQ(MustEncode(from_der->ToPem()), MustEncode(ca_.root().ToPem()));
  EXPECT_TRUE(from_der->public_key().Equals(ca_.root_key().public_key()));
}

// --- Accessors ---

TEST_F(CertificateTest, LeafAccessors) {
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = LeafTemplate();
  tmpl.uri_sans = {std::string(kLeafId), "https://example.org/other"};
  tmpl.dns_sans = {"a.example.org", "b.example.org"};
  tmpl.key_usage = kKeyUsageDigitalSignature | kKeyUsageKeyAgreement;
  Certificate leaf = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());

  EXPECT_THAT(leaf.UriSans(), ElementsAre(kLeafId, "https://example.org/other"));
  EXPECT_THAT(leaf.DnsSans(), ElementsAre("a.example.org", "b.example.org"));
  EXPECT_TRUE(leaf.SubjectEmpty());
  EXPECT_EQ(leaf.Subject(), "");
  EXPECT_TRUE(leaf.SanCritical());  // Forced: the subject is empty.
  EXPECT_EQ(leaf.BasicConstraintsCa(), false);
  EXPECT_TRUE(leaf.BasicConstraintsCritical());
  EXPECT_EQ(leaf.KeyUsage(), kKeyUsageDigitalSignature | kKeyUsageKeyAgreement);
  EXPECT_TRUE(leaf.KeyUsageCritical());
  EXPECT_TRUE(leaf.HasExtendedKeyUsage());
  EXPECT_TRUE(leaf.HasServerAuth());
  EXPECT_TRUE(leaf.HasClientAuth());
  EXPECT_EQ(leaf.NotBefore(), TestNow() - absl::Seconds(10));
  EXPECT_EQ(leaf.NotAfter(), TestNow() + absl::Hours(1));
  EXPECT_EQ(leaf.Issuer(), ca_.root().Subject());
  EXPECT_FALSE(leaf.SelfIssued());
  EXPECT_TRUE(leaf.public_key().Equals(key.public_key()));
}

TEST_F(CertificateTest, CaAccessors) {
  const Certificate& root = ca_.root();
  EXPECT_EQ(root.Subject(), "CN=example.org,O=Signet Test");
  EXPECT_EQ(root.Issuer(), root.Subject());
  EXPECT_TRUE(root.SelfIssued());
  EXPECT_FALSE(root.SubjectEmpty());
  EXPECT_EQ(root.BasicConstraintsCa(), true);
  EXPECT_TRUE(root.BasicConstraintsCritical());
  ASSERT_TRUE(root.KeyUsage().has_value());
  EXPECT_NE(*root.KeyUsage() & kKeyUsageKeyCertSign, 0u);
  EXPECT_TRUE(root.KeyUsageCritical());
  EXPECT_THAT(root.UriSans(), ElementsAre("spiffe://example.org"));
  EXPECT_THAT(root.DnsSans(), IsEmpty());
}

TEST_F(CertificateTest, OnlyOneEkuPurpose) {
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = LeafTemplate();
  tmpl.client_auth = false;
  Certificate server = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_TRUE(server.HasExtendedKeyUsage());
  EXPECT_TRUE(server.HasServerAuth());
  EXPECT_FALSE(server.HasClientAuth());

  tmpl.server_auth = false;
  Certificate none = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_FALSE(none.HasExtendedKeyUsage());
  EXPECT_FALSE(none.HasServerAuth());
  EXPECT_FALSE(none.HasClientAuth());
}

TEST_F(CertificateTest, SanCriticalityFollowsSubject) {
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = LeafTemplate();
  tmpl.subject = "O=Signet,CN=workload";
  Certificate named = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_FALSE(named.SubjectEmpty());
  EXPECT_EQ(named.Subject(), "CN=workload,O=Signet");
  EXPECT_FALSE(named.SanCritical());

  tmpl.san_critical = true;
  Certificate critical = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_TRUE(critical.SanCritical());
}

TEST_F(CertificateTest, NoKeyUsageWhenTemplateHasNone) {
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = LeafTemplate();
  tmpl.key_usage = 0;
  Certificate cert = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_EQ(cert.KeyUsage(), std::nullopt);
  EXPECT_FALSE(cert.KeyUsageCritical());
}

TEST_F(CertificateTest, CertificateWithoutExtensions) {
  PrivateKey key = MustGenerate();
  absl::StatusOr<Certificate> bare = BareCertificate(key.get(), 7);
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->BasicConstraintsCa(), std::nullopt);
  EXPECT_FALSE(bare->BasicConstraintsCritical());
  EXPECT_EQ(bare->KeyUsage(), std::nullopt);
  EXPECT_FALSE(bare->HasExtendedKeyUsage());
  EXPECT_FALSE(bare->HasServerAuth());
  EXPECT_FALSE(bare->HasClientAuth());
  EXPECT_THAT(bare->UriSans(), IsEmpty());
  EXPECT_THAT(bare->DnsSans(), IsEmpty());
  EXPECT_FALSE(bare->SanCritical());
  EXPECT_EQ(bare->SerialBits(), 3);
  EXPECT_EQ(bare->SerialHex(), "07");
  EXPECT_TRUE(bare->SerialPositive());
  EXPECT_EQ(bare->Subject(), "CN=bare");
}

TEST_F(CertificateTest, ZeroAndNegativeSerialsAreNotPositive) {
  PrivateKey key = MustGenerate();
  absl::StatusOr<Certificate> zero = BareCertificate(key.get(), 0);
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_FALSE(zero->SerialPositive());
  absl::StatusOr<Certificate> negative = BareCertificate(key.get(), -5);
  ASSERT_TRUE(negative.ok()) << negative.status();
  EXPECT_FALSE(negative->SerialPositive());
}

TEST_F(CertificateTest, SerialsAreLongRandomAndPositive) {
  PrivateKey key = MustGenerate();
  std::set<std::string> seen;
  for (int i = 0; i < 24; ++i) {
    Certificate cert = MustIssue(LeafTemplate(), key.public_key(), &ca_.root(), ca_.root_key());
    // 128 random bits: fewer than 101 significant bits happens with probability 2^-27.
    EXPECT_GT(cert.SerialBits(), 100) << cert.SerialHex();
    EXPECT_LE(cert.SerialBits(), 128) << cert.SerialHex();
    EXPECT_TRUE(cert.SerialPositive());
    EXPECT_TRUE(seen.insert(cert.SerialHex()).second) << "duplicate serial " << cert.SerialHex();
  }
  EXPECT_GT(ca_.root().SerialBits(), 100);
  EXPECT_TRUE(ca_.root().SerialPositive());
}

TEST_F(CertificateTest, SvidNotBeforeIsBackdatedTenSeconds) {
  spiffe::X509Svid svid = ca_.MintSvid("/workload");
  EXPECT_EQ(svid.leaf().NotBefore(), TestNow() - absl::Seconds(10));
  EXPECT_EQ(svid.leaf().NotAfter(), TestNow() + absl::Hours(1));
  EXPECT_EQ(ca_.root().NotBefore(), TestNow() - absl::Seconds(10));
}

TEST_F(CertificateTest, FingerprintIsSha256OfDer) {
  std::string fp = ca_.root().Sha256Fingerprint();
  EXPECT_EQ(fp, HexEncode(Sha256(ca_.root().ToDer())));
  EXPECT_THAT(fp, SizeIs(64));
  EXPECT_NE(fp, ca_.MintSvid("/workload").leaf().Sha256Fingerprint());
}

TEST_F(CertificateTest, EqualityComparesEncodings) {
  spiffe::X509Svid a = ca_.MintSvid("/workload");
  spiffe::X509Svid b = ca_.MintSvid("/workload");
  EXPECT_EQ(a.leaf(), a.leaf());
  EXPECT_FALSE(a.leaf() == b.leaf());
}

TEST(CertificateFromX509Test, NullAndPolicyViolatingKeysRejected) {
  EXPECT_FALSE(Certificate::FromX509(nullptr).ok());

  EvpPkeyPtr small(EVP_RSA_gen(1024));
  ASSERT_NE(small, nullptr);
  absl::StatusOr<Certificate> cert = BareCertificate(small.get(), 1);
  ASSERT_FALSE(cert.ok());
  EXPECT_THAT(std::string(cert.status().message()), HasSubstr("rsa key of 1024 bits"));
}

TEST(CertificateFromX509Test, DuplicateExtensionRejected) {
  PrivateKey key = MustGenerate();
  absl::StatusOr<Certificate> bare = BareCertificate(key.get(), 9);
  ASSERT_TRUE(bare.ok()) << bare.status();
  X509Ptr copy(X509_dup(bare->get()));
  for (int i = 0; i < 2; ++i) {
    X509ExtensionPtr ext(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:FALSE"));
    ASSERT_NE(ext, nullptr);
    ASSERT_EQ(X509_add_ext(copy.get(), ext.get(), -1), 1);
  }
  ASSERT_GT(X509_sign(copy.get(), key.get(), EVP_sha256()), 0);
  absl::StatusOr<Certificate> dup = Certificate::FromX509(std::move(copy));
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(std::string(dup.status().message()), HasSubstr("duplicate extension"));
}

// --- IssueCertificate ---

TEST_F(CertificateTest, IssueRejectsBadTemplates) {
  PrivateKey key = MustGenerate();
  CertificateTemplate backwards = LeafTemplate();
  backwards.not_after = backwards.not_before;
  EXPECT_FALSE(IssueCertificate(backwards, key.public_key(), &ca_.root(), ca_.root_key()).ok());

  CertificateTemplate bad_subject = LeafTemplate();
  bad_subject.subject = "CN";
  EXPECT_FALSE(IssueCertificate(bad_subject, key.public_key(), &ca_.root(), ca_.root_key()).ok());
  bad_subject.subject = "NOTANATTRIBUTE=x";
  EXPECT_FALSE(IssueCertificate(bad_subject, key.public_key(), &ca_.root(), ca_.root_key()).ok());

  // Self-signed, but signed with a key other than the subject's.
  absl::StatusOr<Certificate> wrong_self =
      IssueCertificate(CaTemplate("CN=x"), key.public_key(), nullptr, ca_.root_key());
  ASSERT_FALSE(wrong_self.ok());
  EXPECT_THAT(std::string(wrong_self.status().message()), HasSubstr("self-signed"));
}

TEST_F(CertificateTest, PathLenIsEncoded) {
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = CaTemplate("CN=intermediate");
  tmpl.path_len = 0;
  Certificate mid = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  EXPECT_EQ(X509_get_pathlen(mid.get()), 0);
  EXPECT_EQ(X509_get_pathlen(ca_.root().get()), -1);
}

TEST(CertificateTimeTest, Asn1TimeToTime) {
  OsslPtr<ASN1_TIME, ASN1_TIME_free> t(ASN1_TIME_new());
  ASSERT_NE(ASN1_TIME_set(t.get(), 1800000000), nullptr);
  EXPECT_EQ(Asn1TimeToTime(t.get()), absl::FromUnixSeconds(1800000000));
  // After 2049 the encoding switches to GeneralizedTime.
  ASSERT_NE(ASN1_TIME_set(t.get(), 2600000000), nullptr);
  EXPECT_EQ(Asn1TimeToTime(t.get()), absl::FromUnixSeconds(2600000000));
}

TEST(CertificateHexTest, HexEncode) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
}

// --- VerifyCertificateChain ---

class CertificateChainVerifyTest : public CertificateTest {
 protected:
  Certificate Leaf(const Certificate& issuer, const PrivateKey& issuer_key,
                   CertificateTemplate tmpl = LeafTemplate()) {
    return MustIssue(tmpl, leaf_key_.public_key(), &issuer, issuer_key);
  }
  std::vector<Certificate> Anchors() const { return {ca_.root()}; }

  PrivateKey leaf_key_ = MustGenerate();
};

TEST_F(CertificateChainVerifyTest, LeafSignedByAnchor) {
  Certificate leaf = Leaf(ca_.root(), ca_.root_key());
  EXPECT_THAT(VerifyCertificateChain(leaf, {}, Anchors(), TestNow()), IsEmpty());
}

TEST_F(CertificateChainVerifyTest, LeafThroughIntermediate) {
  spiffe::X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  std::vector<Certificate> intermediates = {svid.chain()[1]};
  EXPECT_THAT(VerifyCertificateChain(svid.leaf(), intermediates, Anchors(), TestNow()), IsEmpty());
  // Without the intermediate there is no path.
  EXPECT_THAT(VerifyCertificateChain(svid.leaf(), {}, Anchors(), TestNow()), Not(IsEmpty()));
}

TEST_F(CertificateChainVerifyTest, NonSelfSignedAnchorIsTrustedAsGiven) {
  spiffe::X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  std::vector<Certificate> anchors = {svid.chain()[1]};
  EXPECT_THAT(VerifyCertificateChain(svid.leaf(), {}, anchors, TestNow()), IsEmpty());
}

TEST_F(CertificateChainVerifyTest, NoAnchorsOrWrongAnchorFails) {
  Certificate leaf = Leaf(ca_.root(), ca_.root_key());
  EXPECT_THAT(VerifyCertificateChain(leaf, {}, {}, TestNow()), Not(IsEmpty()));
  TestCa other("example.org");
  std::vector<Certificate> anchors = {other.root()};
  EXPECT_THAT(VerifyCertificateChain(leaf, {}, anchors, TestNow()), Not(IsEmpty()));
}

TEST_F(CertificateChainVerifyTest, ValidityPeriodIsChecked) {
  Certificate leaf = Leaf(ca_.root(), ca_.root_key());
  std::vector<std::string> expired =
      VerifyCertificateChain(leaf, {}, Anchors(), TestNow() + absl::Hours(2));
  EXPECT_THAT(expired, ElementsAre(HasSubstr("expired")));
  std::vector<std::string> early =
      VerifyCertificateChain(leaf, {}, Anchors(), TestNow() - absl::Minutes(1));
  EXPECT_THAT(early, Contains("certificate at depth 0: certificate is not yet valid"));
  // NotBefore itself is inside the validity period.
  EXPECT_THAT(VerifyCertificateChain(leaf, {}, Anchors(), leaf.NotBefore()), IsEmpty());
}

TEST_F(CertificateChainVerifyTest, BadSignatureFails) {
  PrivateKey impostor = MustGenerate();
  // Names and key identifiers point at the root, but another key signed it.
  Certificate leaf = Leaf(ca_.root(), impostor);
  EXPECT_THAT(VerifyCertificateChain(leaf, {}, Anchors(), TestNow()),
              Contains(HasSubstr("signature failure")));
}

TEST_F(CertificateChainVerifyTest, ReportsEveryProblem) {
  PrivateKey impostor = MustGenerate();
  Certificate leaf = Leaf(ca_.root(), impostor);
  std::vector<std::string> problems =
      VerifyCertificateChain(leaf, {}, Anchors(), TestNow() + absl::Hours(2));
  EXPECT_THAT(problems, SizeIs(::testing::Ge(2u)));
  EXPECT_THAT(problems, Contains(HasSubstr("signature failure")));
  EXPECT_THAT(problems, Contains(HasSubstr("expired")));
  for (const std::string& p : problems) {
    EXPECT_THAT(p, HasSubstr("depth 0"));
  }
}

TEST_F(CertificateChainVerifyTest, NonCaIntermediateFails) {
  PrivateKey mid_key = MustGenerate();
  CertificateTemplate mid_tmpl = LeafTemplate();
  mid_tmpl.subject = "CN=not a ca";
  mid_tmpl.key_usage = kKeyUsageDigitalSignature | kKeyUsageKeyCertSign;
  Certificate mid = MustIssue(mid_tmpl, mid_key.public_key(), &ca_.root(), ca_.root_key());
  Certificate leaf = Leaf(mid, mid_key);
  std::vector<Certificate> intermediates = {mid};
  EXPECT_THAT(VerifyCertificateChain(leaf, intermediates, Anchors(), TestNow()),
              Contains(HasSubstr("invalid CA certificate")));
}

TEST_F(CertificateChainVerifyTest, PathLengthIsEnforced) {
  PrivateKey mid1_key = MustGenerate();
  CertificateTemplate mid1_tmpl = CaTemplate("CN=mid1");
  mid1_tmpl.path_len = 0;
  Certificate mid1 = MustIssue(mid1_tmpl, mid1_key.public_key(), &ca_.root(), ca_.root_key());
  PrivateKey mid2_key = MustGenerate();
  Certificate mid2 = MustIssue(CaTemplate("CN=mid2"), mid2_key.public_key(), &mid1, mid1_key);
  Certificate leaf = Leaf(mid2, mid2_key);
  std::vector<Certificate> intermediates = {mid2, mid1};
  EXPECT_THAT(VerifyCertificateChain(leaf, intermediates, Anchors(), TestNow()),
              Contains(HasSubstr("path length")));

  // The same shape without the constraint is fine.
  Certificate free_mid1 =
      MustIssue(CaTemplate("CN=mid1"), mid1_key.public_key(), &ca_.root(), ca_.root_key());
  std::vector<Certificate> free = {mid2, free_mid1};
  EXPECT_THAT(VerifyCertificateChain(leaf, free, Anchors(), TestNow()), IsEmpty());
}

TEST_F(CertificateChainVerifyTest, UnknownCriticalExtensionFails) {
  Certificate leaf = Leaf(ca_.root(), ca_.root_key());
  Certificate with_ext = Resign(
      leaf,
      [](X509* x509) {
        OsslPtr<ASN1_OBJECT, ASN1_OBJECT_free> oid(OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1));
        Asn1OctetStringPtr value(ASN1_OCTET_STRING_new());
        ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>("\x05\x00"), 2);
        X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
        ASSERT_NE(ext, nullptr);
        X509_add_ext(x509, ext.get(), -1);
      },
      ca_.root_key());
  EXPECT_THAT(VerifyCertificateChain(with_ext, {}, Anchors(), TestNow()),
              Contains(HasSubstr("unhandled critical extension")));
  // The re-signed copy without the extension verifies, so only the extension is at fault.
  Certificate plain = Resign(
      leaf, [](X509*) {}, ca_.root_key());
  EXPECT_THAT(VerifyCertificateChain(plain, {}, Anchors(), TestNow()), IsEmpty());
}

}  // namespace
}  // namespace signet::crypto
