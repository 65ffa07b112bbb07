#include "src/cli/output.h"

#include <iostream>

#include "absl/time/time.h"

namespace signet::cli {

int Fail(const absl::Status& status) {
  std::cerr << "signet: " << status.message() << "\n";
  return kExitError;
}

void PrintJson(const nlohmann::json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace signet::cli
