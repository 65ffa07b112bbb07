#include "src/spiffe/spiffe_id.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace signet::spiffe {
namespace {

bool IsTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

IdError CheckTrustDomainChars(absl::string_view td) {
  if (td.empty()) {
    return IdError::kMissingTrustDomain;
  }
  if (td.size() > kMaxTrustDomainLength) {
    return IdError::kTrustDomainTooLong;
  }
  for (char c : td) {
    if (IsTrustDomainChar(c)) {
      continue;
    }
    if (c >= 'A' && c <= 'Z') return IdError::kTrustDomainUppercase;
    if (c == '@') return IdError::kTrustDomainUserInfo;
    if (c == ':') return IdError::kTrustDomainPort;
    if (c == '%') return IdError::kPercentEncoded;
    return IdError::kTrustDomainBadChar;
  }
  return IdError::kNone;
}

// `path` is everything after the trust domain: "" or starting with '/'.
IdError CheckPath(absl::string_view path) {
  size_t i = 0;
  while (i < path.size()) {
    // path[i] == '/': a segment starts at i + 1.
    size_t start = i + 1;
    size_t end = start;
    while (end < path.size() && path[end] != '/') {
      char c = path[end];
      if (!IsPathChar(c)) {
        if (c == '?') return IdError::kQuery;
        if (c == '#') return IdError::kFragment;
        if (c == '%') return IdError::kPercentEncoded;
        return IdError::kPathBadChar;
      }
      ++end;
    }
    absl::string_view segment = path.substr(start, end - start);
    if (segment.empty()) {
      return end == path.size() ? IdError::kTrailingSlash : IdError::kEmptySegment;
    }
    if (segment == "." || segment == "..") {
      return IdError::kDotSegment;
    }
    i = end;
  }
  return IdError::kNone;
}

// Splits a validated-prefix ID into its trust domain and the rest. Returns the error found in the
// trust-domain part, if any.
IdError SplitId(absl::string_view id, absl::string_view* td, absl::string_view* rest) {
  if (id.empty()) {
    return IdError::kEmpty;
  }
  if (id.size() > kMaxSpiffeIdLength) {
    return IdError::kTooLong;
  }
  if (id.substr(0, kSpiffeScheme.size()) != kSpiffeScheme) {
    return IdError::kWrongScheme;
  }
  absl::string_view after = id.substr(kSpiffeScheme.size());
  size_t td_end = after.find_first_of("/?#");
  *td = after.substr(0, td_end);
  *rest = td_end == absl::string_view::npos ? absl::string_view() : after.substr(td_end);
  IdError err = CheckTrustDomainChars(*td);
  if (err != IdError::kNone) {
    return err;
  }
  if (!rest->empty() && (*rest)[0] == '?') return IdError::kQuery;
  if (!rest->empty() && (*rest)[0] == '#') return IdError::kFragment;
  return IdError::kNone;
}

absl::Status ToStatus(IdError error, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, ": ", ErrorString(error)));
}

}  // namespace

absl::string_view ErrorString(IdError error) {
  switch (error) {
    case IdError::kNone:
      return "valid";
    case IdError::kEmpty:
      return "empty";
    case IdError::kTooLong:
      return "longer than 2048 bytes";
    case IdError::kWrongScheme:
      return "scheme must be lowercase \"spiffe://\"";
    case IdError::kMissingTrustDomain:
      return "trust domain is missing";
    case IdError::kTrustDomainTooLong:
      return "trust domain longer than 255 bytes";
    case IdError::kTrustDomainUppercase:
      return "trust domain must be lowercase";
    case IdError::kTrustDomainUserInfo:
      return "trust domain may not contain userinfo (\"@\")";
    case IdError::kTrustDomainPort:
      return "trust domain may not contain a port (\":\")";
    case IdError::kTrustDomainBadChar:
      return "trust domain characters must be a-z, 0-9, '.', '-' or '_'";
    case IdError::kPercentEncoded:
      return "percent-encoding is not allowed";
    case IdError::kQuery:
      return "a query (\"?\") is not allowed";
    case IdError::kFragment:
      return "a fragment (\"#\") is not allowed";
    case IdError::kEmptySegment:
      return "path segments may not be empty (\"//\")";
    case IdError::kDotSegment:
      return "path segments may not be \".\" or \"..\"";
    case IdError::kTrailingSlash:
      return "path may not end with \"/\"";
    case IdError::kPathBadChar:
      return "path characters must be a-z, A-Z, 0-9, '.', '-' or '_'";
    case IdError::kNotTrustDomainId:
      return "a trust-domain ID may not have a path";
  }
  return "unknown rule";
}

IdError ValidateSpiffeId(absl::string_view id) {
  absl::string_view td;
  absl::string_view rest;
  IdError err = SplitId(id, &td, &rest);
  if (err != IdError::kNone) {
    return err;
  }
  return CheckPath(rest);
}

IdError ValidateTrustDomainName(absl::string_view name) { return CheckTrustDomainChars(name); }

absl::StatusOr<TrustDomain> TrustDomain::Parse(absl::string_view name_or_id) {
  if (name_or_id.find("://") == absl::string_view::npos) {
    IdError err = ValidateTrustDomainName(name_or_id);
    if (err != IdError::kNone) {
      return ToStatus(err, "trust domain");
    }
    return TrustDomain(std::string(name_or_id));
  }
  absl::string_view td;
  absl::string_view rest;
  IdError err = SplitId(name_or_id, &td, &rest);
  if (err == IdError::kNone && !rest.empty()) {
    err = IdError::kNotTrustDomainId;
  }
  if (err != IdError::kNone) {
    return ToStatus(err, "trust domain");
  }
  return TrustDomain(std::string(td));
}

std::string TrustDomain::IdString() const { return absl::StrCat(kSpiffeScheme, name_); }

absl::StatusOr<SpiffeId> SpiffeId::Parse(absl::string_view id) {
  absl::string_view td;
  absl::string_view rest;
  IdError err = SplitId(id, &td, &rest);
  if (err == IdError::kNone) {
    err = CheckPath(rest);
  }
  if (err != IdError::kNone) {
    return ToStatus(err, "spiffe id");
  }
  return SpiffeId(TrustDomain(std::string(td)), std::string(rest));
}

absl::StatusOr<SpiffeId> SpiffeId::FromParts(const TrustDomain& td, absl::string_view path) {
  if (!path.empty() && path[0] != '/') {
    return absl::InvalidArgumentError("invalid spiffe id: path must start with \"/\"");
  }
  return Parse(absl::StrCat(kSpiffeScheme, td.name(), path));
}

std::string SpiffeId::String() const {
  return absl::StrCat(kSpiffeScheme, trust_domain_.name(), path_);
}

}  // namespace signet::spiffe
