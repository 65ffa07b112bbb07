// PKCS#10 certificate signing requests, reduced to what an SVID signer needs: the requester's
// public key, proven by the request's self-signature. The subject and any requested extensions
// are ignored; the signer decides every certificate field itself.
#ifndef SIGNET_CRYPTO_CSR_H_
#define SIGNET_CRYPTO_CSR_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/crypto/key.h"

namespace signet::crypto {

inline constexpr size_t kMaxCsrDerSize = 16 * 1024;

// A DER CSR with an empty subject, signed by `key` (SHA-256 for EC P-256 and RSA, SHA-384 for
// P-384 and above).
absl::StatusOr<std::string> BuildCsrDer(const PrivateKey& key);

// Parses a DER CSR (no trailing bytes, at most kMaxCsrDerSize), checks its key against the key
// policy and verifies its self-signature. InvalidArgument names the problem.
// Common EC requests take a fast path (fast_ec.h); everything else, and anything the fast path
// does not accept, goes through ParseCsrDerWithOpenSsl.
absl::StatusOr<PublicKey> ParseCsrDer(absl::string_view der);
// The same with OpenSSL's d2i_X509_REQ and X509_REQ_verify only.
absl::StatusOr<PublicKey> ParseCsrDerWithOpenSsl(absl::string_view der);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_CSR_H_
