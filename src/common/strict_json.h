// Strict JSON parsing for untrusted input (bundles, JWTs, configuration).
//
// On top of RFC 8259 syntax (nlohmann::json, which already rejects trailing content), the parser
// rejects duplicate object member names at any depth (RFC 7515 §5.2 / RFC 7519 §4 require it for
// JOSE), nesting deeper than `max_depth`, and documents larger than `max_bytes`.
#ifndef SIGNET_COMMON_STRICT_JSON_H_
#define SIGNET_COMMON_STRICT_JSON_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace signet {

struct JsonLimits {
  size_t max_bytes = 1 << 20;
  int max_depth = 32;
};

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, JsonLimits limits = {});

// Returns a short name for the JSON type of `value` ("string", "array", ...), for error messages.
const char* JsonTypeName(const nlohmann::json& value);

}  // namespace signet

#endif  // SIGNET_COMMON_STRICT_JSON_H_
