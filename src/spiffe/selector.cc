#include "src/spiffe/selector.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::spiffe {
namespace {

bool IsTypeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

absl::StatusOr<Selector> Selector::Make(absl::string_view type, absl::string_view value) {
  if (type.empty()) return absl::InvalidArgumentError("selector: empty type");
  if (type.size() > kMaxSelectorTypeLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector: type longer than ", kMaxSelectorTypeLength, " bytes"));
  }
  if (!std::all_of(type.begin(), type.end(), IsTypeChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector: type \"", type, "\" may hold only a-z, 0-9, '_' and '-'"));
  }
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector: empty value for type \"", type, "\""));
  }
  if (value.size() > kMaxSelectorValueLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector: value longer than ", kMaxSelectorValueLength, " bytes"));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("selector: value contains a control character");
    }
  }
  return Selector(std::string(type), std::string(value));
}

absl::StatusOr<Selector> Selector::Parse(absl::string_view text) {
  size_t colon = text.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("selector: \"", text.substr(0, 80), "\" is not of the form type:value"));
  }
  return Make(text.substr(0, colon), text.substr(colon + 1));
}

void CanonicalizeSelectors(std::vector<Selector>& selectors) {
  std::sort(selectors.begin(), selectors.end());
  selectors.erase(std::unique(selectors.begin(), selectors.end()), selectors.end());
}

bool SelectorsSubsetOf(const std::vector<Selector>& required,
                       const std::vector<Selector>& present) {
  return std::includes(present.begin(), present.end(), required.begin(), required.end());
}

}  // namespace signet::spiffe
