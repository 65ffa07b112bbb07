// Interop of Signet's JWT-SVIDs with an independent JOSE implementation: PyJWT (Debian's
// python3-jwt with python3-cryptography), driven through tests/interop/pyjwt_tool.py by the
// system python. Signet-minted tokens must verify in PyJWT against the JWKS Signet exports, and
// PyJWT-minted tokens must validate in Signet; the negative cases show that either side can say no.
//
// PyJWT checks exp against the real clock and has no way to inject one, so these tests (unlike the
// unit tests) mint and validate at absl::Now().
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/spiffe_id.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::testing::MustEncode;
using spiffe::JwtAlgorithm;
using ::testing::HasSubstr;

constexpr char kSystemPython[] = SYSTEM_PYTHON;
constexpr char kPyJwtTool[] = PYJWT_TOOL;
constexpr char kTrustDomain[] = "example.org";
constexpr char kSubject[] = "spiffe://example.org/interop/workload";
constexpr char kAudience[] = "spiffe://example.org/interop/backend";

template <typename T>
T Must(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::cerr << "jwt_interop_test fixture: " << value.status() << "\n";
    std::abort();
  }
  return *std::move(value);
}

// Single-quotes `s` for /bin/sh.
std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

struct ToolResult {
  int exit_code;
  std::string output;  // stdout and stderr, trailing whitespace removed.
};

ToolResult RunTool(const std::vector<std::string>& args) {
  std::string command = absl::StrCat(kSystemPython, " ", ShellQuote(kPyJwtTool));
  for (const std::string& arg : args) {
    absl::StrAppend(&command, " ", ShellQuote(arg));
  }
  ToolResult result;
  result.exit_code = signet::testing::RunCommand(command, &result.output);
  result.output = std::string(absl::StripTrailingAsciiWhitespace(result.output));
  return result;
}

crypto::PrivateKey GenerateP521() {
  crypto::EvpPkeyPtr pkey(EVP_EC_gen("P-521"));
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (pkey == nullptr || bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::cerr << "jwt_interop_test fixture: cannot generate a P-521 key\n";
    std::abort();
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);  // NOLINT(runtime/int): OpenSSL's type.
  return Must(crypto::PrivateKey::FromPem(absl::string_view(data, static_cast<size_t>(size))));
}

crypto::PrivateKey GenerateKey(std::optional<crypto::KeyType> type) {
  return type.has_value() ? Must(crypto::PrivateKey::Generate(*type)) : GenerateP521();
}

struct InteropCase {
  const char* alg_name;
  std::optional<crypto::KeyType> key_type;  // nullopt: P-521.
  JwtAlgorithm alg;
};

// One trust domain whose bundle holds the signing key under "kid-<alg>" plus a decoy key of the
// same type, exported as a SPIFFE bundle document for PyJWT.
class JwtInteropTest : public ::testing::TestWithParam<InteropCase> {
 protected:
  JwtInteropTest()
      : key_(GenerateKey(GetParam().key_type)),
        other_key_(GenerateKey(GetParam().key_type)),
        kid_(absl::StrCat("kid-", GetParam().alg_name)),
        signer_(Must(spiffe::JwtSigner::Create(key_, kid_, GetParam().alg))),
        td_(Must(spiffe::TrustDomain::Parse(kTrustDomain))) {}

  void SetUp() override {
    // A missing PyJWT must fail the suite, not skip it: CI relies on these tests running.
    ToolResult probe = RunTool({"--help"});
    ASSERT_EQ(probe.exit_code, 0) << kSystemPython << " cannot run " << kPyJwtTool
                                  << " (bootstrap installs python3-jwt and python3-cryptography): "
                                  << probe.output;
    spiffe::Bundle bundle;
    ASSERT_TRUE(bundle.AddJwtAuthority({"decoy", other_key_.public_key()}).ok());
    ASSERT_TRUE(bundle.AddJwtAuthority({kid_, key_.public_key()}).ok());
    bundles_.Put(td_, bundle);
    jwks_path_ = dir_.File("bundle.json");
    signet::testing::WriteTestFile(
        jwks_path_, MustEncode(spiffe::ToSpiffeBundleJson(bundle, spiffe::BundleKeys::kJwtOnly)));
  }

  std::string MintWithSignet(const std::string& audience) const {
    spiffe::JwtSvidParams params = {.subject = Must(spiffe::SpiffeId::Parse(kSubject)),
                                    .audience = {audience},
                                    .issued_at = absl::Now()};
    return Must(signer_.Mint(params));
  }

  ToolResult VerifyWithPyJwt(const std::string& token, const std::string& audience) const {
    return RunTool({"verify", "--jwks", jwks_path_, "--audience", audience, "--token", token,
                    "--alg", GetParam().alg_name});
  }

  // Mints with PyJWT using `key` (written as PKCS#8 PEM) under `kid`.
  std::string MintWithPyJwt(const crypto::PrivateKey& key, const std::string& kid,
                            int exp_offset_seconds = 300) const {
    std::string key_path = dir_.File("key.pem");
    signet::testing::WriteTestFile(key_path, MustEncode(key.ToPkcs8Pem()));
    ToolResult minted =
        RunTool({"mint", "--key", key_path, "--kid", kid, "--alg", GetParam().alg_name, "--sub",
                 kSubject, "--aud", kAudience, "--exp-offset", absl::StrCat(exp_offset_seconds)});
    EXPECT_EQ(minted.exit_code, 0) << minted.output;
    return minted.output;
  }

