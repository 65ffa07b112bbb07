// A small schema walker over yaml-cpp, shared by the server and agent configuration loaders.
//
// A loader describes its schema by asking for keys; the walker converts and range-checks values,
// remembers which keys were asked for, and reports every key nobody asked for as unknown. It never
// stops at the first problem: each problem is recorded with its 1-based line and the dotted path
// of the key ("datastore.driver", "admin_ids[2]") so that `signet server validate` can print them
// all at once.
//
//   ConfigProblems problems = WalkConfig(text, options, [&](ConfigMap& root) {
//     root.GetString("data_dir", &config.data_dir, Need::kRequired);
//     root.GetMap("log", [&](ConfigMap& log) {
//       log.GetEnum("level", &config.level, {{"info", Level::kInfo}, {"warn", Level::kWarn}});
//     });
//   });
//
// Getters leave `*out` untouched when an optional key is absent, so a struct holding the defaults
// can be filled in place. Each getter returns false exactly when it recorded a problem (a missing
// required key, a value of the wrong type or out of range), so callers can skip cross-checks that
// depend on a broken value.
//
// Environment expansion (ConfigOptions::expand_env) replaces `${NAME}` in the text before it is
// parsed; `$${` stands for a literal `${`. Lines whose first non-blank character is `#` are left
// alone. A value holding a line break is refused (it would move every later line number and could
// inject keys). Expansion is textual: a value is pasted into the YAML as is.
//
// yaml-cpp exceptions never escape this module. ConfigMap and ConfigValue are views used during
// one walk on one thread; they must not outlive the WalkConfig call that created them.
#ifndef SIGNET_COMMON_YAML_CONFIG_H_
#define SIGNET_COMMON_YAML_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

namespace signet {

// One thing wrong with a configuration.
struct ConfigProblem {
  int line = 0;      // 1-based; 0 when no line applies (e.g. a required top-level key is missing)
  std::string path;  // "datastore.driver", "admin_ids[1]"; empty for the document itself
  std::string message;

  // "server.yaml:3: datastore.driver: must be one of ..." (source and line are left out when
  // empty or 0).
  std::string ToString(absl::string_view source = "") const;
  bool operator==(const ConfigProblem&) const = default;
};
using ConfigProblems = std::vector<ConfigProblem>;
// Lets gtest print problems readably.
void PrintTo(const ConfigProblem& problem, std::ostream* os);

// OK when `problems` is empty, else InvalidArgument with one problem per line of the message.
absl::Status ProblemsToStatus(const ConfigProblems& problems, absl::string_view source = "");

// Returns the value of an environment variable, or nullopt when it is not defined.
using EnvLookup = std::function<std::optional<std::string>(absl::string_view name)>;
// Looks names up in the process environment (getenv).
EnvLookup ProcessEnvLookup();
// Looks names up in `vars` only (tests, or an environment assembled by the caller).
EnvLookup MapEnvLookup(absl::flat_hash_map<std::string, std::string> vars);

struct ConfigOptions {
  // Shown before each problem when formatted, usually the file's path.
  std::string source_name;
  // Expand ${NAME} before parsing.
  bool expand_env = false;
  // Where expansion looks names up; the process environment when empty. Tests inject a map.
  EnvLookup env_lookup;
};

// Largest configuration text accepted, in bytes.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// Expands ${NAME} in `text` (see the file comment), adding a problem for every undefined,
// malformed or multi-line variable. Problems leave the reference in place.
std::string ExpandEnv(absl::string_view text, const EnvLookup& lookup, ConfigProblems* problems);

// Parses a duration: "90s", "5m", "1h", "1h30m", "1h30m15s" (units h, m, s, each at most once,
// largest first) or a bare number of seconds ("3600"). Fails with InvalidArgument on negative,
// overflowing or malformed input.
absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text);

// Whether a key must be present.
enum class Need { kOptional, kRequired };

// Inclusive bounds for GetInt.
struct IntRange {
  int64_t min = INT64_MIN;
  int64_t max = INT64_MAX;
};

// Inclusive bounds for GetDuration.
struct DurationRange {
  absl::Duration min = absl::ZeroDuration();
  absl::Duration max = absl::InfiniteDuration();
};

// A sub-tree kept unparsed for a plugin to validate later with WalkRawConfig. Holds a reference
// to the parsed document, so it stays valid after the walk; copies share the tree, which yaml-cpp
// does not guard: read it from one thread at a time (plugins read it once, when created).
struct RawConfig {
  YAML::Node node;   // a map, or null when the configuration was empty ("join_token:")
  std::string path;  // where it sits, e.g. "node_attestors.jwt"
  int line = 0;      // line of its key
};

// One value in the document, with where it came from.
class ConfigValue {
 public:
  ConfigValue(YAML::Node node, std::string path, int line, ConfigProblems* problems)
      : node_(std::move(node)), path_(std::move(path)), line_(line), problems_(problems) {}

  const std::string& path() const { return path_; }
  int line() const { return line_; }
  const YAML::Node& node() const { return node_; }

