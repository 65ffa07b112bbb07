#include "src/spiffe/x509_svid.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/cert_builder.h"
#include "src/crypto/certificate.h"
#include "src/crypto/chain_verify.h"
#include "src/crypto/key.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"
#include "tests/testing/test_ca.h"

namespace signet::spiffe {
namespace {

using ::signet::testing::MustEncode;
using ::signet::testing::MustGenerate;

using ::signet::crypto::Certificate;
using ::signet::crypto::CertificateTemplate;
using ::signet::crypto::KeyType;
using ::signet::crypto::PrivateKey;
using ::signet::testing::TestCa;
using ::signet::testing::TestNow;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr absl::string_view kLeafId = "spiffe://example.org/workload";

SpiffeId MustId(absl::string_view text) {
  absl::StatusOr<SpiffeId> id = SpiffeId::Parse(text);
  EXPECT_TRUE(id.ok()) << id.status();
  return *std::move(id);
}

TrustDomain MustTd(absl::string_view name) {
  absl::StatusOr<TrustDomain> td = TrustDomain::Parse(name);
  EXPECT_TRUE(td.ok()) << td.status();
  return *std::move(td);
}

Certificate MustIssue(const CertificateTemplate& tmpl, const crypto::PublicKey& subject_key,
                      const Certificate* issuer, const PrivateKey& issuer_key) {
  absl::StatusOr<Certificate> cert =
      crypto::IssueCertificate(tmpl, subject_key, issuer, issuer_key);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return *std::move(cert);
}

// A leaf template that meets every rule of §2.1; tests break one rule at a time.
CertificateTemplate GoodLeafTemplate(absl::string_view id = kLeafId) {
  CertificateTemplate t;
  t.not_before = TestNow() - absl::Seconds(10);
  t.not_after = TestNow() + absl::Hours(1);
  t.key_usage = crypto::kKeyUsageDigitalSignature;
  t.server_auth = true;
  t.client_auth = true;
  t.uri_sans = {std::string(id)};
  return t;
}

std::string Joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) {
    absl::StrAppend(&out, p, "\n");
  }
  return out;
}

// A BundleSource that records which trust domains were asked for.
class RecordingBundleSource : public BundleSource {
 public:
  explicit RecordingBundleSource(BundleSet set) : set_(std::move(set)) {}
  std::shared_ptr<const Bundle> GetBundle(const TrustDomain& td) const override {
    requested_.push_back(td.name());
    return set_.GetBundle(td);
  }
  const std::vector<std::string>& requested() const { return requested_; }

 private:
  BundleSet set_;
  mutable std::vector<std::string> requested_;
};

class X509SvidTest : public ::testing::Test {
 protected:
  // A leaf for `tmpl` with leaf_key_, signed by the test root.
  Certificate LeafFromTemplate(const CertificateTemplate& tmpl) {
    return MustIssue(tmpl, leaf_key_.public_key(), &ca_.root(), ca_.root_key());
  }

  Certificate IssueLeaf(const LeafParams& params, absl::Time now = TestNow()) {
    absl::StatusOr<Certificate> leaf =
        IssueLeafSvid(params, leaf_key_.public_key(), ca_.root(), ca_.root_key(), now);
    EXPECT_TRUE(leaf.ok()) << leaf.status();
    return *std::move(leaf);
  }

  absl::Status IssueLeafStatus(const LeafParams& params, absl::Time now = TestNow()) {
    return IssueLeafSvid(params, leaf_key_.public_key(), ca_.root(), ca_.root_key(), now).status();
  }

  X509Verification VerifyChain(const std::vector<Certificate>& chain, absl::Time now = TestNow()) {
    return VerifyX509SvidChain(chain, bundles_, now);
  }

  TestCa ca_{"example.org"};
  BundleSet bundles_ = ca_.bundle_set();
  PrivateKey leaf_key_ = MustGenerate();
};

// ---------------------------------------------------------------------------------------------
// §2.1 Issuing a leaf, for each key type.

class X509LeafIssueTest : public ::testing::TestWithParam<KeyType> {};

