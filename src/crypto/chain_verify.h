// RFC 5280 path validation of a presented chain against a set of trust anchors.
#ifndef SIGNET_CRYPTO_CHAIN_VERIFY_H_
#define SIGNET_CRYPTO_CHAIN_VERIFY_H_

#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "src/crypto/certificate.h"

namespace signet::crypto {

// Validates `leaf` through `intermediates` (untrusted, as presented) to any certificate of
// `anchors` (each anchor is trusted as given, self-signed or not) at time `now`: signatures,
// validity periods, CA flags and path lengths, and unknown critical extensions. Returns every
// problem found, each naming the certificate depth; an empty result means the chain is valid.
std::vector<std::string> VerifyCertificateChain(const Certificate& leaf,
                                                std::span<const Certificate> intermediates,
                                                std::span<const Certificate> anchors,
                                                absl::Time now);

}  // namespace signet::crypto

#endif  // SIGNET_CRYPTO_CHAIN_VERIFY_H_
