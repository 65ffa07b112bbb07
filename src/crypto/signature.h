// Digital signatures over a message (hash-then-sign) with EC or RSA keys.
//
// ECDSA signatures are DER-encoded here; JOSE's fixed-size r||s form is converted with
// EcdsaDerToRaw / EcdsaRawToDer. Thread-safe.
#ifndef SIGNET_CRYPTO_SIGNATURE_H_
#define SIGNET_CRYPTO_SIGNATURE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/crypto/key.h"

namespace signet::crypto {

enum class Hash { kSha256, kSha384, kSha512 };
enum class RsaPadding { kPkcs1, kPss };

struct SignatureScheme {
  KeyAlgorithm key_algorithm;
  Hash hash;
  RsaPadding padding = RsaPadding::kPkcs1;  // RSA only; PSS uses salt length = hash length.
};

const EVP_MD* HashMd(Hash hash);

// Signs `message`. Fails if the key's algorithm differs from the scheme's.
absl::StatusOr<std::string> Sign(const PrivateKey& key, const SignatureScheme& scheme,
                                 absl::string_view message);

// Returns true only if `signature` is a valid signature of `message` under `key` and `scheme`.
bool Verify(const PublicKey& key, const SignatureScheme& scheme, absl::string_view message,
            absl::string_view signature);

// Size in bytes of one coordinate (r or s) for an EC curve given in JOSE form ("P-256" -> 32).
size_t EcCoordinateSize(absl::string_view curve);

// DER ECDSA-Sig-Value -> r||s, each left-padded to `coordinate_size` bytes.
absl::StatusOr<std::string> EcdsaDerToRaw(absl::string_view der, size_t coordinate_size);
// r||s (even length) -> DER ECDSA-Sig-Value.
absl::StatusOr<std::string> EcdsaRawToDer(absl::string_view raw);

// SHA-256 of `data`, raw bytes.
std::string Sha256(absl::string_view data);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_SIGNATURE_H_
