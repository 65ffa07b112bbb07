#include "src/common/config_text.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "src/common/yaml_config.h"

namespace signet {
namespace config_internal {

std::string Quote(absl::string_view text) {
  constexpr size_t kMaxShown = 64;
  if (text.size() > kMaxShown) {
    return absl::StrCat("\"", text.substr(0, kMaxShown), "...\"");
  }
  return absl::StrCat("\"", text, "\"");
}

bool IsDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit);
}

bool ParseDigits(absl::string_view digits, int64_t* out) {
  int64_t value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, c - '0', &value)) {
      return false;
    }
  }
  *out = value;
  return true;
}

}  // namespace config_internal

namespace {

using config_internal::IsDigits;
using config_internal::ParseDigits;
using config_internal::Quote;

bool IsFullLineComment(absl::string_view line) {
  return absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "#");
}

bool ValidEnvName(absl::string_view name) {
  return !name.empty() && !absl::ascii_isdigit(name[0]) &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

// Expands the references in one line (without its '\n'). A reference that fails stays as is.
void ExpandLine(absl::string_view line, int line_number, const EnvLookup& lookup, std::string* out,
                ConfigProblems* problems) {
  size_t i = 0;
  while (i < line.size()) {
    if (line.substr(i, 3) == "$${") {
      out->append("${");
      i += 3;
      continue;
    }
    if (line.substr(i, 2) != "${") {
      out->push_back(line[i++]);
      continue;
    }
    const size_t close = line.find('}', i + 2);
    if (close == absl::string_view::npos) {
      problems->push_back({line_number, "", "unterminated \"${\" (write \"$${\" for a literal)"});
      absl::StrAppend(out, line.substr(i));
      return;
    }
    const absl::string_view name = line.substr(i + 2, close - i - 2);
    const absl::string_view reference = line.substr(i, close + 1 - i);
    i = close + 1;
    std::optional<std::string> value;
    std::string problem;
    if (!ValidEnvName(name)) {
      problem =
          absl::StrCat("invalid environment variable name ", Quote(name), " in ", Quote(reference));
    } else if (value = lookup(name); !value.has_value()) {
      problem = absl::StrCat("undefined environment variable ", Quote(name));
    } else if (absl::StrContains(*value, '\n') || absl::StrContains(*value, '\r') ||
               absl::StrContains(*value, '\0')) {
      problem =
          absl::StrCat("environment variable ", Quote(name), " contains a line break or NUL byte");
    }
    if (problem.empty()) {
      out->append(*value);
    } else {
      problems->push_back({line_number, "", std::move(problem)});
      absl::StrAppend(out, reference);
    }
  }
}

}  // namespace

EnvLookup ProcessEnvLookup() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
}

EnvLookup MapEnvLookup(absl::flat_hash_map<std::string, std::string> vars) {
  return [vars = std::move(vars)](absl::string_view name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

std::string ExpandEnv(absl::string_view text, const EnvLookup& lookup, ConfigProblems* problems) {
  std::string out;
  out.reserve(text.size());
  int line_number = 1;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const absl::string_view line = text.substr(0, end);
    if (IsFullLineComment(line)) {
      absl::StrAppend(&out, line);
    } else {
      ExpandLine(line, line_number, lookup, &out, problems);
    }
    if (end == absl::string_view::npos) {
      break;
    }
    out.push_back('\n');
    text.remove_prefix(end + 1);
    ++line_number;
  }
  return out;
}

absl::StatusOr<absl::Duration> ParseConfigDuration(absl::string_view text) {
  auto invalid = [text](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration ", Quote(text), ": ", why));
  };
  if (text.empty()) {
    return invalid("empty");
  }
  if (text[0] == '-') {
    return invalid("must not be negative");
  }
  int64_t seconds = 0;
  if (IsDigits(text)) {
    if (!ParseDigits(text, &seconds)) {
      return invalid("too large");
    }
    return absl::Seconds(seconds);
  }
  constexpr absl::string_view kUnits = "hms";
  constexpr int64_t kUnitSeconds[] = {3600, 60, 1};
  size_t next_unit = 0;  // units must appear largest first, each at most once
  absl::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() && absl::ascii_isdigit(rest[digits])) {
      ++digits;
    }
    if (digits == 0 || digits == rest.size()) {
      return invalid("want a number of seconds or numbers with units h, m, s (e.g. 1h30m)");
    }
    const size_t unit = kUnits.find(rest[digits]);
    if (unit == absl::string_view::npos) {
      return invalid(absl::StrCat("unknown unit \"", rest.substr(digits, 1), "\" (use h, m, s)"));
    }
    if (unit < next_unit) {
      return invalid("units must appear once each, in the order h, m, s");
    }
    next_unit = unit + 1;
    int64_t amount = 0;
    if (!ParseDigits(rest.substr(0, digits), &amount) ||
        __builtin_mul_overflow(amount, kUnitSeconds[unit], &amount) ||
        __builtin_add_overflow(seconds, amount, &seconds)) {
      return invalid("too large");
    }
    rest.remove_prefix(digits + 1);
  }
  return absl::Seconds(seconds);
}

}  // namespace signet
