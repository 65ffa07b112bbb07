// Fuzzes /proc/PID/cgroup parsing and the unit, container and pod extraction on every path it
// yields. A container ID is always 64 lowercase hex digits; a pod UID always 36 characters.
#include <cstdint>
#include <cstdlib>

#include "src/agent/workload/cgroup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  for (const std::string& path : signet::agent::CgroupPaths(text)) {
    if (path.empty() || path[0] != '/') std::abort();
    (void)signet::agent::SystemdUnit(path);
    std::optional<std::string> id = signet::agent::ContainerId(path);
    if (id.has_value() && id->size() != 64) std::abort();
    std::optional<std::string> pod = signet::agent::PodUid(path);
    if (pod.has_value() && pod->size() != 36) std::abort();
  }
  return 0;
}
