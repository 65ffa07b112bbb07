#include "src/proxy/allow_list.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::proxy {

absl::StatusOr<AllowList> AllowList::Create(std::vector<std::string> ids,
                                            std::vector<std::string> trust_domains,
                                            std::vector<std::string> prefixes) {
  if (ids.empty() && trust_domains.empty() && prefixes.empty()) {
    return absl::InvalidArgumentError(
        "no peer is allowed: give at least one --allow-id, --allow-trust-domain or "
        "--allow-prefix");
  }
  AllowList list;
  for (const std::string& id : ids) {
    absl::StatusOr<spiffe::SpiffeId> parsed = spiffe::SpiffeId::Parse(id);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed ID \"", id, "\": ", parsed.status().message()));
    }
    list.ids_.push_back(parsed->String());
  }
  for (const std::string& td : trust_domains) {
    absl::StatusOr<spiffe::TrustDomain> parsed = spiffe::TrustDomain::Parse(td);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed trust domain \"", td, "\": ", parsed.status().message()));
    }
    list.trust_domains_.push_back(parsed->name());
  }
  for (std::string prefix : prefixes) {
    while (absl::EndsWith(prefix, "/")) prefix.pop_back();
    absl::StatusOr<spiffe::SpiffeId> parsed = spiffe::SpiffeId::Parse(prefix);
    if (!parsed.ok() || parsed->path().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("allowed prefix \"", prefix,
                       "\": must be a SPIFFE ID with a path, e.g. spiffe://example.org/ns/prod",
                       parsed.ok() ? "" : absl::StrCat(" (", parsed.status().message(), ")")));
    }
    list.prefixes_.push_back(parsed->String());
  }
  return list;
}

absl::Status AllowList::Check(const std::string& peer_id) const {
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(peer_id);
  if (!id.ok()) return absl::PermissionDeniedError(absl::StrCat(peer_id, " is not a SPIFFE ID"));
  const std::string canonical = id->String();
  for (const std::string& allowed : ids_) {
    if (canonical == allowed) return absl::OkStatus();
  }
  for (const std::string& td : trust_domains_) {
    if (id->trust_domain().name() == td) return absl::OkStatus();
  }
  for (const std::string& prefix : prefixes_) {
    if (canonical == prefix || absl::StartsWith(canonical, prefix + "/")) return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(canonical, " is not on the allow list"));
}

Authorizer AllowList::AsAuthorizer() const {
  return [list = *this](const std::string& peer) { return list.Check(peer); };
}

std::string AllowList::Describe() const {
  std::vector<std::string> parts;
  if (!ids_.empty()) parts.push_back("ids " + absl::StrJoin(ids_, ","));
  if (!trust_domains_.empty())
    parts.push_back("trust domains " + absl::StrJoin(trust_domains_, ","));
  if (!prefixes_.empty()) parts.push_back("prefixes " + absl::StrJoin(prefixes_, ","));
  return absl::StrJoin(parts, "; ");
}

}  // namespace signet::proxy
