// Strict JSON parsing for untrusted input (bundles, JWTs, configuration).
//
// On top of RFC 8259 syntax (nlohmann::json, which already rejects trailing content), the parser
// rejects duplicate object member names at any depth (RFC 7515 §5.2 / RFC 7519 §4 require it for
// JOSE), nesting deeper than `max_depth`, and documents larger than `max_bytes`.
#ifndef SIGNET_COMMON_STRICT_JSON_H_
#define SIGNET_COMMON_STRICT_JSON_H_

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace signet {

struct JsonLimits {
  size_t max_bytes = 1 << 20;
  int max_depth = 32;
};

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, JsonLimits limits = {});

// Receives one top-level member: its name and its value, which the callee may move from. A
// non-OK status stops the parse and is returned as it is.
using JsonMemberVisitor =
    absl::FunctionRef<absl::Status(absl::string_view name, nlohmann::json& value)>;

// Parses `text`, which must be a JSON object, under the same rules as ParseStrictJson, without
// building the object itself: `visit` is called for each member, in document order, as soon as
// the member is complete. A hand-written one-pass parser (strict_json_visit.cc), several times
// faster than nlohmann's, for the JWT hot path; fuzz/json_visit_fuzz.cc checks that it accepts
// exactly what ParseStrictJson accepts. Fails with InvalidArgument ("json: ...") for text that
// breaks a rule; the visitor may have seen the members before the fault, so callers act on what
// they saw only after an OK return.
absl::Status VisitStrictJsonObject(absl::string_view text, JsonLimits limits,
                                   JsonMemberVisitor visit);

// Returns a short name for the JSON type of `value` ("string", "array", ...), for error messages.
const char* JsonTypeName(const nlohmann::json& value);

}  // namespace signet

#endif  // SIGNET_COMMON_STRICT_JSON_H_
