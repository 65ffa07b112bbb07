#include "src/common/yaml_config.h"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "src/common/config_text.h"
#include "src/common/yaml_syntax.h"
#include "yaml-cpp/depthguard.h"

namespace signet {
namespace {

using config_internal::IsDigits;
using config_internal::ParseDigits;
using config_internal::Quote;

// 1-based line of `node`, or 0 when yaml-cpp has none (a null value's mark points elsewhere).
int NodeLine(const YAML::Node& node) {
  const int line = node.Mark().line;
  return line >= 0 ? line + 1 : 0;
}

absl::string_view KindName(const YAML::Node& node) {
  return node.IsMap()        ? "a map"
         : node.IsSequence() ? "a list"
         : node.IsScalar()   ? "a scalar"
                             : "empty";
}

// Classic edit distance, for "did you mean" suggestions on unknown keys.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string OutOfRange(absl::string_view min, bool unbounded, absl::string_view max,
                       absl::string_view got) {
  if (unbounded) {
    return absl::StrCat("must be at least ", min, ", not ", got);
  }
  return absl::StrCat("must be between ", min, " and ", max, ", not ", got);
}

// Drops the node properties (tags "!t", "!<...>", anchors "&a") at the front of `rest`, and the
// blanks after each.
absl::string_view SkipNodeProperties(absl::string_view rest) {
  while (!rest.empty() && (rest.front() == '!' || rest.front() == '&')) {
    size_t end = rest.find_first_of(" \t,");
    rest = end == absl::string_view::npos ? "" : rest.substr(end);
    rest = absl::StripLeadingAsciiWhitespace(rest);
  }
  return rest;
}

// yaml-cpp 0.7 (Debian 12) never returns, allocating without bound, when a document's first
// token is a ',', also after node properties ("!t ,", "&a\n,"; found by fuzz/config_fuzz). A
// config is one document, so before yaml-cpp sees the text: refuse document markers after the
// first line and a ',' where the document's content starts.
bool CheckDocumentShape(absl::string_view text, ConfigProblems* problems) {
  int line_number = 0;
  bool seen_content = false;
  bool seen_start = false;  // a "---"
  bool ended = false;       // a "..."
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::string_view rest = line;
    if (absl::StartsWith(line, "...")) {
      ended = true;
      rest = line.substr(3);
    } else if (absl::StartsWith(line, "---")) {
      if (seen_content || seen_start || ended) {
        problems->push_back(
            {line_number, "", "only one YAML document is allowed (remove \"---\")"});
        return false;
      }
      seen_start = true;
      rest = line.substr(3);
    } else if (!seen_content && !seen_start && absl::StartsWith(line, "%")) {
      continue;  // a directive
    }
    rest = absl::StripLeadingAsciiWhitespace(rest);
    if (!seen_content) {
      rest = SkipNodeProperties(rest);  // the content may still start on a later line
    }
    if (rest.empty() || rest.front() == '#') continue;
    if (ended) {
      problems->push_back({line_number, "", "only one YAML document is allowed (remove \"...\")"});
      return false;
    }
    if (!seen_content && rest.front() == ',') {
      problems->push_back({line_number, "", "invalid YAML: a document cannot start with ','"});
      return false;
    }
    seen_content = true;
  }
  return true;
}

// Parses `text` as exactly one YAML document. Problems go to `problems`.
std::optional<YAML::Node> ParseDocument(const std::string& text, ConfigProblems* problems) {
  if (!CheckDocumentShape(text, problems) || !CheckYamlSyntax(text, problems)) {
    return std::nullopt;
  }
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp words a nesting error "bad file".
    const bool too_deep = dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr;
    problems->push_back({e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                         absl::StrCat("invalid YAML: ", too_deep ? "nesting is too deep" : e.msg)});
    return std::nullopt;
  }
  if (documents.size() > 1) {
    problems->push_back(
        {NodeLine(documents[1]), "", "only one YAML document is allowed (remove \"---\")"});
    return std::nullopt;
  }
  YAML::Node root = documents.empty() ? YAML::Node() : documents[0];
  if (!root.IsMap() && !root.IsNull()) {
    problems->push_back(
        {NodeLine(root), "",
         absl::StrCat("the configuration must be a map of keys, not ", KindName(root))});
    return std::nullopt;
  }
  return root;
}