TEST_P(X509LeafIssueTest, LeafFollowsEveryRule) {
  TestCa ca("example.org", GetParam());
  PrivateKey key = MustGenerate(GetParam());
  absl::StatusOr<Certificate> leaf =
      IssueLeafSvid({.id = MustId(kLeafId)}, key.public_key(), ca.root(), ca.root_key(), TestNow());
  ASSERT_TRUE(leaf.ok()) << leaf.status();

  EXPECT_THAT(leaf->UriSans(), ElementsAre(kLeafId));
  EXPECT_THAT(leaf->DnsSans(), IsEmpty());
  EXPECT_TRUE(leaf->SubjectEmpty());
  EXPECT_TRUE(leaf->SanCritical());
  EXPECT_EQ(leaf->BasicConstraintsCa(), false);
  EXPECT_TRUE(leaf->BasicConstraintsCritical());
  uint32_t want_ku = crypto::kKeyUsageDigitalSignature;
  if (GetParam() == KeyType::kRsa2048) {
    want_ku |= crypto::kKeyUsageKeyEncipherment;
  }
  EXPECT_EQ(leaf->KeyUsage(), want_ku);
  EXPECT_TRUE(leaf->KeyUsageCritical());
  EXPECT_TRUE(leaf->HasExtendedKeyUsage());
  EXPECT_TRUE(leaf->HasServerAuth());
  EXPECT_TRUE(leaf->HasClientAuth());
  EXPECT_GT(leaf->SerialBits(), 64);
  EXPECT_TRUE(leaf->SerialPositive());
  EXPECT_EQ(leaf->NotBefore(), TestNow() - absl::Seconds(10));
  EXPECT_EQ(leaf->NotAfter(), TestNow() + absl::Hours(1));
  EXPECT_EQ(leaf->Issuer(), ca.root().Subject());
  EXPECT_TRUE(leaf->public_key().Equals(key.public_key()));
  EXPECT_THAT(CheckLeafRules(*leaf), IsEmpty());

  std::vector<Certificate> chain = {*leaf};
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, ca.bundle_set(), TestNow());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->String(), kLeafId);
}

TEST_P(X509LeafIssueTest, CaCertificateFollowsEveryRule) {
  PrivateKey key = MustGenerate(GetParam());
  absl::StatusOr<Certificate> root =
      IssueCaCertificate({.trust_domain = MustTd("example.org"), .subject = "O=Signet,CN=root"},
                         key.public_key(), nullptr, key, TestNow());
  ASSERT_TRUE(root.ok()) << root.status();

  EXPECT_EQ(root->BasicConstraintsCa(), true);
  EXPECT_TRUE(root->BasicConstraintsCritical());
  ASSERT_TRUE(root->KeyUsage().has_value());
  EXPECT_NE(*root->KeyUsage() & crypto::kKeyUsageKeyCertSign, 0u);
  EXPECT_TRUE(root->KeyUsageCritical());
  EXPECT_THAT(root->UriSans(), ElementsAre("spiffe://example.org"));
  EXPECT_EQ(root->Subject(), "CN=root,O=Signet");
  EXPECT_TRUE(root->SelfIssued());
  EXPECT_EQ(root->Issuer(), root->Subject());
  EXPECT_TRUE(root->public_key().Equals(key.public_key()));
  EXPECT_GT(root->SerialBits(), 64);
  EXPECT_TRUE(root->SerialPositive());
  EXPECT_EQ(root->NotBefore(), TestNow() - absl::Seconds(10));
  EXPECT_EQ(root->NotAfter(), TestNow() + absl::Hours(24));
  EXPECT_EQ(X509_get_pathlen(root->get()), -1);
  // Self-signed: its own key verifies it.
  std::vector<Certificate> anchors = {*root};
  EXPECT_THAT(crypto::VerifyCertificateChain(*root, {}, anchors, TestNow()), IsEmpty());
  // It must never pass as a leaf.
  EXPECT_THAT(CheckLeafRules(*root), Not(IsEmpty()));
}

TEST_P(X509LeafIssueTest, ParseAndVerifyRoundTrip) {
  TestCa ca("example.org", GetParam());
  X509Svid svid = ca.MintSvid("/workload", GetParam());
  absl::StatusOr<X509Svid> parsed = X509Svid::Parse(MustEncode(crypto::ChainToPem(svid.chain())),
                                                    MustEncode(svid.key().ToPkcs8Pem()));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id().String(), kLeafId);
  EXPECT_EQ(parsed->key().info().algorithm, svid.key().info().algorithm);
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(parsed->chain(), ca.bundle_set(), TestNow());
  ASSERT_TRUE(id.ok()) << id.status();
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, X509LeafIssueTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           switch (info.param) {
                             case KeyType::kEcP256:
                               return std::string("EcP256");
                             case KeyType::kEcP384:
                               return std::string("EcP384");
                             case KeyType::kRsa2048:
                               return std::string("Rsa2048");
                           }
                           return std::string("Unknown");
                         });

TEST_F(X509SvidTest, MixedKeyTypesInOneChain) {
  TestCa rsa_ca("example.org", KeyType::kRsa2048);
  X509Svid svid = rsa_ca.MintSvid("/workload", KeyType::kEcP384);
  EXPECT_EQ(svid.leaf().KeyUsage(), crypto::kKeyUsageDigitalSignature);
  EXPECT_TRUE(VerifyX509Svid(svid.chain(), rsa_ca.bundle_set(), TestNow()).ok());
}

