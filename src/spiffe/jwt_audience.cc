#include "src/spiffe/jwt_audience.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::spiffe {

absl::StatusOr<std::vector<std::string>> CheckAudiences(
    const google::protobuf::RepeatedPtrField<std::string>& audience) {
  if (audience.empty()) return absl::InvalidArgumentError("audience: required");
  if (audience.size() > kMaxAudiences) {
    return absl::InvalidArgumentError(absl::StrCat("audience: at most ", kMaxAudiences));
  }
  std::vector<std::string> out;
  for (int i = 0; i < audience.size(); ++i) {
    const std::string& aud = audience.Get(i);
    if (aud.empty() || aud.size() > kMaxAudienceLength) {
      return absl::InvalidArgumentError(
          absl::StrCat("audience[", i, "]: must be 1 to ", kMaxAudienceLength, " bytes"));
    }
    for (unsigned char c : aud) {
      if (c < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError(
            absl::StrCat("audience[", i, "]: contains a control character"));
      }
    }
    out.push_back(aud);
  }
  return out;
}

}  // namespace signet::spiffe