void SortByLine(ConfigProblems* problems) {
  std::stable_sort(problems->begin(), problems->end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
}

// Runs `fn` on `root`, turning a stray yaml-cpp exception into a problem.
void WalkRoot(const YAML::Node& node, const std::string& path, int line, ConfigProblems* problems,
              absl::FunctionRef<void(ConfigMap&)> fn) {
  try {
    ConfigMap root(node, path, line, problems);
    fn(root);
    root.ReportUnknownKeys();
  } catch (const YAML::Exception& e) {
    problems->push_back({line, path, absl::StrCat("internal error reading YAML: ", e.msg)});
  }
}

}  // namespace

std::string ConfigProblem::ToString(absl::string_view source) const {
  std::string out(source);
  if (line > 0) {
    absl::StrAppend(&out, source.empty() ? "line " : ":", line);
  }
  if (!out.empty()) {
    out.append(": ");
  }
  if (!path.empty()) {
    absl::StrAppend(&out, path, ": ");
  }
  out.append(message);
  return out;
}

void PrintTo(const ConfigProblem& problem, std::ostream* os) {
  *os << "{" << problem.line << ", \"" << problem.path << "\", \"" << problem.message << "\"}";
}

absl::Status ProblemsToStatus(const ConfigProblems& problems, absl::string_view source) {
  if (problems.empty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrJoin(
      problems, "\n",
      [source](std::string* out, const ConfigProblem& p) { out->append(p.ToString(source)); }));
}

// ---------------------------------------------------------------- ConfigValue

void ConfigValue::AddProblem(std::string message) {
  problems_->push_back({line_, path_, std::move(message)});
}

std::optional<std::string> ConfigValue::Scalar(absl::string_view what) {
  if (node_.IsScalar()) {
    return node_.Scalar();
  }
  if (node_.IsNull()) {
    AddProblem(absl::StrCat("value is missing (want ", what, ")"));
  } else {
    AddProblem(absl::StrCat("must be ", what, ", not ", KindName(node_)));
  }
  return std::nullopt;
}

bool ConfigValue::AsString(std::string* out) {
  std::optional<std::string> text = Scalar("a string");
  if (!text.has_value()) {
    return false;
  }
  if (text->find('\0') != std::string::npos) {
    AddProblem("must not contain a NUL byte");
    return false;
  }
  *out = *std::move(text);
  return true;
}

bool ConfigValue::AsBool(bool* out) {
  std::optional<std::string> text = Scalar("true or false");
  if (!text.has_value()) {
    return false;
  }
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    *out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    *out = false;
  } else {
    AddProblem(absl::StrCat("must be true or false, not ", Quote(*text)));
    return false;
  }
  return true;
}

bool ConfigValue::AsInt(int64_t* out, IntRange range) {
  std::optional<std::string> text = Scalar("an integer");
  if (!text.has_value()) {
    return false;
  }
  absl::string_view digits = *text;
  const bool negative = absl::ConsumePrefix(&digits, "-");
  int64_t value = 0;
  // Leading zeros are refused: YAML 1.1 readers would take "0755" as octal.
  if (!IsDigits(digits) || (digits.size() > 1 && digits[0] == '0')) {
    AddProblem(absl::StrCat("must be a decimal integer, not ", Quote(*text)));
    return false;
  }
  if (!ParseDigits(digits, &value)) {
    AddProblem(absl::StrCat(Quote(*text), " is out of range"));
    return false;
  }
  value = negative ? -value : value;
  if (value < range.min || value > range.max) {
    AddProblem(OutOfRange(absl::StrCat(range.min), range.max == INT64_MAX, absl::StrCat(range.max),
                          absl::StrCat(value)));
    return false;
  }
  *out = value;
  return true;
}

bool ConfigValue::AsDuration(absl::Duration* out, DurationRange range) {
  std::optional<std::string> text = Scalar("a duration");
  if (!text.has_value()) {
    return false;
  }
  absl::StatusOr<absl::Duration> value = ParseConfigDuration(*text);
  if (!value.ok()) {
    AddProblem(std::string(value.status().message()));
    return false;
  }
  if (*value < range.min || *value > range.max) {
    AddProblem(OutOfRange(absl::FormatDuration(range.min), range.max == absl::InfiniteDuration(),
                          absl::FormatDuration(range.max), absl::FormatDuration(*value)));
    return false;
  }
  *out = *value;
  return true;
}

