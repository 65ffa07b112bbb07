// Fast paths around OpenSSL 3.0's provider decoders and encoders for EC public keys, which cost
// ~150 µs a key on this machine, several times an ECDSA signature:
//   - d2i of a CSR or SubjectPublicKeyInfo runs OSSL_DECODER_CTX_new_for_pkey;
//   - X509_set_pubkey with a provider key encodes it and decodes it back.
// An EC key held in OpenSSL's legacy EC_KEY form takes the old ASN.1 methods instead (~16 µs to
// build from the point, ~8 µs to set on a certificate). It signs, verifies, compares and
// encodes like a provider key, but does not answer every EVP_PKEY_get_*_param (the encoded
// point, for one), so it is kept to leaf certificates and CSR keys. Used by ParseCsrDer and
// IssueCertificate; bench/crypto's "X509 from CSR" measures the effect.
#ifndef SIGNET_CRYPTO_FAST_EC_H_
#define SIGNET_CRYPTO_FAST_EC_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"

namespace signet::crypto {

// A legacy copy of the EC public key `key` (P-256 or P-384), or null for any other key or when
// OpenSSL cannot make one (callers then use `key` as it is).
EvpPkeyPtr LegacyEcPublicCopy(const EVP_PKEY* key);

// The public point of an EC key, uncompressed (0x04 || x || y), for provider and legacy keys
// alike (legacy ones do not answer OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY). nullopt for other keys.
std::optional<std::string> UncompressedEcPoint(const EVP_PKEY* key);

// The public key of a DER PKCS#10 request of the common EC shape (version 0; an EC P-256 or
// P-384 key with an uncompressed point; ecdsa-with-SHA256 or -SHA384 without parameters; strict
// DER, no trailing bytes) whose self-signature verifies. nullopt for anything else, including
// a bad signature: the caller then parses with OpenSSL, which reports the precise problem.
// fuzz/csr_fuzz.cc checks that it never accepts what the OpenSSL path rejects.
std::optional<PublicKey> ParseEcCsrFast(absl::string_view der);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_FAST_EC_H_
