// Interop with the openssl command-line tool, an independent X.509 implementation: what Signet
// issues must pass `openssl verify -x509_strict` for TLS client and server use, and what openssl
// issues following the SPIFFE rules must pass Signet's parsing and validation.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/file_util.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::crypto::Certificate;
using ::signet::crypto::KeyType;
using ::signet::crypto::PrivateKey;
using ::signet::testing::MustEncode;
using ::signet::testing::RunCommand;
using ::signet::testing::TempDir;
using ::signet::testing::TestCa;
using ::signet::testing::TestNow;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kOpenssl = OPENSSL_CLI;

std::string Quote(absl::string_view s) { return absl::StrCat("'", s, "'"); }

// Runs `openssl <args>`; returns the exit status and stores stdout+stderr in `*output`.
int Openssl(absl::string_view args, std::string* output) {
  return RunCommand(absl::StrCat(Quote(kOpenssl), " ", args), output);
}

// `-attime` for TestNow()-based certificates, offset by `delta`.
std::string AtTime(absl::Duration delta = absl::ZeroDuration()) {
  return absl::StrCat("-attime ", absl::ToUnixSeconds(TestNow() + delta));
}

std::string KeyTypeLabel(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "EcP256";
    case KeyType::kEcP384:
      return "EcP384";
    case KeyType::kRsa2048:
      return "Rsa2048";
  }
  return "Unknown";
}

std::string MustRead(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path);
  EXPECT_TRUE(data.ok()) << data.status();
  return data.ok() ? *data : std::string();
}

// Writes Signet's certificates to files and runs `openssl verify` on them.
class OpensslVerifyHarness : public ::testing::Test {
 protected:
  // Writes the trust domain's X.509 authorities as bundle.pem and returns its path.
  std::string WriteBundle(const TestCa& ca) {
    std::string path = dir_.File("bundle.pem");
    WriteTestFile(path, MustEncode(spiffe::X509AuthoritiesToPem(ca.bundle())));
    return path;
  }

  std::string WritePem(const std::string& name, const std::vector<Certificate>& certs) {
    std::string path = dir_.File(name);
    WriteTestFile(path, MustEncode(crypto::ChainToPem(certs)));
    return path;
  }

  // `openssl verify -x509_strict` of `leaf` against `bundle` for `purpose`.
  int Verify(const std::string& bundle, const std::string& leaf, absl::string_view purpose,
             const std::string& extra, std::string* output) {
    return Openssl(absl::StrCat("verify -x509_strict ", extra, " -CAfile ", Quote(bundle),
                                " -purpose ", purpose, " ", Quote(leaf)),
                   output);
  }

  TempDir dir_;
};

class SignetToOpensslTest : public OpensslVerifyHarness,
                            public ::testing::WithParamInterface<KeyType> {};

TEST_P(SignetToOpensslTest, LeafVerifiesForClientAndServer) {
  TestCa ca("example.org", GetParam());
  spiffe::X509Svid svid = ca.MintSvid("/workload", GetParam());
  std::string bundle = WriteBundle(ca);
  std::string leaf = WritePem("svid.pem", svid.chain());
  for (absl::string_view purpose : {"sslclient", "sslserver"}) {
    std::string out;
    EXPECT_EQ(Verify(bundle, leaf, purpose, AtTime(), &out), 0) << purpose << ": " << out;
    EXPECT_THAT(out, HasSubstr("svid.pem: OK")) << purpose;
  }
}