  // Each conversion records a problem and returns false when the value does not fit.
  bool AsString(std::string* out);
  bool AsBool(bool* out);
  bool AsInt(int64_t* out, IntRange range = {});
  bool AsDuration(absl::Duration* out, DurationRange range = {});

  // Records a problem at this value.
  void AddProblem(std::string message);

 private:
  // The scalar text, or nullopt after recording "must be a <what>".
  std::optional<std::string> Scalar(absl::string_view what);

  YAML::Node node_;
  std::string path_;
  int line_;
  ConfigProblems* problems_;
};

// The keys of one YAML map (or of nothing, when the map is absent or null).
class ConfigMap {
 public:
  // `node` must be a map or null. `line` is where the map's key sits (0 for the root).
  // Records non-string and duplicate keys as problems.
  ConfigMap(const YAML::Node& node, std::string path, int line, ConfigProblems* problems);
  ConfigMap(const ConfigMap&) = delete;
  ConfigMap& operator=(const ConfigMap&) = delete;

  const std::string& path() const { return path_; }
  int line() const { return line_; }
  bool Has(absl::string_view key) const;
  // "parent.key" (or "key" at the root).
  std::string PathOf(absl::string_view key) const;
  // The line of `key`'s value when it is a scalar, else of the key; the map's line when absent.
  int LineOf(absl::string_view key) const;
  // Records a problem about `key` (at its line, or the map's when absent).
  void AddProblem(absl::string_view key, std::string message);

  // Finds `key` and marks it known. nullopt when absent (recording "required key is missing" if
  // `need` is kRequired).
  std::optional<ConfigValue> Get(absl::string_view key, Need need = Need::kOptional);

  bool GetString(absl::string_view key, std::string* out, Need need = Need::kOptional);
  bool GetBool(absl::string_view key, bool* out, Need need = Need::kOptional);
  bool GetInt(absl::string_view key, int64_t* out, IntRange range = {},
              Need need = Need::kOptional);
  bool GetDuration(absl::string_view key, absl::Duration* out, DurationRange range = {},
                   Need need = Need::kOptional);
  // A sequence of strings; every bad item is reported at its own line.
  bool GetStringList(absl::string_view key, std::vector<std::string>* out,
                     Need need = Need::kOptional);
  // Calls `fn` for each item of a sequence (path "key[i]").
  bool GetList(absl::string_view key, absl::FunctionRef<void(ConfigValue&)> fn,
               Need need = Need::kOptional);
  // One of `choices`, e.g. {{"sqlite", Driver::kSqlite}, {"postgres", Driver::kPostgres}}.
  template <typename E>
  bool GetEnum(absl::string_view key, E* out,
               std::initializer_list<std::pair<absl::string_view, E>> choices,
               Need need = Need::kOptional);
  // A nested map: calls `fn` with it (not when it is absent), then reports its unknown keys. A
  // null value ("key:" with nothing after it) is an empty map.
  bool GetMap(absl::string_view key, absl::FunctionRef<void(ConfigMap&)> fn,
              Need need = Need::kOptional);
  // A map (or null) kept as is, for a plugin; its keys are not checked here.
  bool GetRaw(absl::string_view key, RawConfig* out, Need need = Need::kOptional);

  // Calls `fn` with each key no getter has asked for yet, marking it known; for maps whose keys
  // are names (plugins) and that want their own message.
  void ForEachUnknownKey(absl::FunctionRef<void(absl::string_view key)> fn);
  // Records `unknown key "k"` (with a suggestion when a known key is spelled alike) for every
  // key nobody asked for. WalkConfig and GetMap call it for you.
  void ReportUnknownKeys();

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    int key_line;
    bool known = false;
  };
  Entry* Find(absl::string_view key);
  const Entry* Find(absl::string_view key) const;
  bool GetChoice(absl::string_view key, const std::vector<absl::string_view>& names, size_t* index,
                 Need need);

  std::string path_;
  int line_;
  ConfigProblems* problems_;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;  // every key asked for, present or not (for suggestions)
};

template <typename E>
bool ConfigMap::GetEnum(absl::string_view key, E* out,
                        std::initializer_list<std::pair<absl::string_view, E>> choices, Need need) {
  std::vector<absl::string_view> names;
  for (const auto& choice : choices) {
    names.push_back(choice.first);
  }
  size_t index = names.size();
  if (!GetChoice(key, names, &index, need)) {
    return false;
  }
  if (index < names.size()) {
    *out = (choices.begin() + index)->second;
  }
  return true;
}

// Expands (when asked), parses `text` and calls `fn` with the root map, then reports unknown
// top-level keys. An empty document is an empty map. A YAML syntax error is a single problem and
// `fn` is not called. Returns every problem, sorted by line (stable).
ConfigProblems WalkConfig(absl::string_view text, const ConfigOptions& options,
                          absl::FunctionRef<void(ConfigMap&)> fn);

// Walks a sub-tree kept by GetRaw; paths and lines are those of the original document.
ConfigProblems WalkRawConfig(const RawConfig& raw, absl::FunctionRef<void(ConfigMap&)> fn);

}  // namespace signet

#endif  // SIGNET_COMMON_YAML_CONFIG_H_
