// Fuzzes the SPIFFE bundle document, bundle map and PEM parsers. An accepted bundle must
// re-encode and re-parse to the same authorities.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/spiffe/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::spiffe::Bundle> bundle = signet::spiffe::ParseSpiffeBundle(text);
  if (bundle.ok()) {
    absl::StatusOr<std::string> json = signet::spiffe::ToSpiffeBundleJson(*bundle);
    if (!json.ok()) {
      std::abort();
    }
    absl::StatusOr<signet::spiffe::Bundle> again = signet::spiffe::ParseSpiffeBundle(*json);
    if (!again.ok() || again->x509_authorities().size() != bundle->x509_authorities().size() ||
        again->jwt_authorities().size() != bundle->jwt_authorities().size() ||
        again->sequence() != bundle->sequence()) {
      std::abort();
    }
  }
  (void)signet::spiffe::ParseBundleMap(text);
  (void)signet::spiffe::ParsePemBundle(text);
  return 0;
}