  absl::StatusOr<spiffe::JwtSvid> ValidateWithSignet(const std::string& token) const {
    return spiffe::ValidateJwtSvid(token, bundles_, {.audience = kAudience, .now = absl::Now()});
  }

  signet::testing::TempDir dir_;
  crypto::PrivateKey key_;
  crypto::PrivateKey other_key_;  // In the bundle as "decoy"; never under kid_.
  std::string kid_;
  spiffe::JwtSigner signer_;
  spiffe::TrustDomain td_;
  spiffe::BundleSet bundles_;
  std::string jwks_path_;
};

TEST(PyJwtAvailabilityTest, SystemPythonImportsJwtAndCryptography) {
  std::string output;
  int rc = signet::testing::RunCommand(
      absl::StrCat(kSystemPython, " -c 'import jwt, cryptography; print(jwt.__version__)'"),
      &output);
  ASSERT_EQ(rc, 0) << kSystemPython
                   << " cannot import jwt and cryptography; bootstrap installs python3-jwt and "
                      "python3-cryptography: "
                   << output;
}

TEST_P(JwtInteropTest, SignetTokenVerifiesInPyJwt) {
  ToolResult verified = VerifyWithPyJwt(MintWithSignet(kAudience), kAudience);
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_EQ(verified.output, kSubject);
}

TEST_P(JwtInteropTest, PyJwtTokenValidatesInSignet) {
  std::string token = MintWithPyJwt(key_, kid_);
  absl::StatusOr<spiffe::UnverifiedJwt> decoded = spiffe::DecodeJwtUnverified(token);
  ASSERT_TRUE(decoded.ok()) << decoded.status() << ": " << token;
  EXPECT_EQ(decoded->header["alg"], GetParam().alg_name);

  absl::StatusOr<spiffe::JwtSvid> svid = ValidateWithSignet(token);
  ASSERT_TRUE(svid.ok()) << svid.status() << ": " << token;
  EXPECT_EQ(svid->id.String(), kSubject);
  EXPECT_EQ(svid->algorithm, GetParam().alg);
  EXPECT_EQ(svid->key_id, kid_);
  EXPECT_EQ(svid->audience, (std::vector<std::string>{kAudience}));
}

TEST_P(JwtInteropTest, PyJwtRejectsSignetTokenForAnotherAudience) {
  ToolResult verified =
      VerifyWithPyJwt(MintWithSignet("spiffe://example.org/someone-else"), kAudience);
  EXPECT_EQ(verified.exit_code, 1) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("InvalidAudienceError"));
}

TEST_P(JwtInteropTest, PyJwtRejectsSignetTokenFromKeyNotInJwks) {
  // Same kid, different key of the same type.
  spiffe::JwtSigner impostor = Must(spiffe::JwtSigner::Create(other_key_, kid_, GetParam().alg));
  std::string token = Must(impostor.Mint({.subject = Must(spiffe::SpiffeId::Parse(kSubject)),
                                          .audience = {kAudience},
                                          .issued_at = absl::Now()}));
  ToolResult verified = VerifyWithPyJwt(token, kAudience);
  EXPECT_EQ(verified.exit_code, 1) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("InvalidSignatureError"));
}

TEST_P(JwtInteropTest, SignetRejectsExpiredPyJwtToken) {
  std::string token = MintWithPyJwt(key_, kid_, /*exp_offset_seconds=*/-3600);
  absl::StatusOr<spiffe::JwtSvid> svid = ValidateWithSignet(token);
  ASSERT_FALSE(svid.ok()) << token;
  EXPECT_EQ(svid.status().code(), absl::StatusCode::kUnauthenticated) << svid.status();
  EXPECT_THAT(svid.status().message(), HasSubstr("expired"));
}

TEST_P(JwtInteropTest, SignetRejectsPyJwtTokenFromKeyNotInBundle) {
  crypto::PrivateKey stranger = GenerateKey(GetParam().key_type);
  for (const std::string& token :
       {MintWithPyJwt(stranger, kid_), MintWithPyJwt(stranger, "unknown-kid")}) {
    SCOPED_TRACE(token);
    absl::StatusOr<spiffe::JwtSvid> svid = ValidateWithSignet(token);
    ASSERT_FALSE(svid.ok());
    EXPECT_EQ(svid.status().code(), absl::StatusCode::kUnauthenticated) << svid.status();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Algorithms, JwtInteropTest,
    ::testing::Values(InteropCase{"ES256", crypto::KeyType::kEcP256, JwtAlgorithm::kES256},
                      InteropCase{"ES384", crypto::KeyType::kEcP384, JwtAlgorithm::kES384},
                      InteropCase{"ES512", std::nullopt, JwtAlgorithm::kES512},
                      InteropCase{"RS256", crypto::KeyType::kRsa2048, JwtAlgorithm::kRS256},
                      InteropCase{"PS256", crypto::KeyType::kRsa2048, JwtAlgorithm::kPS256}),
    [](const ::testing::TestParamInfo<InteropCase>& info) { return info.param.alg_name; });

}  // namespace
}  // namespace signet
