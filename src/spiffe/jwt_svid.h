// JWT-SVIDs (spiffe-conformance.md §3): minting with a signing key and strict validation against
// the JWT authorities of the subject's trust domain.
//
// The JWS code is written directly on OpenSSL so that every rule is explicit: the algorithm
// allow-list is checked before anything else, the key type must match the algorithm, duplicate
// JSON members are rejected. Minted headers carry exactly alg/kid/typ; when validating, `crit` is
// rejected and other header members (jwk, jku, x5u, ...) are ignored: trust only ever comes from
// the bundle of the subject's trust domain.
#ifndef SIGNET_SPIFFE_JWT_SVID_H_
#define SIGNET_SPIFFE_JWT_SVID_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "src/crypto/key.h"
#include "src/crypto/signature.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwk.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::spiffe {

enum class JwtAlgorithm { kES256, kES384, kES512, kRS256, kRS384, kRS512, kPS256, kPS384, kPS512 };

absl::string_view JwtAlgorithmName(JwtAlgorithm alg);
// Only the nine SPIFFE algorithms parse; "none", "HS256", "EdDSA", "ES256K"... fail.
absl::StatusOr<JwtAlgorithm> ParseJwtAlgorithm(absl::string_view name);
crypto::SignatureScheme JwtSignatureScheme(JwtAlgorithm alg);
// Whether `key` may be used with `alg` (EC curve per ES*, RSA for RS*/PS*).
bool KeyMatchesAlgorithm(const crypto::KeyInfo& key, JwtAlgorithm alg);

inline constexpr size_t kMaxJwtLength = 16 * 1024;

struct JwtSvidParams {
  SpiffeId subject;                   // Must have a path.
  std::vector<std::string> audience;  // At least one.
  absl::Time issued_at;
  absl::Duration ttl = absl::Minutes(5);
  std::string issuer;  // Optional `iss`.
};

// Mints JWT-SVIDs with one key. The header is encoded once at creation. Thread-safe.
class JwtSigner {
 public:
  // `alg` defaults by key: P-256 -> ES256, P-384 -> ES384, P-521 -> ES512, RSA -> RS256.
  static absl::StatusOr<JwtSigner> Create(crypto::PrivateKey key, std::string key_id,
                                          std::optional<JwtAlgorithm> alg = std::nullopt);

  absl::StatusOr<std::string> Mint(const JwtSvidParams& params) const;

  const std::string& key_id() const { return key_id_; }
  JwtAlgorithm algorithm() const { return alg_; }
  const crypto::PublicKey& public_key() const { return key_.public_key(); }

 private:
  JwtSigner(crypto::PrivateKey key, std::string key_id, JwtAlgorithm alg, std::string header);
  crypto::PrivateKey key_;
  std::string key_id_;
  JwtAlgorithm alg_;
  std::string encoded_header_;  // base64url(header) + "."
};

struct JwtValidationOptions {
  std::string audience;  // Required: the token's aud must contain it.
  absl::Time now;
  absl::Duration leeway = absl::Seconds(10);  // Applied to exp, nbf and iat.
};

struct JwtSvid {
  SpiffeId id;
  std::vector<std::string> audience;
  absl::Time expiry;
  std::optional<absl::Time> issued_at;
  JwtAlgorithm algorithm;
  std::string key_id;
  // The whole verified claims object as decoded from the token (strict JSON, already checked).
  std::string claims_json;

  // `claims_json` parsed. Built on demand: validation itself never needs the whole document.
  nlohmann::json Claims() const;
};

// Validates `token` per §3.2 against the JWT authorities of the subject's trust domain in
// `bundles`. Fails with InvalidArgument for malformed tokens and Unauthenticated for tokens that
// are well-formed but not valid (untrusted, bad signature, expired, wrong audience).
absl::StatusOr<JwtSvid> ValidateJwtSvid(absl::string_view token, const BundleSource& bundles,
                                        const JwtValidationOptions& options);

// Any signed JWT from an OIDC issuer (Kubernetes service account tokens, CI tokens), verified
// against the issuer's JWK Set: what the jwt node attestor checks. The same header rules and
// algorithm allow-list as JWT-SVIDs; `sub` may be anything.
struct JwtVerifyOptions {
  std::string issuer;    // Required: `iss` must equal it.
  std::string audience;  // Required: `aud` must contain it.
  absl::Time now;
  absl::Duration leeway = absl::Seconds(10);  // Applied to exp, nbf and iat.
};

struct VerifiedJwt {
  std::vector<std::string> audience;
  absl::Time expiry;
  std::optional<absl::Time> issued_at;
  JwtAlgorithm algorithm;
  std::string key_id;
  std::string claims_json;  // the verified claims object as decoded (strict JSON)
};

// InvalidArgument for a malformed token (including alg "none" and other algorithms outside the
// allow-list), Unauthenticated for one that is well-formed but not valid: a kid not in `keys`, an
// "alg" the key does not allow, a bad signature, another issuer, expired or not yet valid, or
// an audience without `options.audience`. Messages name the offending value.
absl::StatusOr<VerifiedJwt> VerifyJwt(absl::string_view token, const JwkSet& keys,
                                      const JwtVerifyOptions& options);

// Decodes header and claims without verifying anything but the syntax. For display only.
struct UnverifiedJwt {
  nlohmann::json header;
  nlohmann::json claims;
};
absl::StatusOr<UnverifiedJwt> DecodeJwtUnverified(absl::string_view token);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_JWT_SVID_H_
