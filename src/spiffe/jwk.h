// Public keys as JSON Web Keys (RFC 7517/7518): EC (P-256, P-384, P-521) and RSA.
#ifndef SIGNET_SPIFFE_JWK_H_
#define SIGNET_SPIFFE_JWK_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "src/crypto/key.h"

namespace signet::spiffe {

// Reads the public parameters of a JWK. Fails with Unimplemented for a `kty` other than "EC" or
// "RSA" (callers such as the bundle parser ignore those keys), with InvalidArgument otherwise.
absl::StatusOr<crypto::PublicKey> PublicKeyFromJwk(const nlohmann::json& jwk);

// Writes `kty` and the public parameters (`crv`,`x`,`y` or `n`,`e`). Fails with Internal when
// OpenSSL cannot export them (e.g. a key object that holds no public key).
absl::StatusOr<nlohmann::json> PublicKeyToJwk(const crypto::PublicKey& key);

// One verification key of a JWK Set.
struct JwkSetKey {
  std::string key_id;
  crypto::PublicKey key;
  std::string algorithm;  // the JWK's "alg" ("RS256"), empty when it names none
};

// The signature keys an OIDC issuer publishes (RFC 7517 §5, `{"keys": [...]}`): what the jwt node
// attestor verifies tokens with. Immutable once parsed; thread-safe.
class JwkSet {
 public:
  // Keeps every EC and RSA key meant for signatures. Keys whose "use" is not "sig" and keys of
  // another kty (OKP, oct) are skipped, as RFC 7517 asks of keys a reader does not understand.
  // InvalidArgument ("jwks: ...") for text that is not strict JSON, a missing "keys" array, more
  // than 256 keys, a usable key without a "kid" or with a bad value, a kid used twice, or a set
  // with no usable key at all.
  static absl::StatusOr<JwkSet> Parse(absl::string_view json);

  // The key with `key_id`, or nullptr.
  const JwkSetKey* Find(absl::string_view key_id) const;
  const std::vector<JwkSetKey>& keys() const { return keys_; }

 private:
  std::vector<JwkSetKey> keys_;
};

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_JWK_H_
