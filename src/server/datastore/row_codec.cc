#include "src/server/datastore/row_codec.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"
#include "src/crypto/signature.h"
#include "src/server/datastore/validation.h"

namespace signet::server::internal {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

nlohmann::json TimeJson(absl::Time t) {
  if (t == absl::InfinitePast()) {
    return nullptr;
  }
  return absl::ToUnixSeconds(t);
}

// Readers of one member of a JSON object; every member is required.
class JsonReader {
 public:
  explicit JsonReader(const Json& object) : object_(object) {}

  absl::StatusOr<const Json*> Member(const char* name) const {
    auto it = object_.find(name);
    if (it == object_.end()) {
      return Invalid(absl::StrCat(name, ": missing"));
    }
    return &*it;
  }
  absl::StatusOr<std::string> String(const char* name) const {
    SIGNET_ASSIGN_OR_RETURN(const Json* v, Member(name));
    if (!v->is_string()) {
      return Invalid(absl::StrCat(name, ": expected a string, found ", JsonTypeName(*v)));
    }
    return v->get<std::string>();
  }
  absl::StatusOr<int64_t> Int(const char* name, int64_t min, int64_t max) const {
    SIGNET_ASSIGN_OR_RETURN(const Json* v, Member(name));
    if (!v->is_number_integer()) {
      return Invalid(absl::StrCat(name, ": expected an integer, found ", JsonTypeName(*v)));
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(max)) {
      return Invalid(absl::StrCat(name, ": out of range"));
    }
    int64_t value = v->get<int64_t>();
    if (value < min || value > max) {
      return Invalid(absl::StrCat(name, ": out of range"));
    }
    return value;
  }
  absl::StatusOr<bool> Bool(const char* name) const {
    SIGNET_ASSIGN_OR_RETURN(const Json* v, Member(name));
    if (!v->is_boolean()) {
      return Invalid(absl::StrCat(name, ": expected a boolean, found ", JsonTypeName(*v)));
    }
    return v->get<bool>();
  }
  absl::StatusOr<absl::Time> OptionalTime(const char* name) const {
    SIGNET_ASSIGN_OR_RETURN(const Json* v, Member(name));
    if (v->is_null()) {
      return absl::InfinitePast();
    }
    SIGNET_ASSIGN_OR_RETURN(int64_t seconds, Int(name, std::numeric_limits<int64_t>::min(),
                                                 std::numeric_limits<int64_t>::max()));
    return TimeFromSeconds(seconds);
  }
  absl::StatusOr<std::vector<std::string>> Strings(const char* name) const {
    SIGNET_ASSIGN_OR_RETURN(const Json* v, Member(name));
    if (!v->is_array()) {
      return Invalid(absl::StrCat(name, ": expected an array, found ", JsonTypeName(*v)));
    }
    std::vector<std::string> out;
    for (const Json& item : *v) {
      if (!item.is_string()) {
        return Invalid(absl::StrCat(name, ": expected strings, found ", JsonTypeName(item)));
      }
      out.push_back(item.get<std::string>());
    }
    return out;
  }

 private:
  const Json& object_;
};

}  // namespace

