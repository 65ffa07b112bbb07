// An immutable X.509 certificate with the accessors SPIFFE rules need.
//
// Cheap to copy (shares one reference-counted X509) and safe to read from several threads.
#ifndef SIGNET_CRYPTO_CERTIFICATE_H_
#define SIGNET_CRYPTO_CERTIFICATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"

namespace signet::crypto {

// Key Usage bits (RFC 5280 §4.2.1.3), as OpenSSL reports them.
inline constexpr uint32_t kKeyUsageDigitalSignature = KU_DIGITAL_SIGNATURE;
inline constexpr uint32_t kKeyUsageKeyEncipherment = KU_KEY_ENCIPHERMENT;
inline constexpr uint32_t kKeyUsageKeyAgreement = KU_KEY_AGREEMENT;
inline constexpr uint32_t kKeyUsageKeyCertSign = KU_KEY_CERT_SIGN;
inline constexpr uint32_t kKeyUsageCrlSign = KU_CRL_SIGN;

class Certificate {
 public:
  // One DER certificate; trailing bytes are an error.
  static absl::StatusOr<Certificate> FromDer(absl::string_view der);
  // Takes ownership of `x509`.
  static absl::StatusOr<Certificate> FromX509(X509Ptr x509);

  X509* get() const { return x509_.get(); }
  std::string ToDer() const;
  // PEM "CERTIFICATE". Fails with Internal when OpenSSL cannot encode it.
  absl::StatusOr<std::string> ToPem() const;

  std::vector<std::string> UriSans() const;
  std::vector<std::string> DnsSans() const;
  // True when the SAN extension is present and marked critical.
  bool SanCritical() const;
  bool SubjectEmpty() const;
  // nullopt when Basic Constraints is absent.
  std::optional<bool> BasicConstraintsCa() const;
  bool BasicConstraintsCritical() const;
  // nullopt when Key Usage is absent.
  std::optional<uint32_t> KeyUsage() const;
  bool KeyUsageCritical() const;
  bool HasExtendedKeyUsage() const;
  bool HasServerAuth() const;
  bool HasClientAuth() const;

  absl::Time NotBefore() const;
  absl::Time NotAfter() const;
  // Lowercase hex, no separators.
  std::string SerialHex() const;
  // Number of significant bits in the serial number.
  int SerialBits() const;
  bool SerialPositive() const;
  // RFC 2253 form ("CN=x,O=y").
  std::string Subject() const;
  std::string Issuer() const;
  bool SelfIssued() const;
  // Lowercase hex SHA-256 of the DER encoding.
  std::string Sha256Fingerprint() const;
  const PublicKey& public_key() const { return public_key_; }

  bool operator==(const Certificate& other) const;

 private:
  Certificate(std::shared_ptr<X509> x509, PublicKey public_key)
      : x509_(std::move(x509)), public_key_(std::move(public_key)) {}
  std::shared_ptr<X509> x509_;
  PublicKey public_key_;
};

// Parses concatenated DER certificates (as the Workload API carries them). At least one.
absl::StatusOr<std::vector<Certificate>> ParseDerChain(absl::string_view der);
// Parses every "CERTIFICATE" block of a PEM text. At least one; other block types are errors.
absl::StatusOr<std::vector<Certificate>> ParsePemChain(absl::string_view pem);
// Accepts either of the above.
absl::StatusOr<std::vector<Certificate>> ParseChain(absl::string_view der_or_pem);

std::string ChainToDer(const std::vector<Certificate>& chain);
// Fails with Internal when a certificate cannot be encoded.
absl::StatusOr<std::string> ChainToPem(const std::vector<Certificate>& chain);

// Converts an ASN1_TIME to absl::Time.
absl::Time Asn1TimeToTime(const ASN1_TIME* t);

// Lowercase hex of `bytes`.
std::string HexEncode(absl::string_view bytes);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_CERTIFICATE_H_
