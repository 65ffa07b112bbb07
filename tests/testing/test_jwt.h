// Test tokens from an OIDC-style issuer: any header and claims, signed with any key, and the JWK
// Set that publishes the keys. For tests of VerifyJwt and the jwt node attestor.
#ifndef SIGNET_TESTS_TESTING_TEST_JWT_H_
#define SIGNET_TESTS_TESTING_TEST_JWT_H_

#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "src/crypto/key.h"

namespace signet::testing {

// A compact JWS of `header` and `claims`. The header's "alg" picks the scheme ("ES256", "RS256",
// "PS256", ...); with "none", or a null `key`, the signature part is "sig" (never valid). Aborts
// the test binary when signing fails.
std::string MintTestJwt(const nlohmann::json& header, const nlohmann::json& claims,
                        const crypto::PrivateKey* key);

// {"keys": [...]} with each key's public half under its kid (use "sig").
std::string TestJwks(const std::vector<std::pair<std::string, const crypto::PrivateKey*>>& keys);

}  // namespace signet::testing

#endif  // SIGNET_TESTS_TESTING_TEST_JWT_H_