TEST_F(X509SvidTest, SubjectIsOptional) {
  Certificate leaf = IssueLeaf({.id = MustId(kLeafId), .subject = "O=Signet,CN=workload"});
  EXPECT_FALSE(leaf.SubjectEmpty());
  EXPECT_EQ(leaf.Subject(), "CN=workload,O=Signet");
  EXPECT_THAT(leaf.UriSans(), ElementsAre(kLeafId));
  EXPECT_THAT(CheckLeafRules(leaf), IsEmpty());
}

TEST_F(X509SvidTest, TtlSetsNotAfter) {
  Certificate leaf = IssueLeaf({.id = MustId(kLeafId), .ttl = absl::Minutes(5)});
  EXPECT_EQ(leaf.NotAfter(), TestNow() + absl::Minutes(5));
  EXPECT_EQ(leaf.NotBefore(), TestNow() - kX509Backdate);
  EXPECT_EQ(kX509Backdate, absl::Seconds(10));
}

TEST_F(X509SvidTest, NotAfterCappedByIssuer) {
  // The root expires at TestNow() + 24h.
  Certificate leaf = IssueLeaf({.id = MustId(kLeafId), .ttl = absl::Hours(48)});
  EXPECT_EQ(leaf.NotAfter(), ca_.root().NotAfter());
  Certificate late = IssueLeaf({.id = MustId(kLeafId)}, ca_.root().NotAfter() - absl::Minutes(1));
  EXPECT_EQ(late.NotAfter(), ca_.root().NotAfter());
}

TEST_F(X509SvidTest, DnsSansAdded) {
  Certificate leaf = IssueLeaf(
      {.id = MustId(kLeafId), .dns_names = {"workload.example.org", "*.svc.example.org"}});
  EXPECT_THAT(leaf.DnsSans(), ElementsAre("workload.example.org", "*.svc.example.org"));
  EXPECT_THAT(leaf.UriSans(), ElementsAre(kLeafId));
  EXPECT_THAT(CheckLeafRules(leaf), IsEmpty());
  for (const char* ok : {"localhost", "a-b.example", "xn--bcher-kva.example", "A.Example.ORG"}) {
    EXPECT_TRUE(IssueLeafStatus({.id = MustId(kLeafId), .dns_names = {ok}}).ok()) << ok;
  }
}

TEST_F(X509SvidTest, InvalidDnsNameRejected) {
  for (const std::string& bad :
       {std::string(""), std::string("has space.example"), std::string("a..example"),
        std::string(".example"), std::string("example."), std::string("under_score.example"),
        std::string("a.*.example"), std::string("*"), std::string("*example.org"),
        std::string("caf\xc3\xa9.example"), std::string("a/b"), std::string(64, 'a') + ".example",
        std::string(300, 'a')}) {
    absl::Status status =
        IssueLeafStatus({.id = MustId(kLeafId), .dns_names = {"ok.example", bad}});
    ASSERT_FALSE(status.ok()) << "\"" << bad << "\"";
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("invalid dns name"));
  }
  // A 63-character label is the longest allowed.
  EXPECT_TRUE(
      IssueLeafStatus({.id = MustId(kLeafId), .dns_names = {std::string(63, 'a') + ".example"}})
          .ok());
}

TEST_F(X509SvidTest, TrustDomainIdRejected) {
  absl::Status status = IssueLeafStatus({.id = MustId("spiffe://example.org")});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("must have a path"));
}

TEST_F(X509SvidTest, OtherTrustDomainRejected) {
  absl::Status status = IssueLeafStatus({.id = MustId("spiffe://other.org/workload")});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not in the issuer's trust domain"));
}

