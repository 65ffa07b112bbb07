// Public and private keys: generation, PKCS#8 / SubjectPublicKeyInfo encoding, and the policy on
// which keys Signet accepts (EC P-256, P-384, P-521; RSA of at least 2048 bits).
//
// Both types are immutable, cheap to copy (they share one reference-counted EVP_PKEY) and safe to
// use from several threads at once.
#ifndef SIGNET_CRYPTO_KEY_H_
#define SIGNET_CRYPTO_KEY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/crypto/ossl.h"

namespace signet::crypto {

// The key types Signet generates.
enum class KeyType { kEcP256, kEcP384, kRsa2048 };

// "ec-p256", "ec-p384", "rsa-2048".
absl::string_view KeyTypeName(KeyType type);
absl::StatusOr<KeyType> ParseKeyType(absl::string_view name);

enum class KeyAlgorithm { kEc, kRsa };

// Facts about an accepted key.
struct KeyInfo {
  KeyAlgorithm algorithm;
  // For EC: "P-256", "P-384" or "P-521" (JOSE names). Empty for RSA.
  absl::string_view curve;
  int bits;
};

class PublicKey {
 public:
  // Takes ownership of `pkey`. Fails with InvalidArgument for key types outside the policy.
  static absl::StatusOr<PublicKey> FromEvp(EvpPkeyPtr pkey);
  // DER SubjectPublicKeyInfo.
  static absl::StatusOr<PublicKey> FromDer(absl::string_view der);
  static absl::StatusOr<PublicKey> FromPem(absl::string_view pem);

  const KeyInfo& info() const { return info_; }
  EVP_PKEY* get() const { return pkey_.get(); }
  // DER SubjectPublicKeyInfo; "" if OpenSSL cannot encode the key.
  std::string ToDer() const;
  // PEM "PUBLIC KEY". Fails with Internal when OpenSSL cannot encode the key.
  absl::StatusOr<std::string> ToPem() const;
  bool Equals(const PublicKey& other) const;

 private:
  friend class PrivateKey;
  PublicKey(std::shared_ptr<EVP_PKEY> pkey, KeyInfo info) : pkey_(std::move(pkey)), info_(info) {}
  std::shared_ptr<EVP_PKEY> pkey_;
  KeyInfo info_;
};

class PrivateKey {
 public:
  static absl::StatusOr<PrivateKey> Generate(KeyType type);
  // Unencrypted PKCS#8 DER.
  static absl::StatusOr<PrivateKey> FromPkcs8Der(absl::string_view der);
  // PEM "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" or "RSA PRIVATE KEY"; never encrypted.
  static absl::StatusOr<PrivateKey> FromPem(absl::string_view pem);

  const KeyInfo& info() const { return public_key_.info(); }
  EVP_PKEY* get() const { return pkey_.get(); }
  const PublicKey& public_key() const { return public_key_; }
  // Unencrypted PKCS#8. The result is key material: never log it. Fail with Internal when
  // OpenSSL cannot encode the key.
  absl::StatusOr<std::string> ToPkcs8Der() const;
  absl::StatusOr<std::string> ToPkcs8Pem() const;

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> pkey, PublicKey public_key)
      : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}
  static absl::StatusOr<PrivateKey> FromEvp(EvpPkeyPtr pkey);

  std::shared_ptr<EVP_PKEY> pkey_;
  PublicKey public_key_;
};

// Checks `pkey` against the key policy and describes it.
absl::StatusOr<KeyInfo> DescribeKey(EVP_PKEY* pkey);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_KEY_H_
