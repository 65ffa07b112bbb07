// Fuzzes ParseCsrDer (the CSRs agents and operators send) and Selector::Parse: no crash; an
// accepted CSR's key passes the key policy and re-encodes; the EC fast path accepts nothing that
// OpenSSL's parser rejects, and agrees on the key; an accepted selector round-trips.
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "src/crypto/csr.h"
#include "src/crypto/fast_ec.h"
#include "src/spiffe/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::crypto::PublicKey> key = signet::crypto::ParseCsrDer(text);
  if (key.ok() && key->ToDer().empty()) std::abort();
  std::optional<signet::crypto::PublicKey> fast = signet::crypto::ParseEcCsrFast(text);
  if (fast.has_value()) {
    absl::StatusOr<signet::crypto::PublicKey> slow = signet::crypto::ParseCsrDerWithOpenSsl(text);
    if (!slow.ok() || !slow->Equals(*fast) || slow->ToDer() != fast->ToDer()) std::abort();
  }
  absl::StatusOr<signet::spiffe::Selector> selector = signet::spiffe::Selector::Parse(text);
  if (selector.ok()) {
    if (selector->ToString() != text) std::abort();
    absl::StatusOr<signet::spiffe::Selector> again =
        signet::spiffe::Selector::Parse(selector->ToString());
    if (!again.ok() || *again != *selector) std::abort();
  }
  return 0;
}