TEST_F(X509SvidTest, NonPositiveTtlRejected) {
  for (absl::Duration ttl : {absl::ZeroDuration(), absl::Seconds(-1), -absl::Hours(1)}) {
    absl::Status status = IssueLeafStatus({.id = MustId(kLeafId), .ttl = ttl});
    ASSERT_FALSE(status.ok()) << ttl;
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(X509SvidTest, ExpiredIssuerRejected) {
  for (absl::Time now : {ca_.root().NotAfter(), ca_.root().NotAfter() + absl::Hours(1)}) {
    absl::Status status = IssueLeafStatus({.id = MustId(kLeafId)}, now);
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(std::string(status.message()), HasSubstr("expired"));
  }
  EXPECT_TRUE(
      IssueLeafStatus({.id = MustId(kLeafId)}, ca_.root().NotAfter() - absl::Seconds(1)).ok());
}

// ---------------------------------------------------------------------------------------------
// §2.2 Signing certificates.

TEST_F(X509SvidTest, IntermediateCa) {
  PrivateKey key = MustGenerate(KeyType::kEcP384);
  absl::StatusOr<Certificate> mid =
      IssueCaCertificate({.trust_domain = ca_.trust_domain(),
                          .subject = "CN=mid",
                          .ttl = absl::Hours(48),
                          .path_len = 0},
                         key.public_key(), &ca_.root(), ca_.root_key(), TestNow());
  ASSERT_TRUE(mid.ok()) << mid.status();
  EXPECT_FALSE(mid->SelfIssued());
  EXPECT_EQ(mid->Issuer(), ca_.root().Subject());
  EXPECT_EQ(mid->BasicConstraintsCa(), true);
  EXPECT_EQ(X509_get_pathlen(mid->get()), 0);
  EXPECT_EQ(mid->NotAfter(), ca_.root().NotAfter());  // Capped by the root.
  EXPECT_THAT(mid->UriSans(), ElementsAre("spiffe://example.org"));
  std::vector<Certificate> anchors = {ca_.root()};
  EXPECT_THAT(crypto::VerifyCertificateChain(*mid, {}, anchors, TestNow()), IsEmpty());
}

TEST_F(X509SvidTest, CaParamsValidated) {
  PrivateKey key = MustGenerate();
  EXPECT_FALSE(IssueCaCertificate({.trust_domain = ca_.trust_domain(), .subject = ""},
                                  key.public_key(), nullptr, key, TestNow())
                   .ok());
  EXPECT_FALSE(
      IssueCaCertificate(
          {.trust_domain = ca_.trust_domain(), .subject = "CN=x", .ttl = absl::ZeroDuration()},
          key.public_key(), nullptr, key, TestNow())
          .ok());
  EXPECT_FALSE(IssueCaCertificate({.trust_domain = ca_.trust_domain(), .subject = "CN=x"},
                                  key.public_key(), &ca_.root(), ca_.root_key(),
                                  ca_.root().NotAfter() + absl::Seconds(1))
                   .ok());
  // Self-signed needs the subject's own key.
  EXPECT_FALSE(IssueCaCertificate({.trust_domain = ca_.trust_domain(), .subject = "CN=x"},
                                  key.public_key(), nullptr, ca_.root_key(), TestNow())
                   .ok());
}

// ---------------------------------------------------------------------------------------------
// Leaf rules: each case breaks exactly one rule and must be caught by CheckLeafRules, by
// X509Svid::FromParts/Parse and by VerifyX509SvidChain.

struct LeafRuleCase {
  std::string name;
  std::function<void(CertificateTemplate&)> mutate;
  std::string problem;
};

class X509LeafRuleTest : public X509SvidTest, public ::testing::WithParamInterface<LeafRuleCase> {
 protected:
  Certificate BrokenLeaf() {
    CertificateTemplate tmpl = GoodLeafTemplate();
    GetParam().mutate(tmpl);
    return LeafFromTemplate(tmpl);
  }
};

TEST_P(X509LeafRuleTest, CheckLeafRulesReportsIt) {
  std::optional<SpiffeId> id;
  std::vector<std::string> problems = CheckLeafRules(BrokenLeaf(), &id);
  EXPECT_THAT(problems, Contains(HasSubstr(GetParam().problem))) << Joined(problems);
}

TEST_P(X509LeafRuleTest, X509SvidRejectsIt) {
  Certificate leaf = BrokenLeaf();
  absl::StatusOr<X509Svid> from_parts = X509Svid::FromParts({leaf}, leaf_key_);
  ASSERT_FALSE(from_parts.ok());
  EXPECT_EQ(from_parts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(from_parts.status().message()), HasSubstr(GetParam().problem));

  absl::StatusOr<X509Svid> parsed =
      X509Svid::Parse(MustEncode(leaf.ToPem()), MustEncode(leaf_key_.ToPkcs8Pem()));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(GetParam().problem));
}

TEST_P(X509LeafRuleTest, VerificationRejectsIt) {
  X509Verification v = VerifyChain({BrokenLeaf()});
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.id, std::nullopt);
  EXPECT_THAT(v.problems, Contains(HasSubstr(GetParam().problem))) << Joined(v.problems);

  std::vector<Certificate> chain = {BrokenLeaf()};
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, bundles_, TestNow());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(GetParam().problem));
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, X509LeafRuleTest,
    ::testing::Values(
        LeafRuleCase{
            "TwoUriSans",
            [](CertificateTemplate& t) { t.uri_sans.push_back("spiffe://example.org/other"); },
            "2 URI SANs"},
        LeafRuleCase{"TwoUriSansOneNotSpiffe",
                     [](CertificateTemplate& t) { t.uri_sans.push_back("https://example.org/"); },
                     "2 URI SANs"},
        LeafRuleCase{"NoUriSanOnlyDns",
                     [](CertificateTemplate& t) {
                       t.uri_sans.clear();
                       t.dns_sans = {"workload.example.org"};
                     },
                     "0 URI SANs"},
        LeafRuleCase{"NoSanAtAll",
                     [](CertificateTemplate& t) {
                       t.uri_sans.clear();
                       t.subject = "CN=workload";
                     },
                     "0 URI SANs"},
        LeafRuleCase{"UriIsNotSpiffe",
                     [](CertificateTemplate& t) { t.uri_sans = {"https://example.org/workload"}; },
                     "leaf URI SAN"},
        LeafRuleCase{"UriIsInvalidSpiffeId",
                     [](CertificateTemplate& t) { t.uri_sans = {"spiffe://example.org/a/../b"}; },
                     "leaf URI SAN"},
        LeafRuleCase{"TrustDomainIdOnly",
                     [](CertificateTemplate& t) { t.uri_sans = {"spiffe://example.org"}; },
                     "has no path"},
        LeafRuleCase{"CaFlag", [](CertificateTemplate& t) { t.is_ca = true; },
                     "leaf is a CA certificate"},
        LeafRuleCase{"KeyCertSign",
                     [](CertificateTemplate& t) { t.key_usage |= crypto::kKeyUsageKeyCertSign; },
                     "keyCertSign"},
        LeafRuleCase{"CrlSign",
                     [](CertificateTemplate& t) { t.key_usage |= crypto::kKeyUsageCrlSign; },
                     "cRLSign"},
        LeafRuleCase{"NoDigitalSignature",
                     [](CertificateTemplate& t) { t.key_usage = crypto::kKeyUsageKeyEncipherment; },
                     "lacks digitalSignature"},
        LeafRuleCase{"NoKeyUsage", [](CertificateTemplate& t) { t.key_usage = 0; },
                     "no key usage extension"}),
    [](const ::testing::TestParamInfo<LeafRuleCase>& info) { return info.param.name; });

