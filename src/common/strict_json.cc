#include "src/common/strict_json.h"

#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace signet {
namespace {

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

// SAX-style checks run through nlohmann's parser callback. Reports the first problem found.
class StrictChecker {
 public:
  explicit StrictChecker(int max_depth) : max_depth_(max_depth) {}

  bool OnEvent(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (!error_.empty()) {
      return false;
    }
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (depth >= max_depth_) {
          error_ = absl::StrCat("nesting deeper than ", max_depth_);
        }
        keys_.emplace_back();
        break;
      case Event::object_end:
      case Event::array_end:
        if (!keys_.empty()) {
          keys_.pop_back();
        }
        break;
      case Event::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!keys_.empty() && !keys_.back().Insert(key)) {
          error_ = absl::StrCat("duplicate member \"", key, "\"");
        }
        break;
      }
      case Event::value:
        break;
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  int max_depth_;
  std::vector<MemberNames> keys_;
  std::string error_;
};

}  // namespace

absl::StatusOr<nlohmann::json> ParseStrictJson(absl::string_view text, JsonLimits limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: document larger than ", limits.max_bytes, " bytes"));
  }
  // nlohmann's lexer takes a NUL byte for the end of input, so "{}\0garbage" would parse as "{}".
  // JSON text never contains a raw NUL (inside strings it must be escaped).
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("json: syntax error (nul byte)");
  }
  StrictChecker checker(limits.max_depth);
  nlohmann::json result = nlohmann::json::parse(
      text.begin(), text.end(),
      [&checker](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        return checker.OnEvent(depth, event, parsed);
      },
      /*allow_exceptions=*/false);
  if (!checker.error().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("json: ", checker.error()));
  }
  if (result.is_discarded()) {
    return absl::InvalidArgumentError("json: syntax error");
  }
  return result;
}

const char* JsonTypeName(const nlohmann::json& value) { return value.type_name(); }

}  // namespace signet
