// Fuzzes the JWK Set parser (an OIDC issuer's keys, fetched from the network). A set that parses
// must hold at least one key and no kid twice, and every key must be findable by its kid.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "src/spiffe/jwk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<signet::spiffe::JwkSet> set = signet::spiffe::JwkSet::Parse(text);
  if (!set.ok()) return 0;
  if (set->keys().empty()) std::abort();
  std::set<std::string> kids;
  for (const signet::spiffe::JwkSetKey& key : set->keys()) {
    if (key.key_id.empty() || !kids.insert(key.key_id).second) std::abort();
    if (set->Find(key.key_id) != &key) std::abort();
  }
  return 0;
}
