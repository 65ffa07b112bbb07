#include "src/server/datastore/row_codec.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"
#include "src/server/datastore/validation.h"

namespace signet::server::internal {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

// Appends `s` as a JSON string. Stored text is valid UTF-8 (validation), so only quotes,
// backslashes and control characters need escaping.
void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendJsonStrings(const std::vector<std::string>& items, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    AppendJsonString(items[i], out);
  }
  out->push_back(']');
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
  bool Has(const char* name) const { return object_.contains(name); }
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
  // Fetched once: OpenSSL 3's one-shot SHA256() looks the algorithm up on every call.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (kSha256 == nullptr ||
      EVP_Digest(selectors_text.data(), selectors_text.size(), digest, &length, kSha256, nullptr) !=
          1 ||
      length < kSelectorHashBytes) {
    // A crypto library without SHA-256 is a broken installation, not a condition to handle.
    std::fprintf(stderr, "datastore: SHA-256 unavailable\n");
    std::abort();
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), kSelectorHashBytes));
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
  // Written directly (this runs once per created entry) and read back with the strict parser.
  // Members at their default value are left out: a third of the change log's size.
  std::string out;
  out.reserve(256);
  absl::StrAppend(&out, "{\"id\":");
  AppendJsonString(e.id, &out);
  absl::StrAppend(&out, ",\"spiffe_id\":");
  AppendJsonString(e.spiffe_id, &out);
  absl::StrAppend(&out, ",\"parent_id\":");
  AppendJsonString(e.parent_id, &out);
  absl::StrAppend(&out, ",\"selectors\":[");
  for (size_t i = 0; i < e.selectors.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",");
    AppendJsonString(e.selectors[i].ToString(), &out);
  }
  absl::StrAppend(&out, "],\"revision\":", e.revision,
                  ",\"created_at\":", absl::ToUnixSeconds(e.created_at));
  if (e.x509_svid_ttl_seconds != 0) {
    absl::StrAppend(&out, ",\"x509_svid_ttl_seconds\":", e.x509_svid_ttl_seconds);
  }
  if (e.jwt_svid_ttl_seconds != 0) {
    absl::StrAppend(&out, ",\"jwt_svid_ttl_seconds\":", e.jwt_svid_ttl_seconds);
  }
  if (!e.dns_names.empty()) {
    absl::StrAppend(&out, ",\"dns_names\":");
    AppendJsonStrings(e.dns_names, &out);
  }
  if (!e.hint.empty()) {
    absl::StrAppend(&out, ",\"hint\":");
    AppendJsonString(e.hint, &out);
  }
  if (e.admin) {
    absl::StrAppend(&out, ",\"admin\":true");
  }
  if (e.downstream) {
    absl::StrAppend(&out, ",\"downstream\":true");
  }
  if (!e.federates_with.empty()) {
    absl::StrAppend(&out, ",\"federates_with\":");
    AppendJsonStrings(e.federates_with, &out);
  }
  if (e.expires_at != absl::InfinitePast()) {
    absl::StrAppend(&out, ",\"expires_at\":", absl::ToUnixSeconds(e.expires_at));
  }
  absl::StrAppend(&out, "}");
  return out;
}

absl::StatusOr<RegistrationEntry> EntryFromJson(absl::string_view json) {
  // The change log's snapshots are read for every change an index follows: the one-pass
  // object parser, several times faster than the DOM parser, under the same strict rules.
  Json j = Json::object();
  SIGNET_RETURN_IF_ERROR(
      VisitStrictJsonObject(json, {}, [&](absl::string_view name, Json& value) -> absl::Status {
        j[std::string(name)] = std::move(value);
        return absl::OkStatus();
      }));
  static constexpr absl::string_view kMembers[] = {"id",
                                                   "spiffe_id",
                                                   "parent_id",
                                                   "selectors",
                                                   "revision",
                                                   "created_at",
                                                   "x509_svid_ttl_seconds",
                                                   "jwt_svid_ttl_seconds",
                                                   "dns_names",
                                                   "hint",
                                                   "admin",
                                                   "downstream",
                                                   "federates_with",
                                                   "expires_at"};
  for (const auto& [name, value] : j.items()) {
    if (std::find(std::begin(kMembers), std::end(kMembers), name) == std::end(kMembers)) {
      return Invalid(
          absl::StrCat("unknown member \"", absl::string_view(name).substr(0, 64), "\""));
    }
  }
  JsonReader r(j);
  RegistrationEntry e;
  constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
  constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
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
  SIGNET_ASSIGN_OR_RETURN(e.revision, r.Int("revision", 1, kInt64Max));
  SIGNET_ASSIGN_OR_RETURN(int64_t created_at, r.Int("created_at", kInt64Min, kInt64Max));
  e.created_at = TimeFromSeconds(created_at);
  // The members below are absent when at their default value.
  if (r.Has("x509_svid_ttl_seconds")) {
    SIGNET_ASSIGN_OR_RETURN(e.x509_svid_ttl_seconds, r.Int("x509_svid_ttl_seconds", 0, kInt32Max));
  }
  if (r.Has("jwt_svid_ttl_seconds")) {
    SIGNET_ASSIGN_OR_RETURN(e.jwt_svid_ttl_seconds, r.Int("jwt_svid_ttl_seconds", 0, kInt32Max));
  }
  if (r.Has("dns_names")) {
    SIGNET_ASSIGN_OR_RETURN(e.dns_names, r.Strings("dns_names"));
  }
  if (r.Has("hint")) {
    SIGNET_ASSIGN_OR_RETURN(e.hint, r.String("hint"));
  }
  if (r.Has("admin")) {
    SIGNET_ASSIGN_OR_RETURN(e.admin, r.Bool("admin"));
  }
  if (r.Has("downstream")) {
    SIGNET_ASSIGN_OR_RETURN(e.downstream, r.Bool("downstream"));
  }
  if (r.Has("federates_with")) {
    SIGNET_ASSIGN_OR_RETURN(e.federates_with, r.Strings("federates_with"));
  }
  if (r.Has("expires_at")) {
    SIGNET_ASSIGN_OR_RETURN(int64_t expires_at, r.Int("expires_at", kInt64Min, kInt64Max));
    e.expires_at = TimeFromSeconds(expires_at);
  }
  SIGNET_RETURN_IF_ERROR(CheckStoredEntry(e));
  return e;
}

}  // namespace signet::server::internal