// The unbroken template passes every check above, so each failure is due to its one change.
TEST_F(X509SvidTest, GoodTemplatePassesEveryCheck) {
  Certificate leaf = LeafFromTemplate(GoodLeafTemplate());
  std::optional<SpiffeId> id;
  EXPECT_THAT(CheckLeafRules(leaf, &id), IsEmpty());
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->String(), kLeafId);
  EXPECT_TRUE(X509Svid::FromParts({leaf}, leaf_key_).ok());
  EXPECT_TRUE(X509Svid::Parse(MustEncode(leaf.ToPem()), MustEncode(leaf_key_.ToPkcs8Pem())).ok());
  X509Verification v = VerifyChain({leaf});
  EXPECT_TRUE(v.ok()) << Joined(v.problems);
}

// ---------------------------------------------------------------------------------------------
// X509Svid::Parse / FromParts.

TEST_F(X509SvidTest, ParseDerChainAndPkcs8DerKey) {
  X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  absl::StatusOr<X509Svid> parsed =
      X509Svid::Parse(crypto::ChainToDer(svid.chain()), MustEncode(svid.key().ToPkcs8Der()));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id().String(), kLeafId);
  ASSERT_THAT(parsed->chain(), SizeIs(2));
  EXPECT_EQ(parsed->chain()[0], svid.chain()[0]);
  EXPECT_EQ(parsed->chain()[1], svid.chain()[1]);
  EXPECT_EQ(parsed->leaf(), svid.leaf());
  EXPECT_TRUE(parsed->key().public_key().Equals(svid.key().public_key()));
}

TEST_F(X509SvidTest, ParsePemChainAndPemKey) {
  X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  absl::StatusOr<X509Svid> parsed = X509Svid::Parse(MustEncode(crypto::ChainToPem(svid.chain())),
                                                    MustEncode(svid.key().ToPkcs8Pem()));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id().String(), kLeafId);
  EXPECT_THAT(parsed->chain(), SizeIs(2));
}

TEST_F(X509SvidTest, ParseMixedEncodings) {
  X509Svid svid = ca_.MintSvid("/workload");
  EXPECT_TRUE(
      X509Svid::Parse(crypto::ChainToDer(svid.chain()), MustEncode(svid.key().ToPkcs8Pem())).ok());
  EXPECT_TRUE(X509Svid::Parse(MustEncode(crypto::ChainToPem(svid.chain())),
                              MustEncode(svid.key().ToPkcs8Der()))
                  .ok());
}

TEST_F(X509SvidTest, MismatchedKeyRejected) {
  X509Svid svid = ca_.MintSvid("/workload");
  PrivateKey other = MustGenerate();
  absl::StatusOr<X509Svid> parsed =
      X509Svid::Parse(MustEncode(crypto::ChainToPem(svid.chain())), MustEncode(other.ToPkcs8Pem()));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("private key does not match"));
  // The CA's key does not match the leaf either.
  EXPECT_FALSE(X509Svid::FromParts(svid.chain(), ca_.root_key()).ok());
}

