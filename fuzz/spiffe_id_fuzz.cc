// Fuzzes SpiffeId::Parse and TrustDomain::Parse: no crash, and every accepted ID round-trips.
#include <cstdint>
#include <cstdlib>

#include "src/spiffe/spiffe_id.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::spiffe::SpiffeId> id = signet::spiffe::SpiffeId::Parse(text);
  if (id.ok()) {
    // An accepted ID prints back exactly as given and re-parses to the same value.
    if (id->String() != text) std::abort();
    absl::StatusOr<signet::spiffe::SpiffeId> again = signet::spiffe::SpiffeId::Parse(id->String());
    if (!again.ok() || *again != *id) std::abort();
  }
  if ((signet::spiffe::ValidateSpiffeId(text) == signet::spiffe::IdError::kNone) != id.ok()) {
    std::abort();
  }
  (void)signet::spiffe::TrustDomain::Parse(text);
  return 0;
}