TEST_P(SignetToOpensslTest, LeafVerifiesViaIntermediate) {
  TestCa ca("example.org", GetParam());
  absl::StatusOr<PrivateKey> mid_key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(mid_key.ok()) << mid_key.status();
  absl::StatusOr<Certificate> mid = spiffe::IssueCaCertificate(
      {.trust_domain = ca.trust_domain(), .subject = "O=Signet Test,CN=intermediate"},
      mid_key->public_key(), &ca.root(), ca.root_key(), TestNow());
  ASSERT_TRUE(mid.ok()) << mid.status();
  absl::StatusOr<PrivateKey> leaf_key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(leaf_key.ok()) << leaf_key.status();
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse("spiffe://example.org/workload");
  ASSERT_TRUE(id.ok()) << id.status();
  absl::StatusOr<Certificate> leaf =
      spiffe::IssueLeafSvid({.id = *id}, leaf_key->public_key(), *mid, *mid_key, TestNow());
  ASSERT_TRUE(leaf.ok()) << leaf.status();

  std::string bundle = WriteBundle(ca);
  std::string leaf_path = WritePem("svid.pem", {*leaf});
  std::string untrusted =
      absl::StrCat(AtTime(), " -untrusted ", Quote(WritePem("intermediates.pem", {*mid})));
  for (absl::string_view purpose : {"sslclient", "sslserver"}) {
    std::string out;
    EXPECT_EQ(Verify(bundle, leaf_path, purpose, untrusted, &out), 0) << purpose << ": " << out;
    EXPECT_THAT(out, HasSubstr("svid.pem: OK")) << purpose;
  }
  // Without the intermediate there is no path to the root.
  std::string out;
  EXPECT_NE(Verify(bundle, leaf_path, "sslclient", AtTime(), &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(": OK")));
}

TEST_P(SignetToOpensslTest, OpensslReadsOurKeys) {
  TestCa ca("example.org", GetParam());
  spiffe::X509Svid svid = ca.MintSvid("/workload", GetParam());
  std::string pem = dir_.File("key.pem");
  WriteTestFile(pem, MustEncode(svid.key().ToPkcs8Pem()));
  std::string out;
  EXPECT_EQ(Openssl(absl::StrCat("pkey -in ", Quote(pem), " -noout"), &out), 0) << out;

  std::string der = dir_.File("key.der");
  WriteTestFile(der, MustEncode(svid.key().ToPkcs8Der()));
  EXPECT_EQ(Openssl(absl::StrCat("pkey -inform DER -in ", Quote(der), " -noout"), &out), 0) << out;

  // The public half openssl derives from the key is the one in the certificate.
  std::string pub;
  ASSERT_EQ(Openssl(absl::StrCat("pkey -in ", Quote(pem), " -pubout"), &pub), 0) << pub;
  EXPECT_EQ(pub, MustEncode(svid.leaf().public_key().ToPem()));
}

TEST_P(SignetToOpensslTest, OpensslShowsTheSpiffeExtensions) {
  TestCa ca("example.org", GetParam());
  spiffe::X509Svid svid = ca.MintSvid("/workload", GetParam());
  std::string leaf = WritePem("svid.pem", svid.chain());
  std::string san;
  ASSERT_EQ(Openssl(absl::StrCat("x509 -in ", Quote(leaf), " -noout -ext subjectAltName"), &san), 0)
      << san;
  EXPECT_THAT(san, HasSubstr("URI:spiffe://example.org/workload"));
  EXPECT_THAT(san, HasSubstr("critical"));  // The subject is empty.

  std::string ext;
  ASSERT_EQ(Openssl(absl::StrCat("x509 -in ", Quote(leaf),
                                 " -noout -ext basicConstraints,keyUsage,extendedKeyUsage"),
                    &ext),
            0)
      << ext;
  EXPECT_THAT(ext, HasSubstr("CA:FALSE"));
  EXPECT_THAT(ext, HasSubstr("Digital Signature"));
  EXPECT_THAT(ext, Not(HasSubstr("Certificate Sign")));
  EXPECT_THAT(ext, HasSubstr("TLS Web Server Authentication"));
  EXPECT_THAT(ext, HasSubstr("TLS Web Client Authentication"));

  std::string root_ext;
  std::string root = WritePem("root.pem", {ca.root()});
  ASSERT_EQ(Openssl(absl::StrCat("x509 -in ", Quote(root),
                                 " -noout -ext basicConstraints,keyUsage,subjectAltName"),
                    &root_ext),
            0)
      << root_ext;
  EXPECT_THAT(root_ext, HasSubstr("CA:TRUE"));
  EXPECT_THAT(root_ext, HasSubstr("Certificate Sign"));
  EXPECT_THAT(root_ext, HasSubstr("URI:spiffe://example.org\n"));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, SignetToOpensslTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           return KeyTypeLabel(info.param);
                         });

