// The audience rules every JWT-SVID request obeys, at the agent and at the server alike.
#ifndef SIGNET_SPIFFE_JWT_AUDIENCE_H_
#define SIGNET_SPIFFE_JWT_AUDIENCE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace signet::spiffe {

inline constexpr int kMaxAudiences = 16;
inline constexpr size_t kMaxAudienceLength = 512;

// The audiences of a JWT-SVID request: 1 to kMaxAudiences, each 1 to kMaxAudienceLength bytes
// without control characters. InvalidArgument naming the item otherwise.
absl::StatusOr<std::vector<std::string>> CheckAudiences(
    const google::protobuf::RepeatedPtrField<std::string>& audience);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_JWT_AUDIENCE_H_