TEST_F(X509SvidTest, IntermediateWithoutKeyCertSignRejected) {
  PrivateKey mid_key = MustGenerate();
  CertificateTemplate mid_tmpl;
  mid_tmpl.subject = "CN=mid";
  mid_tmpl.not_before = TestNow() - absl::Hours(1);
  mid_tmpl.not_after = TestNow() + absl::Hours(2);
  mid_tmpl.is_ca = true;
  mid_tmpl.key_usage = crypto::kKeyUsageDigitalSignature | crypto::kKeyUsageCrlSign;
  mid_tmpl.uri_sans = {"spiffe://example.org"};
  Certificate mid = MustIssue(mid_tmpl, mid_key.public_key(), &ca_.root(), ca_.root_key());
  Certificate leaf = MustIssue(GoodLeafTemplate(), leaf_key_.public_key(), &mid, mid_key);

  absl::StatusOr<X509Svid> svid = X509Svid::FromParts({leaf, mid}, leaf_key_);
  ASSERT_FALSE(svid.ok());
  EXPECT_THAT(std::string(svid.status().message()),
              HasSubstr("certificate 1 is not a CA with keyCertSign"));
  EXPECT_FALSE(X509Svid::Parse(MustEncode(crypto::ChainToPem({leaf, mid})),
                               MustEncode(leaf_key_.ToPkcs8Pem()))
                   .ok());

  // The same intermediate with keyCertSign is accepted.
  mid_tmpl.key_usage |= crypto::kKeyUsageKeyCertSign;
  Certificate good_mid = MustIssue(mid_tmpl, mid_key.public_key(), &ca_.root(), ca_.root_key());
  Certificate good_leaf = MustIssue(GoodLeafTemplate(), leaf_key_.public_key(), &good_mid, mid_key);
  EXPECT_TRUE(X509Svid::FromParts({good_leaf, good_mid}, leaf_key_).ok());
}

TEST_F(X509SvidTest, NonCaIntermediateRejected) {
  X509Svid other = ca_.MintSvid("/other");
  Certificate leaf = LeafFromTemplate(GoodLeafTemplate());
  absl::StatusOr<X509Svid> svid = X509Svid::FromParts({leaf, other.leaf()}, leaf_key_);
  ASSERT_FALSE(svid.ok());
  EXPECT_THAT(std::string(svid.status().message()), HasSubstr("certificate 1 is not a CA"));
}

TEST_F(X509SvidTest, ParseRejectsUnreadableInput) {
  X509Svid svid = ca_.MintSvid("/workload");
  std::string chain = MustEncode(crypto::ChainToPem(svid.chain()));
  std::string key = MustEncode(svid.key().ToPkcs8Pem());
  for (const auto& [bad_chain, bad_key] : std::vector<std::pair<std::string, std::string>>{
           {"", key},
           {"garbage", key},
           {chain, ""},
           {chain, "garbage"},
           {key, key},
           {chain, chain},
           {chain, MustEncode(svid.key().public_key().ToPem())}}) {
    absl::StatusOr<X509Svid> parsed = X509Svid::Parse(bad_chain, bad_key);
    ASSERT_FALSE(parsed.ok()) << bad_chain << " / " << bad_key;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("x509 svid"));
  }
  EXPECT_FALSE(X509Svid::FromParts({}, svid.key()).ok());
}

// ---------------------------------------------------------------------------------------------
// §2.3 Validating a presented chain.

TEST_F(X509SvidTest, ValidLeaf) {
  X509Svid svid = ca_.MintSvid("/workload");
  X509Verification v = VerifyChain(svid.chain());
  ASSERT_TRUE(v.ok()) << Joined(v.problems);
  EXPECT_EQ(v.id->String(), kLeafId);
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(svid.chain(), bundles_, TestNow());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, MustId(kLeafId));
}

TEST_F(X509SvidTest, ValidViaIntermediate) {
  X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  X509Verification v = VerifyChain(svid.chain());
  ASSERT_TRUE(v.ok()) << Joined(v.problems);
  EXPECT_EQ(v.id->String(), kLeafId);
  // The intermediate is needed: the leaf alone does not chain to the root.
  EXPECT_FALSE(VerifyChain({svid.leaf()}).ok());
}

TEST_F(X509SvidTest, RootInPresentedChainIsHarmless) {
  X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  std::vector<Certificate> chain = svid.chain();
  chain.push_back(ca_.root());
  EXPECT_TRUE(VerifyChain(chain).ok());
}

TEST_F(X509SvidTest, AnyRootOfTheBundleIsAccepted) {
  TestCa next("example.org");
  Bundle bundle = ca_.bundle();
  bundle.AddX509Authority(next.root());
  BundleSet set;
  set.Put(ca_.trust_domain(), bundle);
  EXPECT_TRUE(VerifyX509Svid(ca_.MintSvid("/a").chain(), set, TestNow()).ok());
  EXPECT_TRUE(VerifyX509Svid(next.MintSvid("/b").chain(), set, TestNow()).ok());
}

