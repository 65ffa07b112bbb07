// Fuzzes JWT-SVID validation against a fixed bundle. A forged token must never validate: the
// fuzzer cannot produce a valid ES256 signature, so any success is a bug.
#include <cstdint>
#include <cstdlib>

#include "src/spiffe/jwt_svid.h"

namespace {

const signet::crypto::PrivateKey& Key() {
  static const auto* key = new signet::crypto::PrivateKey(
      *signet::crypto::PrivateKey::Generate(signet::crypto::KeyType::kEcP256));
  return *key;
}

// The same key as an OIDC issuer's set, for VerifyJwt.
const signet::spiffe::JwkSet& Jwks() {
  static const auto* set = [] {
    nlohmann::json jwk = *signet::spiffe::PublicKeyToJwk(Key().public_key());
    jwk["kid"] = "k1";
    return new signet::spiffe::JwkSet(
        *signet::spiffe::JwkSet::Parse(nlohmann::json{{"keys", {jwk}}}.dump()));
  }();
  return *set;
}

const signet::spiffe::BundleSet& Bundles() {
  static const signet::spiffe::BundleSet* set = [] {
    const signet::crypto::PrivateKey* key = &Key();
    auto* s = new signet::spiffe::BundleSet();
    signet::spiffe::Bundle b;
    (void)b.AddJwtAuthority({"k1", key->public_key()});
    s->Put(*signet::spiffe::TrustDomain::Parse("example.org"), std::move(b));
    return s;
  }();
  return *set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view token(reinterpret_cast<const char*>(data), size);
  auto result = signet::spiffe::ValidateJwtSvid(
      token, Bundles(), {.audience = "a", .now = absl::FromUnixSeconds(1700000000)});
  if (result.ok()) std::abort();
  auto oidc = signet::spiffe::VerifyJwt(
      token, Jwks(), {.issuer = "i", .audience = "a", .now = absl::FromUnixSeconds(1700000000)});
  if (oidc.ok()) std::abort();
  (void)signet::spiffe::DecodeJwtUnverified(token);
  return 0;
}
