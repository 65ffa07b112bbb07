// X509-SVIDs (spiffe-conformance.md §2): issuing leaf and signing certificates that follow the
// SPIFFE rules, parsing an SVID with its key, and validating a presented chain against only the
// bundle of the leaf's trust domain.
#ifndef SIGNET_SPIFFE_X509_SVID_H_
#define SIGNET_SPIFFE_X509_SVID_H_

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::spiffe {

// How far NotBefore is set before the issuing time, to tolerate clock skew between peers.
inline constexpr absl::Duration kX509Backdate = absl::Seconds(10);

struct LeafParams {
  SpiffeId id;  // Must have a non-empty path.
  std::vector<std::string> dns_names;
  absl::Duration ttl = absl::Hours(1);
  std::string subject;  // Optional; empty makes the SAN extension critical.
};

// Issues a leaf X509-SVID (§2.1) for `subject_key`, signed by `issuer`/`issuer_key`. The
// validity ends at now + ttl or at the issuer's NotAfter, whichever is earlier. Fails with
// InvalidArgument when the ID is a trust-domain ID, belongs to another trust domain than the
// issuer's SPIFFE ID, or a DNS name is malformed; with FailedPrecondition when the issuer has
// already expired.
absl::StatusOr<crypto::Certificate> IssueLeafSvid(const LeafParams& params,
                                                  const crypto::PublicKey& subject_key,
                                                  const crypto::Certificate& issuer,
                                                  const crypto::PrivateKey& issuer_key,
                                                  absl::Time now);

struct CaParams {
  TrustDomain trust_domain;  // The certificate's URI SAN is the trust-domain ID.
  std::string subject;       // e.g. "O=Signet,CN=example.org"; required for a CA.
  absl::Duration ttl = absl::Hours(24);
  std::optional<int> path_len;
};

// Issues a signing certificate (§2.2). With `issuer` == nullptr it is a self-signed root signed
// by `issuer_key` (which must then be the key of `subject_key`).
absl::StatusOr<crypto::Certificate> IssueCaCertificate(const CaParams& params,
                                                       const crypto::PublicKey& subject_key,
                                                       const crypto::Certificate* issuer,
                                                       const crypto::PrivateKey& issuer_key,
                                                       absl::Time now);

// Checks the rules a leaf SVID must meet (§2.3 steps 2–3, and what the common client checks):
// exactly one URI SAN that is a SPIFFE ID with a path, not a CA, digitalSignature set, neither
// keyCertSign nor cRLSign. Returns every problem; empty means the leaf is acceptable. On success
// `*id` (if given) receives the SPIFFE ID.
std::vector<std::string> CheckLeafRules(const crypto::Certificate& leaf,
                                        std::optional<SpiffeId>* id = nullptr);

// An X509-SVID held by its owner: the chain (leaf first) and the leaf's private key.
class X509Svid {
 public:
  // `chain` is DER (concatenated) or PEM; `key` is PKCS#8 DER or PEM. Fails when the leaf breaks
  // a rule of CheckLeafRules, an intermediate is not a CA with keyCertSign, or the key does not
  // match the leaf.
  static absl::StatusOr<X509Svid> Parse(absl::string_view chain, absl::string_view key);
  static absl::StatusOr<X509Svid> FromParts(std::vector<crypto::Certificate> chain,
                                            crypto::PrivateKey key);

  const SpiffeId& id() const { return id_; }
  const crypto::Certificate& leaf() const { return chain_.front(); }
  const std::vector<crypto::Certificate>& chain() const { return chain_; }
  const crypto::PrivateKey& key() const { return key_; }

 private:
  X509Svid(SpiffeId id, std::vector<crypto::Certificate> chain, crypto::PrivateKey key)
      : id_(std::move(id)), chain_(std::move(chain)), key_(std::move(key)) {}
  SpiffeId id_;
  std::vector<crypto::Certificate> chain_;
  crypto::PrivateKey key_;
};

// The outcome of validating a presented chain: the SPIFFE ID when valid, else every problem.
struct X509Verification {
  std::optional<SpiffeId> id;
  std::vector<std::string> problems;
  bool ok() const { return problems.empty() && id.has_value(); }
};

// Validates a presented chain (leaf first) per §2.3 at time `now`: leaf rules, then RFC 5280 path
// validation against the X.509 authorities of the leaf's trust domain only.
X509Verification VerifyX509SvidChain(std::span<const crypto::Certificate> chain,
                                     const BundleSource& bundles, absl::Time now);

// Same, as a status: Unauthenticated with all problems joined by "; ".
absl::StatusOr<SpiffeId> VerifyX509Svid(std::span<const crypto::Certificate> chain,
                                        const BundleSource& bundles, absl::Time now);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_X509_SVID_H_
