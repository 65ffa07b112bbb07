// Text-level pieces of the YAML configuration reader (yaml_config.h): ${VAR} expansion,
// durations, and the quoting and digit helpers its messages and integer parsing share.
#ifndef SIGNET_COMMON_CONFIG_TEXT_H_
#define SIGNET_COMMON_CONFIG_TEXT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace signet::config_internal {

// `text` in double quotes, cut to 64 bytes with "..." when longer.
std::string Quote(absl::string_view text);
bool IsDigits(absl::string_view text);
// Parses decimal digits into a non-negative int64; false on overflow.
bool ParseDigits(absl::string_view digits, int64_t* out);

}  // namespace signet::config_internal

#endif  // SIGNET_COMMON_CONFIG_TEXT_H_
