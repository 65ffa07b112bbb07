// Differential fuzzing of the two strict JSON parsers: VisitStrictJsonObject (the hand-written
// scanner on the JWT hot path) must accept exactly the objects ParseStrictJson (nlohmann's parser
// under the strict rules) accepts, and hand over the same members with the same values.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "nlohmann/json.hpp"
#include "src/common/strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  const signet::JsonLimits limits = {.max_bytes = 4096, .max_depth = 6};
  absl::StatusOr<nlohmann::json> parsed = signet::ParseStrictJson(text, limits);
  bool want_ok = parsed.ok() && parsed->is_object();

  nlohmann::json rebuilt = nlohmann::json::object();
  absl::Status visited =
      signet::VisitStrictJsonObject(text, limits, [&](absl::string_view name, nlohmann::json& v) {
        rebuilt[std::string(name)] = std::move(v);
        return absl::OkStatus();
      });
  if (visited.ok() != want_ok) {
    std::fprintf(stderr, "parsers disagree: ParseStrictJson %s, VisitStrictJsonObject %s\n",
                 parsed.ok() ? (parsed->is_object() ? "ok" : "not an object")
                             : parsed.status().ToString().c_str(),
                 visited.ToString().c_str());
    std::abort();
  }
  if (want_ok && rebuilt != *parsed) {
    std::fprintf(stderr, "values differ:\n%s\n%s\n", parsed->dump().c_str(),
                 rebuilt.dump().c_str());
    std::abort();
  }
  return 0;
}