TEST_F(X509SvidTest, OnlyOtherTrustDomainsBundleIsUntrusted) {
  TestCa b("b.example");
  X509Svid svid = ca_.MintSvid("/workload");
  X509Verification v = VerifyX509SvidChain(svid.chain(), b.bundle_set(), TestNow());
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, ElementsAre("no X.509 authorities for trust domain example.org"));
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(svid.chain(), b.bundle_set(), TestNow());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(X509SvidTest, LeafSignedByAnotherTrustDomainsCaFails) {
  // Trust domain A's leaf, signed by B's root. Both bundles are known, each under its own
  // trust domain: validating against a merged pool would wrongly accept it.
  TestCa a("a.example");
  TestCa b("b.example");
  BundleSet set;
  set.Put(a.trust_domain(), a.bundle());
  set.Put(b.trust_domain(), b.bundle());
  Certificate forged = MustIssue(GoodLeafTemplate("spiffe://a.example/workload"),
                                 leaf_key_.public_key(), &b.root(), b.root_key());

  std::vector<Certificate> leaf_only = {forged};
  X509Verification v = VerifyX509SvidChain(leaf_only, set, TestNow());
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Not(IsEmpty()));
  std::vector<Certificate> with_b_root = {forged, b.root()};
  EXPECT_FALSE(VerifyX509SvidChain(with_b_root, set, TestNow()).ok());

  // Control: the certificate itself is sound; B's authorities would have accepted it.
  std::vector<Certificate> b_anchors = {b.root()};
  EXPECT_THAT(crypto::VerifyCertificateChain(forged, {}, b_anchors, TestNow()), IsEmpty());
  BundleSet misfiled;
  misfiled.Put(a.trust_domain(), b.bundle());
  EXPECT_TRUE(VerifyX509SvidChain(leaf_only, misfiled, TestNow()).ok());
  // And B's own leaves still verify with the two-domain set.
  EXPECT_TRUE(VerifyX509Svid(b.MintSvid("/workload").chain(), set, TestNow()).ok());
}

TEST_F(X509SvidTest, OnlyTheLeafsTrustDomainIsLookedUp) {
  TestCa b("b.example");
  BundleSet set = ca_.bundle_set();
  set.Put(b.trust_domain(), b.bundle());
  RecordingBundleSource source(std::move(set));
  X509Svid svid = ca_.MintSvid("/workload");
  EXPECT_TRUE(VerifyX509Svid(svid.chain(), source, TestNow()).ok());
  EXPECT_THAT(source.requested(), ElementsAre("example.org"));
}

TEST_F(X509SvidTest, EmptyBundleIsUntrusted) {
  BundleSet empty;
  empty.Put(ca_.trust_domain(), Bundle());
  X509Svid svid = ca_.MintSvid("/workload");
  X509Verification v = VerifyX509SvidChain(svid.chain(), empty, TestNow());
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, ElementsAre(HasSubstr("no X.509 authorities")));

  // JWT authorities alone do not make X.509 SVIDs trusted.
  Bundle jwt_only;
  ASSERT_TRUE(
      jwt_only.AddJwtAuthority({ca_.jwt_signer().key_id(), ca_.jwt_signer().public_key()}).ok());
  BundleSet jwt_set;
  jwt_set.Put(ca_.trust_domain(), jwt_only);
  EXPECT_FALSE(VerifyX509SvidChain(svid.chain(), jwt_set, TestNow()).ok());

  EXPECT_FALSE(VerifyX509SvidChain(svid.chain(), BundleSet(), TestNow()).ok());
}

TEST_F(X509SvidTest, ExpiredLeafFails) {
  X509Svid svid = ca_.MintSvid("/workload");  // Valid for one hour.
  X509Verification v = VerifyChain(svid.chain(), TestNow() + absl::Hours(1) + absl::Seconds(1));
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, ElementsAre(HasSubstr("certificate has expired")));
  EXPECT_TRUE(VerifyChain(svid.chain(), TestNow() + absl::Minutes(59)).ok());
}

TEST_F(X509SvidTest, NotYetValidLeafFails) {
  Certificate leaf = IssueLeaf({.id = MustId(kLeafId)}, TestNow() + absl::Hours(2));
  X509Verification v = VerifyChain({leaf});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, ElementsAre(HasSubstr("certificate is not yet valid")));
  // The 10 s backdate tolerates a peer whose clock is slightly behind.
  EXPECT_TRUE(VerifyChain({leaf}, TestNow() + absl::Hours(2) - absl::Seconds(5)).ok());
}

TEST_F(X509SvidTest, ExpiredIntermediateFails) {
  X509Svid svid = ca_.MintSvidViaIntermediate("/workload");
  // The intermediate lives 12 h, the leaf 1 h; at 13 h both have expired.
  X509Verification v = VerifyChain(svid.chain(), TestNow() + absl::Hours(13));
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Contains(HasSubstr("depth 1: certificate has expired")));
}

TEST_F(X509SvidTest, WrongSignatureFails) {
  PrivateKey impostor = MustGenerate();
  Certificate forged = MustIssue(GoodLeafTemplate(), leaf_key_.public_key(), &ca_.root(), impostor);
  X509Verification v = VerifyChain({forged});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Contains(HasSubstr("signature failure")));
}

