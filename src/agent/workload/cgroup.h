// What a process's cgroup membership (/proc/PID/cgroup) says about where it runs: its systemd
// unit, its container ID and its Kubernetes pod UID. Handles cgroup v1 and v2, systemd and
// cgroupfs drivers, and the Docker, containerd (cri-containerd), CRI-O and Podman layouts.
#ifndef SIGNET_AGENT_WORKLOAD_CGROUP_H_
#define SIGNET_AGENT_WORKLOAD_CGROUP_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace signet::agent {

// The cgroup paths of a /proc/PID/cgroup text: the v2 ("0::") path first when there is one,
// then the v1 paths (name=systemd first), each once. Malformed lines are skipped.
std::vector<std::string> CgroupPaths(absl::string_view cgroup_file);

// The systemd unit a cgroup path puts the process in: its last ".service" or ".scope" component
// ("nginx.service", "session-3.scope"), unless that scope is a container's.
std::optional<std::string> SystemdUnit(absl::string_view path);

// The 64-hex-digit container ID in a cgroup path ("/docker/<id>", ".../docker-<id>.scope",
// ".../cri-containerd-<id>.scope", "crio-<id>.scope", "libpod-<id>.scope", a bare "<id>").
std::optional<std::string> ContainerId(absl::string_view path);

// The pod UID of a Kubernetes cgroup path ("pod<uid>" or, with the systemd driver,
// "kubepods-<qos>-pod<uid with _>.slice"), with dashes.
std::optional<std::string> PodUid(absl::string_view path);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_CGROUP_H_
