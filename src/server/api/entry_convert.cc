#include "src/server/api/entry_convert.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// Parses an ID that must belong to `td`.
absl::StatusOr<spiffe::SpiffeId> OwnId(absl::string_view field, absl::string_view text,
                                       const spiffe::TrustDomain& td) {
  if (text.empty()) return FieldError(field, "required");
  auto id = spiffe::SpiffeId::Parse(text);
  if (!id.ok()) return FieldError(field, id.status().message());
  if (id->trust_domain() != td) {
    return FieldError(field, absl::StrCat("trust domain \"", id->trust_domain().name(),
                                          "\" is not this server's (\"", td.name(), "\")"));
  }
  return id;
}

absl::Status CheckTtl(absl::string_view field, int32_t ttl, int32_t max) {
  if (ttl == 0) return absl::OkStatus();
  if (ttl < kMinSvidTtlSeconds || ttl > max) {
    return FieldError(field, absl::StrCat("must be 0 (server default) or between ",
                                          kMinSvidTtlSeconds, " and ", max, " seconds, got ", ttl));
  }
  return absl::OkStatus();
}

bool IsLdhLabel(absl::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-'; });
}

absl::StatusOr<std::vector<std::string>> DnsNames(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (in.size() > kMaxDnsNamesPerEntry) {
    return FieldError("entry.dns_names", absl::StrCat("at most ", kMaxDnsNamesPerEntry));
  }
  std::vector<std::string> out;
  for (int i = 0; i < in.size(); ++i) {
    absl::Status status = ValidateDnsName(in[i]);
    if (!status.ok()) return FieldError(absl::StrCat("entry.dns_names[", i, "]"), status.message());
    out.push_back(absl::AsciiStrToLower(in[i]));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> FederatesWith(
    const google::protobuf::RepeatedPtrField<std::string>& in, const spiffe::TrustDomain& td) {
  if (in.size() > kMaxFederatesWith) {
    return FieldError("entry.federates_with", absl::StrCat("at most ", kMaxFederatesWith));
  }
  std::vector<std::string> out;
  for (int i = 0; i < in.size(); ++i) {
    std::string field = absl::StrCat("entry.federates_with[", i, "]");
    auto other = spiffe::TrustDomain::Parse(in[i]);
    if (!other.ok()) return FieldError(field, other.status().message());
    if (*other == td)
      return FieldError(field, "an entry cannot federate with its own trust domain");
    out.push_back(other->name());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status CheckHint(absl::string_view hint) {
  if (hint.size() > kMaxHintLength) {
    return FieldError("entry.hint", absl::StrCat("longer than ", kMaxHintLength, " bytes"));
  }
  for (unsigned char c : hint) {
    if (c < 0x20 || c == 0x7f) return FieldError("entry.hint", "contains a control character");
  }
  return absl::OkStatus();
}

absl::Time FromUnix(int64_t seconds) {
  return seconds == 0 ? absl::InfinitePast() : absl::FromUnixSeconds(seconds);
}

}  // namespace

int64_t ToUnixOrZero(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixSeconds(t);
}

void SelectorsToProto(const std::vector<Selector>& in,
                      google::protobuf::RepeatedPtrField<admin::v1::Selector>* out) {
  for (const Selector& s : in) {
    admin::v1::Selector* sel = out->Add();
    sel->set_type(s.type());
    sel->set_value(s.value());
  }
}

bool IsKnownSelectorType(absl::string_view type) {
  static const auto* const kKnown =
      new absl::flat_hash_set<std::string>{// workload attestors
                                           "unix", "docker", "k8s", "systemd",
                                           // node attestors
                                           "join_token", "x509pop", "jwt"};
  return kKnown->contains(type);
}

absl::Status ValidateDnsName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty DNS name");
  if (name.size() > 253) return absl::InvalidArgumentError("DNS name longer than 253 bytes");
  absl::string_view rest = name;
  if (absl::StartsWith(rest, "*.")) rest.remove_prefix(2);
  for (absl::string_view label : absl::StrSplit(rest, '.')) {
    if (!IsLdhLabel(label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", name.substr(0, 80), "\" is not a valid DNS name"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Selector>> SelectorsFromProto(
    const google::protobuf::RepeatedPtrField<admin::v1::Selector>& in, absl::string_view field) {
  if (in.size() > kMaxSelectorsPerEntry) {
    return FieldError(field, absl::StrCat("at most ", kMaxSelectorsPerEntry, " selectors"));
  }
  std::vector<Selector> out;
  out.reserve(in.size());
  for (int i = 0; i < in.size(); ++i) {
    std::string item = absl::StrCat(field, "[", i, "]");
    auto selector = Selector::Make(in[i].type(), in[i].value());
    if (!selector.ok()) return FieldError(item, selector.status().message());
    if (!IsKnownSelectorType(selector->type())) {
      return FieldError(item, absl::StrCat("unknown selector type \"", selector->type(), "\""));
    }
    out.push_back(*std::move(selector));
  }
  spiffe::CanonicalizeSelectors(out);
  return out;
}

absl::StatusOr<RegistrationEntry> EntryFromProto(const admin::v1::Entry& in,
                                                 const spiffe::TrustDomain& td, bool require_id) {
  RegistrationEntry out;
  if (require_id && in.id().empty()) return FieldError("entry.id", "required");
  if (!in.id().empty()) {
    bool hex = in.id().size() == 32 && std::all_of(in.id().begin(), in.id().end(), [](char c) {
                 return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
               });
    if (!hex) return FieldError("entry.id", "must be 32 lowercase hex characters");
    out.id = in.id();
  }
  SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId id, OwnId("entry.spiffe_id", in.spiffe_id(), td));
  if (id.path().empty()) return FieldError("entry.spiffe_id", "a trust domain ID cannot be issued");
  if (id.path() == "/signet" || absl::StartsWith(id.path(), "/signet/")) {
    return FieldError("entry.spiffe_id", "the /signet/ path is reserved for servers and agents");
  }
  SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId parent, OwnId("entry.parent_id", in.parent_id(), td));
  if (parent == id) return FieldError("entry.parent_id", "an entry cannot be its own parent");
  out.spiffe_id = id.String();
  out.parent_id = parent.String();
  SIGNET_ASSIGN_OR_RETURN(out.selectors, SelectorsFromProto(in.selectors(), "entry.selectors"));
  if (out.selectors.empty()) return FieldError("entry.selectors", "at least one is required");
  SIGNET_RETURN_IF_ERROR(
      CheckTtl("entry.x509_svid_ttl", in.x509_svid_ttl(), kMaxX509SvidTtlSeconds));
  SIGNET_RETURN_IF_ERROR(CheckTtl("entry.jwt_svid_ttl", in.jwt_svid_ttl(), kMaxJwtSvidTtlSeconds));
  out.x509_svid_ttl_seconds = in.x509_svid_ttl();
  out.jwt_svid_ttl_seconds = in.jwt_svid_ttl();
  SIGNET_ASSIGN_OR_RETURN(out.dns_names, DnsNames(in.dns_names()));
  SIGNET_RETURN_IF_ERROR(CheckHint(in.hint()));
  out.hint = in.hint();
  out.admin = in.admin();
  out.downstream = in.downstream();
  SIGNET_ASSIGN_OR_RETURN(out.federates_with, FederatesWith(in.federates_with(), td));
  if (in.expires_at() < 0) return FieldError("entry.expires_at", "must not be negative");
  out.expires_at = FromUnix(in.expires_at());
  out.revision = in.revision();
  return out;
}

void EntryToProto(const RegistrationEntry& in, admin::v1::Entry* out) {
  out->set_id(in.id);
  out->set_spiffe_id(in.spiffe_id);
  out->set_parent_id(in.parent_id);
  SelectorsToProto(in.selectors, out->mutable_selectors());
  out->set_x509_svid_ttl(in.x509_svid_ttl_seconds);
  out->set_jwt_svid_ttl(in.jwt_svid_ttl_seconds);
  for (const std::string& d : in.dns_names) out->add_dns_names(d);
  out->set_hint(in.hint);
  out->set_admin(in.admin);
  out->set_downstream(in.downstream);
  for (const std::string& f : in.federates_with) out->add_federates_with(f);
  out->set_expires_at(ToUnixOrZero(in.expires_at));
  out->set_revision(in.revision);
  out->set_created_at(ToUnixOrZero(in.created_at));
}

absl::StatusOr<EntryFilter> FilterFromProto(const admin::v1::EntryFilter& in) {
  EntryFilter out;
  if (!in.by_spiffe_id().empty()) {
    auto id = spiffe::SpiffeId::Parse(in.by_spiffe_id());
    if (!id.ok()) return FieldError("filter.by_spiffe_id", id.status().message());
    out.spiffe_id = id->String();
  }
  if (!in.by_parent_id().empty()) {
    auto id = spiffe::SpiffeId::Parse(in.by_parent_id());
    if (!id.ok()) return FieldError("filter.by_parent_id", id.status().message());
    out.parent_id = id->String();
  }
  if (in.by_selectors_size() > 0) {
    SIGNET_ASSIGN_OR_RETURN(out.selectors,
                            SelectorsFromProto(in.by_selectors(), "filter.by_selectors"));
  }
  switch (in.selector_match()) {
    case admin::v1::SELECTOR_MATCH_EXACT:
      out.selector_match = SelectorMatch::kExact;
      break;
    case admin::v1::SELECTOR_MATCH_SUBSET:
      out.selector_match = SelectorMatch::kSubset;
      break;
    case admin::v1::SELECTOR_MATCH_SUPERSET:
      out.selector_match = SelectorMatch::kSuperset;
      break;
    case admin::v1::SELECTOR_MATCH_ANY:
      out.selector_match = SelectorMatch::kAny;
      break;
    default:
      return FieldError("filter.selector_match", "unknown match mode");
  }
  if (!in.by_federates_with().empty()) {
    auto td = spiffe::TrustDomain::Parse(in.by_federates_with());
    if (!td.ok()) return FieldError("filter.by_federates_with", td.status().message());
    out.federates_with = td->name();
  }
  return out;
}

}  // namespace signet::server
