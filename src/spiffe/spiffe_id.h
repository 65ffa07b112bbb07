// SpiffeId and TrustDomain: validated value types for SPIFFE identifiers
// (spiffe-conformance.md §1). Construct only through Parse, so every instance is valid.
// Immutable, copyable, hashable (absl), ordered.
#ifndef SIGNET_SPIFFE_SPIFFE_ID_H_
#define SIGNET_SPIFFE_SPIFFE_ID_H_

#include <compare>
#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace signet::spiffe {

inline constexpr size_t kMaxSpiffeIdLength = 2048;
inline constexpr size_t kMaxTrustDomainLength = 255;
inline constexpr absl::string_view kSpiffeScheme = "spiffe://";

// The rule a candidate SPIFFE ID or trust domain name breaks.
enum class IdError {
  kNone,
  kEmpty,
  kTooLong,
  kWrongScheme,
  kMissingTrustDomain,
  kTrustDomainTooLong,
  kTrustDomainUppercase,
  kTrustDomainUserInfo,
  kTrustDomainPort,
  kTrustDomainBadChar,
  kPercentEncoded,
  kQuery,
  kFragment,
  kEmptySegment,
  kDotSegment,
  kTrailingSlash,
  kPathBadChar,
  kNotTrustDomainId,
};

// A sentence naming the rule, e.g. "path segments may not be \".\" or \"..\"".
absl::string_view ErrorString(IdError error);

// Checks every rule of §1 without allocating. kNone when `id` is a valid SPIFFE ID.
IdError ValidateSpiffeId(absl::string_view id);
// Checks a bare trust domain name ("example.org").
IdError ValidateTrustDomainName(absl::string_view name);

class TrustDomain {
 public:
  // Accepts a name ("example.org") or a trust-domain ID ("spiffe://example.org").
  static absl::StatusOr<TrustDomain> Parse(absl::string_view name_or_id);

  const std::string& name() const { return name_; }
  // "spiffe://example.org".
  std::string IdString() const;

  auto operator<=>(const TrustDomain&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TrustDomain& td) {
    return H::combine(std::move(h), td.name_);
  }

 private:
  explicit TrustDomain(std::string name) : name_(std::move(name)) {}
  friend class SpiffeId;
  std::string name_;
};

class SpiffeId {
 public:
  // Parses `id`. On failure the status is InvalidArgument and its message names the rule.
  static absl::StatusOr<SpiffeId> Parse(absl::string_view id);
  // `path` is "" or "/seg[/seg...]".
  static absl::StatusOr<SpiffeId> FromParts(const TrustDomain& td, absl::string_view path);

  const TrustDomain& trust_domain() const { return trust_domain_; }
  // "" for a trust-domain ID, else "/seg/...".
  const std::string& path() const { return path_; }
  std::string String() const;
  // True for "spiffe://td" (no path): names a trust domain, never a workload.
  bool IsTrustDomainId() const { return path_.empty(); }
  bool MemberOf(const TrustDomain& td) const { return trust_domain_ == td; }

  auto operator<=>(const SpiffeId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SpiffeId& id) {
    return H::combine(std::move(h), id.trust_domain_, id.path_);
  }

 private:
  SpiffeId(TrustDomain td, std::string path)
      : trust_domain_(std::move(td)), path_(std::move(path)) {}
  TrustDomain trust_domain_;
  std::string path_;
};

}  // namespace signet::spiffe

#endif  // SIGNET_SPIFFE_SPIFFE_ID_H_
