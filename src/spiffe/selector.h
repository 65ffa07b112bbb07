// Selector: one "type:value" fact about a node or a workload ("unix:uid:1000", "k8s:ns:prod").
// The type is everything before the first ':'; the value is the rest and may contain ':'.
// Construct through Parse or Make so that every instance is valid.
#ifndef SIGNET_SPIFFE_SELECTOR_H_
#define SIGNET_SPIFFE_SELECTOR_H_

#include <compare>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::spiffe {

inline constexpr size_t kMaxSelectorTypeLength = 64;
inline constexpr size_t kMaxSelectorValueLength = 1024;

class Selector {
 public:
  // "type:value". InvalidArgument names the problem: a missing ':', an empty type or value,
  // a type outside [a-z0-9_-], a value with control characters, or a length limit.
  static absl::StatusOr<Selector> Parse(absl::string_view text);
  static absl::StatusOr<Selector> Make(absl::string_view type, absl::string_view value);

  const std::string& type() const { return type_; }
  const std::string& value() const { return value_; }
  std::string ToString() const { return type_ + ":" + value_; }

  auto operator<=>(const Selector&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Selector& s) {
    return H::combine(std::move(h), s.type_, s.value_);
  }

 private:
  Selector(std::string type, std::string value)
      : type_(std::move(type)), value_(std::move(value)) {}
  std::string type_;
  std::string value_;
};

// Sorts and removes duplicates, the canonical form entries store.
void CanonicalizeSelectors(std::vector<Selector>& selectors);
// True when every selector of `required` is in `present` (both canonical).
bool SelectorsSubsetOf(const std::vector<Selector>& required, const std::vector<Selector>& present);

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_SELECTOR_H_