TEST_F(X509SvidTest, TamperedLeafFails) {
  X509Svid svid = ca_.MintSvid("/workload");
  std::string der = svid.leaf().ToDer();
  der[der.size() - 1] ^= 0x01;  // Inside the signature value.
  absl::StatusOr<Certificate> tampered = Certificate::FromDer(der);
  ASSERT_TRUE(tampered.ok()) << tampered.status();
  X509Verification v = VerifyChain({*tampered});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Contains(HasSubstr("signature failure")));
}

TEST_F(X509SvidTest, CaPresentedAsLeafFails) {
  X509Verification root_as_leaf = VerifyChain({ca_.root()});
  EXPECT_FALSE(root_as_leaf.ok());
  EXPECT_THAT(root_as_leaf.problems, AllOf(Contains("leaf is a CA certificate"),
                                           Contains("leaf key usage has keyCertSign"),
                                           Contains("leaf SPIFFE ID has no path")));

  // An intermediate with a workload-looking SPIFFE ID is still a CA.
  PrivateKey key = MustGenerate();
  CertificateTemplate tmpl = GoodLeafTemplate();
  tmpl.is_ca = true;
  tmpl.key_usage |= crypto::kKeyUsageKeyCertSign;
  tmpl.subject = "CN=ca with path";
  Certificate ca_leaf = MustIssue(tmpl, key.public_key(), &ca_.root(), ca_.root_key());
  X509Verification v = VerifyChain({ca_leaf});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Contains("leaf is a CA certificate"));
}

TEST_F(X509SvidTest, LeafWithTwoUriSansFails) {
  CertificateTemplate tmpl = GoodLeafTemplate();
  tmpl.uri_sans.push_back("spiffe://example.org/admin");
  X509Verification v = VerifyChain({LeafFromTemplate(tmpl)});
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.id, std::nullopt);
  EXPECT_THAT(v.problems, ElementsAre("leaf has 2 URI SANs; need exactly one"));
}

TEST_F(X509SvidTest, EveryBrokenRuleIsReported) {
  CertificateTemplate tmpl = GoodLeafTemplate();
  tmpl.is_ca = true;
  tmpl.key_usage = crypto::kKeyUsageKeyCertSign;  // And no digitalSignature.
  X509Verification v = VerifyChain({LeafFromTemplate(tmpl)});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, SizeIs(::testing::Gt(1u)));
  EXPECT_THAT(v.problems, AllOf(Contains("leaf is a CA certificate"),
                                Contains("leaf key usage has keyCertSign"),
                                Contains("leaf key usage lacks digitalSignature")));
  std::vector<Certificate> chain = {LeafFromTemplate(tmpl)};
  absl::StatusOr<SpiffeId> id = VerifyX509Svid(chain, bundles_, TestNow());
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(std::string(id.status().message()),
              AllOf(HasSubstr("leaf is a CA certificate; "), HasSubstr("keyCertSign"),
                    HasSubstr("digitalSignature")));
}

TEST_F(X509SvidTest, EveryPathProblemIsReported) {
  PrivateKey impostor = MustGenerate();
  Certificate forged = MustIssue(GoodLeafTemplate(), leaf_key_.public_key(), &ca_.root(), impostor);
  X509Verification v = VerifyChain({forged}, TestNow() + absl::Hours(3));
  EXPECT_THAT(v.problems, AllOf(SizeIs(::testing::Gt(1u)), Contains(HasSubstr("expired")),
                                Contains(HasSubstr("signature failure"))));
}

TEST_F(X509SvidTest, NonCaIntermediateInPresentedChainFails) {
  // A leaf "issued" by another leaf of the same trust domain.
  PrivateKey mid_key = MustGenerate();
  CertificateTemplate mid_tmpl = GoodLeafTemplate("spiffe://example.org/mid");
  mid_tmpl.subject = "CN=mid";
  Certificate mid = MustIssue(mid_tmpl, mid_key.public_key(), &ca_.root(), ca_.root_key());
  Certificate leaf = MustIssue(GoodLeafTemplate(), leaf_key_.public_key(), &mid, mid_key);
  X509Verification v = VerifyChain({leaf, mid});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, Contains(HasSubstr("invalid CA certificate")));
}

TEST_F(X509SvidTest, EmptyChainFails) {
  X509Verification v = VerifyChain({});
  EXPECT_FALSE(v.ok());
  EXPECT_THAT(v.problems, ElementsAre("no certificate presented"));
  EXPECT_FALSE(VerifyX509Svid({}, bundles_, TestNow()).ok());
}

TEST(X509VerificationTest, OkNeedsAnIdAndNoProblems) {
  X509Verification v;
  EXPECT_FALSE(v.ok());
  v.id = MustId(kLeafId);
  EXPECT_TRUE(v.ok());
  v.problems.push_back("x");
  EXPECT_FALSE(v.ok());
}

}  // namespace
}  // namespace signet::spiffe
