#include "src/common/status_macros.h"

#include "absl/strings/str_cat.h"

namespace signet {

absl::Status Annotate(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) {
    return status;
  }
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace signet