// The negative cases show that the harness can fail: openssl really checks what we hand it.
using SignetToOpensslNegativeTest = OpensslVerifyHarness;

TEST_F(SignetToOpensslNegativeTest, LeafFromAnotherCaFails) {
  TestCa trusted("example.org");
  TestCa other("example.org");
  std::string bundle = WriteBundle(trusted);
  std::string leaf = WritePem("svid.pem", other.MintSvid("/workload").chain());
  std::string out;
  EXPECT_NE(Verify(bundle, leaf, "sslclient", AtTime(), &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(": OK")));
  EXPECT_THAT(out, HasSubstr("unable to get local issuer certificate"));
}

TEST_F(SignetToOpensslNegativeTest, ExpiredLeafFails) {
  TestCa ca("example.org");
  std::string bundle = WriteBundle(ca);
  std::string leaf = WritePem("svid.pem", ca.MintSvid("/workload").chain());  // Lives 1 h.
  std::string out;
  ASSERT_EQ(Verify(bundle, leaf, "sslclient", AtTime(absl::Minutes(59)), &out), 0) << out;
  EXPECT_NE(Verify(bundle, leaf, "sslclient", AtTime(absl::Hours(2)), &out), 0) << out;
  EXPECT_THAT(out, Not(HasSubstr(": OK")));
  EXPECT_THAT(out, HasSubstr("certificate has expired"));
}

TEST_F(SignetToOpensslNegativeTest, NotYetValidLeafFails) {
  TestCa ca("example.org");
  std::string bundle = WriteBundle(ca);
  std::string leaf = WritePem("svid.pem", ca.MintSvid("/workload").chain());
  std::string out;
  EXPECT_NE(Verify(bundle, leaf, "sslclient", AtTime(-absl::Minutes(1)), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("not yet valid"));
}

// ---------------------------------------------------------------------------------------------
// openssl-issued certificates, checked by Signet.

constexpr absl::string_view kOpensslConfig = R"([req]
distinguished_name = dn
prompt = no
[dn]
O = Interop
CN = interop ca
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = URI:spiffe://interop.example
[leaf_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = URI:spiffe://interop.example/workload,DNS:workload.interop.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf_without_uri_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:workload.interop.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
)";

std::string NewKeyArgs(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "-newkey ec -pkeyopt ec_paramgen_curve:P-256";
    case KeyType::kEcP384:
      return "-newkey ec -pkeyopt ec_paramgen_curve:P-384";
    case KeyType::kRsa2048:
      return "-newkey rsa:2048";
  }
  return "";
}

class OpensslToSignetTest : public ::testing::TestWithParam<KeyType> {
 protected:
  void SetUp() override {
    config_ = dir_.File("openssl.cnf");
    WriteTestFile(config_, std::string(kOpensslConfig));
    std::string out;
    ASSERT_EQ(
        Openssl(absl::StrCat("req -x509 -config ", Quote(config_), " -extensions ca_ext ",
                             NewKeyArgs(GetParam()), " -nodes -keyout ", Quote(dir_.File("ca.key")),
                             " -out ", Quote(dir_.File("ca.pem")), " -days 2"),
                &out),
        0)
        << out;
    absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParsePemBundle(MustRead(dir_.File("ca.pem")));
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    absl::StatusOr<spiffe::TrustDomain> td = spiffe::TrustDomain::Parse("interop.example");
    ASSERT_TRUE(td.ok()) << td.status();
    bundles_.Put(*td, *bundle);
  }

  // Issues a leaf with the extensions section `section`; writes leaf.pem and leaf.key.
  void IssueLeaf(absl::string_view section) {
    std::string out;
    ASSERT_EQ(Openssl(absl::StrCat("req -new -config ", Quote(config_), " ", NewKeyArgs(GetParam()),
                                   " -nodes -keyout ", Quote(dir_.File("leaf.key")), " -out ",
                                   Quote(dir_.File("leaf.csr")), " -subj /O=Interop/CN=workload"),
                      &out),
              0)
        << out;
    ASSERT_EQ(
        Openssl(absl::StrCat("x509 -req -in ", Quote(dir_.File("leaf.csr")), " -CA ",
                             Quote(dir_.File("ca.pem")), " -CAkey ", Quote(dir_.File("ca.key")),
                             " -extfile ", Quote(config_), " -extensions ", section,
                             " -days 1 -out ", Quote(dir_.File("leaf.pem"))),
                &out),
        0)
        << out;
  }

