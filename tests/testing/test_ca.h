// Test fixtures: a throwaway trust domain with a root CA, leaf minting and a JWT signer, and a
// temporary directory that is removed on destruction.
#ifndef SIGNET_TESTS_TESTING_TEST_CA_H_
#define SIGNET_TESTS_TESTING_TEST_CA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace signet::testing {

// A fixed instant used as "now" by tests that do not care about the real time.
absl::Time TestNow();

// Generates a key of `type`; a failure is reported as a test failure.
crypto::PrivateKey MustGenerate(crypto::KeyType type = crypto::KeyType::kEcP256);

// An EC P-256 key object that holds the group but no public point. It passes the key policy yet
// cannot be encoded: encoders must report that rather than produce empty or zero output.
crypto::PublicKey EcPublicKeyWithoutPoint();

// The output of an encoder (ToPem, ToPkcs8Pem, ToSpiffeBundleJson, ...); aborts the test binary
// if it failed.
std::string MustEncode(absl::StatusOr<std::string> encoded);

// A root CA (and JWT signer) for one trust domain. Aborts the test binary on setup failure.
class TestCa {
 public:
  explicit TestCa(const std::string& trust_domain,
                  crypto::KeyType key_type = crypto::KeyType::kEcP256, absl::Time now = TestNow());

  const spiffe::TrustDomain& trust_domain() const { return td_; }
  const crypto::Certificate& root() const { return root_; }
  const crypto::PrivateKey& root_key() const { return root_key_; }
  const spiffe::JwtSigner& jwt_signer() const { return jwt_signer_; }

  // A bundle with the root as X.509 authority and the JWT signer's key under its kid.
  spiffe::Bundle bundle() const;
  // A BundleSet holding only this trust domain's bundle.
  spiffe::BundleSet bundle_set() const;

  // Mints a leaf SVID for `path` (e.g. "/workload") with a fresh key of `key_type`.
  spiffe::X509Svid MintSvid(const std::string& path,
                            crypto::KeyType key_type = crypto::KeyType::kEcP256,
                            absl::Duration ttl = absl::Hours(1)) const;
  // Mints an intermediate CA below the root and a leaf below it; chain = {leaf, intermediate}.
  spiffe::X509Svid MintSvidViaIntermediate(const std::string& path) const;

  // Mints a JWT-SVID for `path` with the given audience.
  std::string MintJwt(const std::string& path, const std::vector<std::string>& audience,
                      absl::Duration ttl = absl::Minutes(5)) const;

  absl::Time now() const { return now_; }

 private:
  spiffe::TrustDomain td_;
  absl::Time now_;
  crypto::PrivateKey root_key_;
  crypto::Certificate root_;
  spiffe::JwtSigner jwt_signer_;
};

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

// Writes `data` to `path` (mode 0644), aborting on failure.
void WriteTestFile(const std::string& path, const std::string& data);

// Runs `command` through /bin/sh, returns its exit status and captures stdout+stderr into
// `*output` if given.
int RunCommand(const std::string& command, std::string* output = nullptr);

}  // namespace signet::testing

#endif  // SIGNET_TESTS_TESTING_TEST_CA_H_
