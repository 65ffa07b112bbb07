#include "tests/testing/test_jwt.h"

#include <cstdio>
#include <cstdlib>

#include "src/common/base64.h"
#include "src/crypto/signature.h"
#include "src/spiffe/jwk.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::testing {

std::string MintTestJwt(const nlohmann::json& header, const nlohmann::json& claims,
                        const crypto::PrivateKey* key) {
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  auto alg = header.contains("alg") && header["alg"].is_string()
                 ? spiffe::ParseJwtAlgorithm(header["alg"].get<std::string>())
                 : absl::StatusOr<spiffe::JwtAlgorithm>(absl::InvalidArgumentError("no alg"));
  if (key == nullptr || !alg.ok()) {
    return input + "." + Base64UrlEncode("sig");
  }
  absl::StatusOr<std::string> sig = crypto::Sign(*key, spiffe::JwtSignatureScheme(*alg), input);
  if (sig.ok() && key->info().algorithm == crypto::KeyAlgorithm::kEc) {
    sig = crypto::EcdsaDerToRaw(*sig, crypto::EcCoordinateSize(key->info().curve));
  }
  if (!sig.ok()) {
    fprintf(stderr, "MintTestJwt: %s\n", sig.status().ToString().c_str());
    abort();
  }
  return input + "." + Base64UrlEncode(*sig);
}

std::string TestJwks(const std::vector<std::pair<std::string, const crypto::PrivateKey*>>& keys) {
  nlohmann::json set = {{"keys", nlohmann::json::array()}};
  for (const auto& [kid, key] : keys) {
    absl::StatusOr<nlohmann::json> jwk = spiffe::PublicKeyToJwk(key->public_key());
    if (!jwk.ok()) {
      fprintf(stderr, "TestJwks: %s\n", jwk.status().ToString().c_str());
      abort();
    }
    (*jwk)["kid"] = kid;
    (*jwk)["use"] = "sig";
    set["keys"].push_back(*jwk);
  }
  return set.dump();
}

}  // namespace signet::testing