std::string JoinList(absl::Span<const std::string> items) {
  std::string out;
  for (const std::string& item : items) {
    absl::StrAppend(&out, item, "\n");
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SplitList(absl::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == absl::string_view::npos) {
      return Invalid("malformed list (no terminating newline)");
    }
    out.emplace_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  return out;
}

std::string SelectorsToText(const std::vector<Selector>& selectors) {
  std::string out;
  for (const Selector& s : selectors) {
    absl::StrAppend(&out, s.type(), ":", s.value(), "\n");
  }
  return out;
}

absl::StatusOr<std::vector<Selector>> SelectorsFromText(absl::string_view text) {
  SIGNET_ASSIGN_OR_RETURN(std::vector<std::string> lines, SplitList(text));
  std::vector<Selector> out;
  out.reserve(lines.size());
  for (const std::string& line : lines) {
    SIGNET_ASSIGN_OR_RETURN(Selector s, Selector::Parse(line));
    if (!out.empty() && !(out.back() < s)) {
      return Invalid("selectors not sorted and unique");
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string SelectorHash(absl::string_view selectors_text) {
  return absl::BytesToHexString(crypto::Sha256(selectors_text));
}

sql::Param TimeParam(absl::Time t) {
  if (t == absl::InfinitePast()) {
    return nullptr;
  }
  return absl::ToUnixSeconds(t);
}

absl::Time TimeFromSeconds(int64_t seconds) { return absl::FromUnixSeconds(seconds); }

absl::StatusOr<int32_t> RowReader::Int32(size_t col) const {
  SIGNET_ASSIGN_OR_RETURN(int64_t v, Int64(col));
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return Corrupt(col, absl::StrCat("value ", v, " out of range"));
  }
  return static_cast<int32_t>(v);
}

absl::StatusOr<bool> RowReader::Bool(size_t col) const {
  SIGNET_ASSIGN_OR_RETURN(int64_t v, Int64(col));
  if (v != 0 && v != 1) {
    return Corrupt(col, absl::StrCat("expected 0 or 1, found ", v));
  }
  return v == 1;
}

absl::StatusOr<absl::Time> RowReader::OptionalTime(size_t col) const {
  if (result_.IsNull(row_, col)) {
    return absl::InfinitePast();
  }
  return Time(col);
}

absl::StatusOr<absl::Time> RowReader::Time(size_t col) const {
  SIGNET_ASSIGN_OR_RETURN(int64_t v, Int64(col));
  return TimeFromSeconds(v);
}

absl::StatusOr<std::vector<std::string>> RowReader::List(size_t col) const {
  SIGNET_ASSIGN_OR_RETURN(std::string text, Text(col));
  absl::StatusOr<std::vector<std::string>> list = SplitList(text);
  if (!list.ok()) {
    return Corrupt(col, list.status().message());
  }
  return list;
}

absl::StatusOr<std::vector<Selector>> RowReader::Selectors(size_t col) const {
  SIGNET_ASSIGN_OR_RETURN(std::string text, Text(col));
  absl::StatusOr<std::vector<Selector>> selectors = SelectorsFromText(text);
  if (!selectors.ok()) {
    return Corrupt(col, selectors.status().message());
  }
  return selectors;
}

std::string EntryToJson(const RegistrationEntry& e) {
  Json selectors = Json::array();
  for (const Selector& s : e.selectors) {
    selectors.push_back(s.ToString());
  }
  Json j = {
      {"id", e.id},
      {"spiffe_id", e.spiffe_id},
      {"parent_id", e.parent_id},
      {"selectors", std::move(selectors)},
      {"x509_svid_ttl_seconds", e.x509_svid_ttl_seconds},
      {"jwt_svid_ttl_seconds", e.jwt_svid_ttl_seconds},
      {"dns_names", e.dns_names},
      {"hint", e.hint},
      {"admin", e.admin},
      {"downstream", e.downstream},
      {"federates_with", e.federates_with},
      {"expires_at", TimeJson(e.expires_at)},
      {"revision", e.revision},
      {"created_at", TimeJson(e.created_at)},
  };
  return j.dump();
}

absl::StatusOr<RegistrationEntry> EntryFromJson(absl::string_view json) {
  SIGNET_ASSIGN_OR_RETURN(Json j, ParseStrictJson(json));
  if (!j.is_object()) {
    return Invalid(absl::StrCat("expected an object, found ", JsonTypeName(j)));
  }
  JsonReader r(j);
  RegistrationEntry e;
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  SIGNET_ASSIGN_OR_RETURN(e.id, r.String("id"));
  SIGNET_ASSIGN_OR_RETURN(e.spiffe_id, r.String("spiffe_id"));
  SIGNET_ASSIGN_OR_RETURN(e.parent_id, r.String("parent_id"));
  SIGNET_ASSIGN_OR_RETURN(std::vector<std::string> selectors, r.Strings("selectors"));
  for (const std::string& text : selectors) {
    absl::StatusOr<Selector> s = Selector::Parse(text);
    if (!s.ok()) {
      return Annotate(s.status(), "selectors");
    }
    e.selectors.push_back(*std::move(s));
  }
  SIGNET_ASSIGN_OR_RETURN(e.x509_svid_ttl_seconds, r.Int("x509_svid_ttl_seconds", 0, kInt32Max));
  SIGNET_ASSIGN_OR_RETURN(e.jwt_svid_ttl_seconds, r.Int("jwt_svid_ttl_seconds", 0, kInt32Max));
  SIGNET_ASSIGN_OR_RETURN(e.dns_names, r.Strings("dns_names"));
  SIGNET_ASSIGN_OR_RETURN(e.hint, r.String("hint"));
  SIGNET_ASSIGN_OR_RETURN(e.admin, r.Bool("admin"));
  SIGNET_ASSIGN_OR_RETURN(e.downstream, r.Bool("downstream"));
  SIGNET_ASSIGN_OR_RETURN(e.federates_with, r.Strings("federates_with"));
  SIGNET_ASSIGN_OR_RETURN(e.expires_at, r.OptionalTime("expires_at"));
  SIGNET_ASSIGN_OR_RETURN(e.revision, r.Int("revision", 1, kInt64Max));
  SIGNET_ASSIGN_OR_RETURN(e.created_at, r.OptionalTime("created_at"));
  if (e.created_at == absl::InfinitePast()) {
    return Invalid("created_at: missing");
  }
  SIGNET_RETURN_IF_ERROR(CheckStoredEntry(e));
  return e;
}

}  // namespace signet::server::internal