// ---------------------------------------------------------------- ConfigMap

ConfigMap::ConfigMap(const YAML::Node& node, std::string path, int line, ConfigProblems* problems)
    : path_(std::move(path)), line_(line), problems_(problems) {
  if (!node.IsMap()) {
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: `it->` yields a temporary pair.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const int key_line = NodeLine(key);
    if (!key.IsScalar()) {
      problems_->push_back({key_line, path_, "map keys must be strings"});
      continue;
    }
    Entry entry{.key = key.Scalar(), .value = value, .key_line = key_line};
    if (Find(entry.key) != nullptr) {
      problems_->push_back(
          {key_line, PathOf(entry.key), absl::StrCat("duplicate key ", Quote(entry.key))});
      continue;
    }
    entries_.push_back(std::move(entry));
  }
}

ConfigMap::Entry* ConfigMap::Find(absl::string_view key) {
  for (Entry& entry : entries_) {
    if (entry.key == key) {
      return &entry;
    }
  }
  return nullptr;
}

const ConfigMap::Entry* ConfigMap::Find(absl::string_view key) const {
  return const_cast<ConfigMap*>(this)->Find(key);
}

bool ConfigMap::Has(absl::string_view key) const { return Find(key) != nullptr; }

std::string ConfigMap::PathOf(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

int ConfigMap::LineOf(absl::string_view key) const {
  const Entry* entry = Find(key);
  if (entry == nullptr) {
    return line_;
  }
  // A scalar is pointed at where it is written (maybe the next line); a map, a list or nothing
  // at its key.
  return entry->value.IsScalar() ? NodeLine(entry->value) : entry->key_line;
}

void ConfigMap::AddProblem(absl::string_view key, std::string message) {
  problems_->push_back({LineOf(key), PathOf(key), std::move(message)});
}

std::optional<ConfigValue> ConfigMap::Get(absl::string_view key, Need need) {
  asked_.emplace_back(key);
  Entry* entry = Find(key);
  if (entry == nullptr) {
    if (need == Need::kRequired) {
      AddProblem(key, "required key is missing");
    }
    return std::nullopt;
  }
  entry->known = true;
  return ConfigValue(entry->value, PathOf(key), LineOf(key), problems_);
}

bool ConfigMap::GetString(absl::string_view key, std::string* out, Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  return value.has_value() ? value->AsString(out) : need == Need::kOptional;
}

bool ConfigMap::GetBool(absl::string_view key, bool* out, Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  return value.has_value() ? value->AsBool(out) : need == Need::kOptional;
}

bool ConfigMap::GetInt(absl::string_view key, int64_t* out, IntRange range, Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  return value.has_value() ? value->AsInt(out, range) : need == Need::kOptional;
}

bool ConfigMap::GetDuration(absl::string_view key, absl::Duration* out, DurationRange range,
                            Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  return value.has_value() ? value->AsDuration(out, range) : need == Need::kOptional;
}

bool ConfigMap::GetList(absl::string_view key, absl::FunctionRef<void(ConfigValue&)> fn,
                        Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  if (!value.has_value()) {
    return need == Need::kOptional;
  }
  const YAML::Node& node = value->node();
  if (!node.IsSequence()) {
    value->AddProblem(node.IsNull() ? "value is missing (want a list)"
                                    : absl::StrCat("must be a list, not ", KindName(node)));
    return false;
  }
  const size_t before = problems_->size();
  size_t index = 0;
  for (const YAML::Node& item : node) {
    const int line = item.IsNull() ? value->line() : NodeLine(item);
    ConfigValue item_value(item, absl::StrCat(value->path(), "[", index++, "]"), line, problems_);
    fn(item_value);
  }
  return problems_->size() == before;
}

bool ConfigMap::GetStringList(absl::string_view key, std::vector<std::string>* out, Need need) {
  std::vector<std::string> items;
  const bool ok = GetList(
      key,
      [&items](ConfigValue& item) {
        std::string text;
        if (item.AsString(&text)) {
          items.push_back(std::move(text));
        }
      },
      need);
  if (ok && Has(key)) {
    *out = std::move(items);
  }
  return ok;
}

bool ConfigMap::GetChoice(absl::string_view key, const std::vector<absl::string_view>& names,
                          size_t* index, Need need) {
  std::string text;
  if (!GetString(key, &text, need)) {
    return false;
  }
  if (!Has(key)) {
    return true;
  }
  const auto it = std::find(names.begin(), names.end(), text);
  if (it == names.end()) {
    AddProblem(key,
               absl::StrCat("must be one of ", absl::StrJoin(names, ", "), ", not ", Quote(text)));
    return false;
  }
  *index = static_cast<size_t>(it - names.begin());
  return true;
}

bool ConfigMap::GetMap(absl::string_view key, absl::FunctionRef<void(ConfigMap&)> fn, Need need) {
  RawConfig raw;
  if (!GetRaw(key, &raw, need) || !Has(key)) {
    return need == Need::kOptional && !Has(key);
  }
  const size_t before = problems_->size();
  ConfigMap child(raw.node, raw.path, raw.line, problems_);
  fn(child);
  child.ReportUnknownKeys();
  return problems_->size() == before;
}

bool ConfigMap::GetRaw(absl::string_view key, RawConfig* out, Need need) {
  std::optional<ConfigValue> value = Get(key, need);
  if (!value.has_value()) {
    return need == Need::kOptional;
  }
  if (!value->node().IsMap() && !value->node().IsNull()) {
    value->AddProblem(absl::StrCat("must be a map, not ", KindName(value->node())));
    return false;
  }
  *out = RawConfig{.node = value->node(), .path = value->path(), .line = Find(key)->key_line};
  return true;
}

void ConfigMap::ForEachUnknownKey(absl::FunctionRef<void(absl::string_view key)> fn) {
  for (Entry& entry : entries_) {
    if (!entry.known) {
      entry.known = true;
      fn(entry.key);
    }
  }
}

void ConfigMap::ReportUnknownKeys() {
  ForEachUnknownKey([this](absl::string_view key) {
    std::string message = absl::StrCat("unknown key ", Quote(key));
    const std::string* best = nullptr;
    size_t best_distance = 3;  // suggest only near misses
    for (const std::string& candidate : asked_) {
      const size_t distance = EditDistance(key, candidate);
      if (distance < best_distance && distance < candidate.size()) {
        best = &candidate;
        best_distance = distance;
      }
    }
    if (best != nullptr) {
      absl::StrAppend(&message, " (did you mean ", Quote(*best), "?)");
    }
    problems_->push_back({Find(key)->key_line, PathOf(key), std::move(message)});
  });
}

// ---------------------------------------------------------------- walking

ConfigProblems WalkConfig(absl::string_view text, const ConfigOptions& options,
                          absl::FunctionRef<void(ConfigMap&)> fn) {
  ConfigProblems problems;
  if (text.size() > kMaxConfigBytes) {
    problems.push_back(
        {0, "", absl::StrCat("the configuration is larger than ", kMaxConfigBytes, " bytes")});
    return problems;
  }
  std::string expanded(text);
  if (options.expand_env) {
    expanded =
        ExpandEnv(text, options.env_lookup ? options.env_lookup : ProcessEnvLookup(), &problems);
  }
  // A reference that failed to expand stays in the text; problems it would cause on its own line
  // are noise, so only the expansion problem is kept for that line.
  absl::flat_hash_set<int> expansion_lines;
  for (const ConfigProblem& problem : problems) {
    expansion_lines.insert(problem.line);
  }
  const size_t expansion_count = problems.size();
  std::optional<YAML::Node> root = ParseDocument(expanded, &problems);
  if (root.has_value()) {
    WalkRoot(*root, "", 0, &problems, fn);
  }
  problems.erase(
      std::remove_if(problems.begin() + static_cast<ptrdiff_t>(expansion_count), problems.end(),
                     [&](const ConfigProblem& p) { return expansion_lines.contains(p.line); }),
      problems.end());
  SortByLine(&problems);
  return problems;
}

ConfigProblems WalkRawConfig(const RawConfig& raw, absl::FunctionRef<void(ConfigMap&)> fn) {
  ConfigProblems problems;
  if (!raw.node.IsMap() && !raw.node.IsNull()) {
    problems.push_back({raw.line, raw.path, "must be a map"});
    return problems;
  }
  WalkRoot(raw.node, raw.path, raw.line, &problems, fn);
  SortByLine(&problems);
  return problems;
}

}  // namespace signet
