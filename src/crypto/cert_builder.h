// Issues X.509 v3 certificates from a template. The SPIFFE policy (which extensions an SVID or a
// signing certificate carries) lives in src/spiffe; this unit only encodes what it is told.
#ifndef SIGNET_CRYPTO_CERT_BUILDER_H_
#define SIGNET_CRYPTO_CERT_BUILDER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"

namespace signet::crypto {

struct CertificateTemplate {
  // "O=Signet,CN=example.org": comma-separated attribute=value pairs with OpenSSL's short names.
  // Values may not contain ',' or '='. Empty means an empty subject.
  std::string subject;
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  std::optional<int> path_len;  // CA only.
  uint32_t key_usage = 0;       // kKeyUsage* bits; the extension is always critical.
  bool server_auth = false;     // Extended Key Usage; omitted when both are false.
  bool client_auth = false;
  std::vector<std::string> uri_sans;
  std::vector<std::string> dns_sans;
  // Marks the SAN extension critical. Forced on when the subject is empty (RFC 5280 §4.2.1.6).
  bool san_critical = false;
};

// Signs a certificate for `subject_key` described by `tmpl`. With `issuer` == nullptr the
// certificate is self-signed (issuer name = subject name, `issuer_key` must be the subject's key).
// The serial is 128 random bits; Subject and Authority Key Identifiers are always included.
absl::StatusOr<Certificate> IssueCertificate(const CertificateTemplate& tmpl,
                                             const PublicKey& subject_key,
                                             const Certificate* issuer,
                                             const PrivateKey& issuer_key);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_CERT_BUILDER_H_