  TempDir dir_;
  std::string config_;
  spiffe::BundleSet bundles_;
};

TEST_P(OpensslToSignetTest, SpiffeLeafAccepted) {
  ASSERT_NO_FATAL_FAILURE(IssueLeaf("leaf_ext"));
  std::string key_pem = MustRead(dir_.File("leaf.key"));
  ASSERT_THAT(key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  absl::StatusOr<spiffe::X509Svid> svid =
      spiffe::X509Svid::Parse(MustRead(dir_.File("leaf.pem")), key_pem);
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_EQ(svid->id().String(), "spiffe://interop.example/workload");
  EXPECT_THAT(svid->leaf().DnsSans(), ::testing::ElementsAre("workload.interop.example"));

  absl::StatusOr<spiffe::SpiffeId> id =
      spiffe::VerifyX509Svid(svid->chain(), bundles_, absl::Now());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->String(), "spiffe://interop.example/workload");

  // The root openssl made is itself never accepted as an SVID.
  EXPECT_FALSE(spiffe::VerifyX509Svid(bundles_.bundles().begin()->second->x509_authorities(),
                                      bundles_, absl::Now())
                   .ok());
}

TEST_P(OpensslToSignetTest, DerEncodingsAccepted) {
  ASSERT_NO_FATAL_FAILURE(IssueLeaf("leaf_ext"));
  std::string out;
  ASSERT_EQ(Openssl(absl::StrCat("x509 -in ", Quote(dir_.File("leaf.pem")), " -outform DER -out ",
                                 Quote(dir_.File("leaf.der"))),
                    &out),
            0)
      << out;
  ASSERT_EQ(Openssl(absl::StrCat("pkey -in ", Quote(dir_.File("leaf.key")), " -outform DER -out ",
                                 Quote(dir_.File("key.der"))),
                    &out),
            0)
      << out;
  absl::StatusOr<spiffe::X509Svid> svid =
      spiffe::X509Svid::Parse(MustRead(dir_.File("leaf.der")), MustRead(dir_.File("key.der")));
  ASSERT_TRUE(svid.ok()) << svid.status();
  EXPECT_TRUE(spiffe::VerifyX509Svid(svid->chain(), bundles_, absl::Now()).ok());
}

TEST_P(OpensslToSignetTest, LeafWithoutUriSanRejected) {
  ASSERT_NO_FATAL_FAILURE(IssueLeaf("leaf_without_uri_ext"));
  std::string chain = MustRead(dir_.File("leaf.pem"));
  absl::StatusOr<spiffe::X509Svid> svid =
      spiffe::X509Svid::Parse(chain, MustRead(dir_.File("leaf.key")));
  ASSERT_FALSE(svid.ok());
  EXPECT_THAT(std::string(svid.status().message()), HasSubstr("0 URI SANs"));

  absl::StatusOr<std::vector<Certificate>> certs = crypto::ParseChain(chain);
  ASSERT_TRUE(certs.ok()) << certs.status();
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::VerifyX509Svid(*certs, bundles_, absl::Now());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_P(OpensslToSignetTest, OtherCaForSameTrustDomainRejected) {
  ASSERT_NO_FATAL_FAILURE(IssueLeaf("leaf_ext"));
  TestCa impostor("interop.example", GetParam(), absl::Now());
  absl::StatusOr<std::vector<Certificate>> certs =
      crypto::ParseChain(MustRead(dir_.File("leaf.pem")));
  ASSERT_TRUE(certs.ok()) << certs.status();
  EXPECT_FALSE(spiffe::VerifyX509Svid(*certs, impostor.bundle_set(), absl::Now()).ok());
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, OpensslToSignetTest,
                         ::testing::Values(KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048),
                         [](const ::testing::TestParamInfo<KeyType>& info) {
                           return KeyTypeLabel(info.param);
                         });

}  // namespace
}  // namespace signet
