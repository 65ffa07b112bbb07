// Public keys as JSON Web Keys (RFC 7517/7518): EC (P-256, P-384, P-521) and RSA.
#ifndef SIGNET_SPIFFE_JWK_H_
#define SIGNET_SPIFFE_JWK_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "src/crypto/key.h"

namespace signet::spiffe {

// Reads the public parameters of a JWK. Fails with Unimplemented for a `kty` other than "EC" or
// "RSA" (callers such as the bundle parser ignore those keys), with InvalidArgument otherwise.
absl::StatusOr<crypto::PublicKey> PublicKeyFromJwk(const nlohmann::json& jwk);

// Writes `kty` and the public parameters (`crv`,`x`,`y` or `n`,`e`). Fails with Internal when
// OpenSSL cannot export them (e.g. a key object that holds no public key).
absl::StatusOr<nlohmann::json> PublicKeyToJwk(const crypto::PublicKey& key);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_JWK_H_
