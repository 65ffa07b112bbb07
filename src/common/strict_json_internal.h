// Pieces shared by the two strict JSON parsers (strict_json.cc builds documents on nlohmann's
// SAX parser; strict_json_visit.cc scans objects member by member). Not for use elsewhere.
#ifndef SIGNET_COMMON_STRICT_JSON_INTERNAL_H_
#define SIGNET_COMMON_STRICT_JSON_INTERNAL_H_

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/strict_json.h"

namespace signet::json_internal {

// The member names seen in one object. Objects in the documents we parse are usually small, where
// a linear scan beats hashing; large ones switch to a hash set so hostile input stays linear.
class MemberNames {
 public:
  // Returns false when `name` was already present.
  bool Insert(const std::string& name) {
    if (!large_.empty()) {
      return large_.insert(name).second;
    }
    if (std::find(small_.begin(), small_.end(), name) != small_.end()) {
      return false;
    }
    small_.push_back(name);
    if (small_.size() > kSmallLimit) {
      large_.insert(small_.begin(), small_.end());
      small_.clear();
    }
    return true;
  }

 private:
  static constexpr size_t kSmallLimit = 16;
  std::vector<std::string> small_;
  std::unordered_set<std::string> large_;
};

inline absl::Status TooLarge(const JsonLimits& limits) {
  return absl::InvalidArgumentError(
      absl::StrCat("json: document larger than ", limits.max_bytes, " bytes"));
}

}  // namespace signet::json_internal

#endif  // SIGNET_COMMON_STRICT_JSON_INTERNAL_H_
