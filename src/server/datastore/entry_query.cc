#include "src/server/datastore/entry_query.h"

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/base64.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/validation.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server::internal {
namespace {

constexpr absl::string_view kTokenVersion = "v1";
constexpr size_t kMaxTokenLength = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<EntryQuery>> EntryQuery::Create(const EntryFilter& filter) {
  if (filter.spiffe_id.has_value()) {
    SIGNET_RETURN_IF_ERROR(
        Annotate(CheckSpiffeId("spiffe_id", *filter.spiffe_id, false), "datastore: filter"));
  }
  if (filter.parent_id.has_value()) {
    SIGNET_RETURN_IF_ERROR(
        Annotate(CheckSpiffeId("parent_id", *filter.parent_id, false), "datastore: filter"));
  }
  if (filter.shard.has_value() &&
      (filter.shard->count < 1 || filter.shard->count > kMaxShards || filter.shard->index < 0 ||
       filter.shard->index >= filter.shard->count)) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: filter: shard: need 0 <= index < count <= ", kMaxShards));
  }
  if (filter.federates_with.has_value() &&
      spiffe::ValidateTrustDomainName(*filter.federates_with) != spiffe::IdError::kNone) {
    return absl::InvalidArgumentError("datastore: filter: federates_with: not a trust domain name");
  }
  std::unique_ptr<EntryQuery> query(new EntryQuery(filter));
  if (query->filter_.selectors.has_value()) {
    spiffe::CanonicalizeSelectors(*query->filter_.selectors);
  }
  query->Build();
  return query;
}

void EntryQuery::Build() {
  where_ = "1 = 1";
  if (filter_.shard.has_value()) {
    // seq is the rowid on SQLite, so the id index alone decides, without reading rows.
    absl::StrAppend(&where_, " AND e.seq % ? = ?");
    params_.emplace_back(int64_t{filter_.shard->count});
    params_.emplace_back(int64_t{filter_.shard->index});
  }
  if (filter_.spiffe_id.has_value()) {
    absl::StrAppend(&where_, " AND e.spiffe_id = ?");
    params_.emplace_back(absl::string_view(*filter_.spiffe_id));
  }
  if (filter_.parent_id.has_value()) {
    absl::StrAppend(&where_, " AND e.parent_id = ?");
    params_.emplace_back(absl::string_view(*filter_.parent_id));
  }
  if (filter_.selectors.has_value()) {
    AddSelectorClause();
  }
  if (filter_.federates_with.has_value()) {
    absl::StrAppend(&where_,
                    " AND e.seq IN (SELECT f.entry_seq FROM entry_federates_with f WHERE "
                    "f.trust_domain = ?)");
    params_.emplace_back(absl::string_view(*filter_.federates_with));
  }
  if (filter_.admin.has_value()) {
    absl::StrAppend(&where_, " AND e.admin = ?");
    params_.emplace_back(int64_t{*filter_.admin ? 1 : 0});
  }
  if (filter_.downstream.has_value()) {
    absl::StrAppend(&where_, " AND e.downstream = ?");
    params_.emplace_back(int64_t{*filter_.downstream ? 1 : 0});
  }
}

void EntryQuery::AddSelectorClause() {
  const std::vector<Selector>& selectors = *filter_.selectors;
  // With a spiffe_id or parent_id filter the scan is driven by that index and each candidate's
  // selectors are checked through entry_selectors' primary key (correlated subqueries); without
  // one, the candidates come from the (type, value) index.
  const bool narrowed = filter_.spiffe_id.has_value() || filter_.parent_id.has_value();
  const SelectorMatch match = filter_.selector_match;
  if (match == SelectorMatch::kExact) {
    selector_hash_ = SelectorHash(SelectorsToText(selectors));
  }
  if (selectors.empty()) {
    // Every entry has a selector: all are supersets of {}; none equals {}, is a subset of it or
    // shares a selector with it.
    if (match != SelectorMatch::kSuperset) {
      absl::StrAppend(&where_, " AND 1 = 0");
    }
    return;
  }
  if (narrowed && match == SelectorMatch::kExact) {
    absl::StrAppend(&where_, " AND e.selector_hash = ?");
    params_.emplace_back(absl::string_view(selector_hash_));
    return;
  }
  const int64_t n = static_cast<int64_t>(selectors.size());
  if (narrowed) {
    // Compared as "type:value" (a type never contains ':') so that no database can use the
    // (type, value) index here: the check must go through entry_selectors' primary key, one
    // entry at a time. (Without statistics PostgreSQL otherwise scans the value index once per
    // candidate, which takes seconds when a selector is common.)
    std::string in_list;
    selector_texts_.reserve(selectors.size());
    for (size_t i = 0; i < selectors.size(); ++i) {
      selector_texts_.push_back(selectors[i].ToString());
      absl::StrAppend(&in_list, i == 0 ? "?" : ", ?");
    }
    for (const std::string& text : selector_texts_) {
      params_.emplace_back(absl::string_view(text));
    }
    const std::string matching =
        absl::StrCat("SELECT COUNT(*) FROM entry_selectors s WHERE s.entry_seq = e.seq AND ",
                     "s.type || ':' || s.value IN (", in_list, ")");
    switch (match) {
      case SelectorMatch::kAny:
        absl::StrAppend(&where_, " AND (", matching, ") > 0");
        break;
      case SelectorMatch::kSuperset:
        absl::StrAppend(&where_, " AND (", matching, ") = ?");
        params_.emplace_back(n);
        break;
      case SelectorMatch::kSubset:
        absl::StrAppend(&where_, " AND (", matching, ") = e.selector_count");
        break;
      case SelectorMatch::kExact:
        break;
    }
    return;
  }
  std::string any = "(";
  for (size_t i = 0; i < selectors.size(); ++i) {
    absl::StrAppend(&any, i == 0 ? "" : " OR ", "(s.type = ? AND s.value = ?)");
    params_.emplace_back(absl::string_view(selectors[i].type()));
    params_.emplace_back(absl::string_view(selectors[i].value()));
  }
  absl::StrAppend(&any, ")");
  const std::string candidates =
      absl::StrCat("SELECT s.entry_seq FROM entry_selectors s WHERE ", any);
  switch (match) {
    case SelectorMatch::kAny:
      absl::StrAppend(&where_, " AND e.seq IN (", candidates, ")");
      break;
    case SelectorMatch::kSuperset:
      absl::StrAppend(&where_, " AND e.seq IN (", candidates,
                      " GROUP BY s.entry_seq HAVING COUNT(*) = ?)");
      params_.emplace_back(n);
      break;
    case SelectorMatch::kExact:
      absl::StrAppend(&where_, " AND e.seq IN (", candidates,
                      " GROUP BY s.entry_seq HAVING COUNT(*) = ?) AND e.selector_hash = ?");
      params_.emplace_back(n);
      params_.emplace_back(absl::string_view(selector_hash_));
      break;
    case SelectorMatch::kSubset:
      // Entries all of whose selectors are among the filter's: the number of their selectors
      // found in the filter equals their selector count.
      absl::StrAppend(&where_, " AND e.seq IN (", candidates,
                      " GROUP BY s.entry_seq HAVING COUNT(*) = "
                      "(SELECT c.selector_count FROM entries c WHERE c.seq = s.entry_seq))");
      break;
  }
}

std::string EncodePageToken(absl::string_view tag, absl::string_view last_key) {
  return Base64UrlEncode(absl::StrCat(kTokenVersion, ":", tag, ":", last_key));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view tag, absl::string_view token) {
  absl::Status bad = absl::InvalidArgumentError("datastore: page_token: not a valid page token");
  if (token.size() > kMaxTokenLength) {
    return bad;
  }
  absl::StatusOr<std::string> decoded = Base64UrlDecode(token);
  if (!decoded.ok()) {
    return bad;
  }
  absl::string_view rest = *decoded;
  if (!absl::ConsumePrefix(&rest, kTokenVersion) || !absl::ConsumePrefix(&rest, ":") ||
      !absl::ConsumePrefix(&rest, tag) || !absl::ConsumePrefix(&rest, ":") || rest.empty()) {
    return bad;
  }
  return std::string(rest);
}

}  // namespace signet::server::internal
