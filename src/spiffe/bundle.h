// SPIFFE trust bundles (spiffe-conformance.md §4): the X.509 and JWT authorities of one trust
// domain, their JWKS document form, PEM form, and sets of bundles keyed by trust domain.
//
// A Bundle does not know its trust domain: it is always held next to one (BundleSet, or the
// caller's own pair). Bundle is a value type; BundleSet is thread-compatible (wrap it in a
// snapshot for concurrent readers).
#ifndef SIGNET_SPIFFE_BUNDLE_H_
#define SIGNET_SPIFFE_BUNDLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::spiffe {

struct JwtAuthority {
  std::string key_id;
  crypto::PublicKey key;
};

class Bundle {
 public:
  const std::vector<crypto::Certificate>& x509_authorities() const { return x509_authorities_; }
  const std::vector<JwtAuthority>& jwt_authorities() const { return jwt_authorities_; }
  // nullptr when no JWT authority has `key_id`.
  const JwtAuthority* FindJwtAuthority(absl::string_view key_id) const;

  // Adds `cert` unless an identical certificate is already present.
  void AddX509Authority(crypto::Certificate cert);
  // Fails with AlreadyExists when `authority.key_id` is taken, InvalidArgument when it is empty
  // or not valid UTF-8.
  absl::Status AddJwtAuthority(JwtAuthority authority);
  bool RemoveX509Authority(const crypto::Certificate& cert);
  bool RemoveJwtAuthority(absl::string_view key_id);

  std::optional<uint64_t> sequence() const { return sequence_; }
  void set_sequence(uint64_t s) { sequence_ = s; }
  std::optional<uint64_t> refresh_hint_seconds() const { return refresh_hint_seconds_; }
  void set_refresh_hint_seconds(uint64_t s) { refresh_hint_seconds_ = s; }

  // True when there is no authority of either kind: every SVID of the trust domain is invalid.
  bool empty() const { return x509_authorities_.empty() && jwt_authorities_.empty(); }

 private:
  std::vector<crypto::Certificate> x509_authorities_;
  std::vector<JwtAuthority> jwt_authorities_;
  std::optional<uint64_t> sequence_;
  std::optional<uint64_t> refresh_hint_seconds_;
};

// What to include when encoding a bundle as a JWKS document.
enum class BundleKeys { kAll, kX509Only, kJwtOnly };

// Parses a SPIFFE bundle document (a JWK Set). Keys with an unknown `kty` or a missing or
// unknown `use`, and x509-svid keys without `x5c`, are ignored; every other defect is an error
// naming the key index and member. The `x5c` certificate of an x509-svid key must be a CA with
// keyCertSign.
absl::StatusOr<Bundle> ParseSpiffeBundle(absl::string_view json);
// Encodes a bundle document, members in a stable order, pretty-printed with two spaces. Never
// throws; fails with Internal only when OpenSSL cannot export a key.
absl::StatusOr<std::string> ToSpiffeBundleJson(const Bundle& bundle,
                                               BundleKeys keys = BundleKeys::kAll);

// A bundle of X.509 authorities from PEM "CERTIFICATE" blocks; every one must be a CA with
// keyCertSign.
absl::StatusOr<Bundle> ParsePemBundle(absl::string_view pem);
// Fails with Internal when a certificate cannot be encoded.
absl::StatusOr<std::string> X509AuthoritiesToPem(const Bundle& bundle);
// Accepts a SPIFFE bundle document or PEM, telling them apart by the first non-blank character.
absl::StatusOr<Bundle> ParseBundleAuto(absl::string_view text);

// Where verification looks up the bundle of one trust domain.
class BundleSource {
 public:
  virtual ~BundleSource() = default;
  // nullptr when the trust domain has no bundle.
  virtual std::shared_ptr<const Bundle> GetBundle(const TrustDomain& td) const = 0;
};

class BundleSet final : public BundleSource {
 public:
  void Put(const TrustDomain& td, Bundle bundle);
  bool Remove(const TrustDomain& td);
  const std::map<TrustDomain, std::shared_ptr<const Bundle>>& bundles() const { return bundles_; }

  // BundleSource:
  std::shared_ptr<const Bundle> GetBundle(const TrustDomain& td) const override;

 private:
  std::map<TrustDomain, std::shared_ptr<const Bundle>> bundles_;
};

// The bundle map document: {"trust_domains": {"example.org": <bundle>, ...}}. Trust-domain names
// are validated and duplicates rejected; the whole map is parsed before anything is returned.
absl::StatusOr<BundleSet> ParseBundleMap(absl::string_view json);
// Never throws; fails with Internal only when OpenSSL cannot export a key.
absl::StatusOr<std::string> ToBundleMapJson(const BundleSet& set);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_BUNDLE_H_
