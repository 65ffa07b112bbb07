#include "src/agent/workload/cgroup.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace signet::agent {
namespace {

bool IsHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isxdigit(c) && !absl::ascii_isupper(c);
         });
}

// A container runtime's scope name: "<prefix>-<id>.scope".
bool IsContainerScope(absl::string_view component) {
  if (!absl::ConsumeSuffix(&component, ".scope")) return false;
  size_t dash = component.rfind('-');
  return dash != absl::string_view::npos && IsHex64(component.substr(dash + 1));
}

std::vector<absl::string_view> Components(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

}  // namespace

std::vector<std::string> CgroupPaths(absl::string_view cgroup_file) {
  std::vector<std::string> v2;
  std::vector<std::string> systemd;
  std::vector<std::string> v1;
  for (absl::string_view line : absl::StrSplit(cgroup_file, '\n', absl::SkipEmpty())) {
    // hierarchy-ID:controller-list:path; the path may itself contain ':'.
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3 || !absl::StartsWith(parts[2], "/")) continue;
    std::string path(parts[2]);
    if (parts[0] == "0" && parts[1].empty()) {
      v2.push_back(path);
    } else if (parts[1] == "name=systemd") {
      systemd.push_back(path);
    } else {
      v1.push_back(path);
    }
  }
  std::vector<std::string> out;
  for (auto* list : {&v2, &systemd, &v1}) {
    for (std::string& p : *list) {
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(std::move(p));
    }
  }
  return out;
}

std::optional<std::string> SystemdUnit(absl::string_view path) {
  std::vector<absl::string_view> parts = Components(path);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (absl::EndsWith(*it, ".service") ||
        (absl::EndsWith(*it, ".scope") && !IsContainerScope(*it))) {
      return std::string(*it);
    }
    if (IsContainerScope(*it)) return std::nullopt;  // inside a container, not a unit of its own
  }
  return std::nullopt;
}

std::optional<std::string> ContainerId(absl::string_view path) {
  std::vector<absl::string_view> parts = Components(path);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    absl::string_view c = *it;
    absl::ConsumeSuffix(&c, ".scope");
    size_t dash = c.rfind('-');
    absl::string_view id = dash == absl::string_view::npos ? c : c.substr(dash + 1);
    if (IsHex64(id)) return std::string(id);
  }
  return std::nullopt;
}

std::optional<std::string> PodUid(absl::string_view path) {
  for (absl::string_view c : Components(path)) {
    absl::ConsumeSuffix(&c, ".slice");
    size_t at = c.rfind("pod");
    if (at == absl::string_view::npos) continue;
    std::string uid = absl::StrReplaceAll(c.substr(at + 3), {{"_", "-"}});
    // A UUID: 36 characters, dashes at 8, 13, 18, 23.
    if (uid.size() == 36 && uid[8] == '-' && uid[13] == '-' && uid[18] == '-' && uid[23] == '-' &&
        std::all_of(uid.begin(), uid.end(),
                    [](char ch) { return ch == '-' || absl::ascii_isxdigit(ch); })) {
      return absl::AsciiStrToLower(uid);
    }
  }
  return std::nullopt;
}

}  // namespace signet::agent
