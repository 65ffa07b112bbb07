// Workload attestation, agent side: what the kernel says about the process at the other end of
// a Workload API connection, turned into selectors. The caller's uid and gid come from
// SO_PEERCRED (captured by the kernel at connect time); everything read from /proc afterwards is
// trusted only if the pidfd taken at accept time shows the process is still the one that
// connected (a PID reused by another process can never be attested in its place).
#ifndef SIGNET_AGENT_WORKLOAD_WORKLOAD_ATTESTOR_H_
#define SIGNET_AGENT_WORKLOAD_WORKLOAD_ATTESTOR_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "src/common/clock.h"
#include "src/rpc/uds_listener.h"
#include "src/spiffe/selector.h"

namespace signet::agent {

// The caller as the listener saw it.
struct WorkloadProcess {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::shared_ptr<const rpc::PidFd> pidfd;  // required: attestation fails without it
};

class WorkloadAttestor {
 public:
  virtual ~WorkloadAttestor() = default;
  virtual absl::string_view type() const = 0;
  // The selectors this attestor finds for `process` (type() is their type). A fact that cannot
  // be read is left out rather than guessed; errors are for failures that make the whole
  // attestation untrustworthy.
  virtual absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess& process) = 0;
};

// `unix` attestor settings (agent.yaml workload_attestors.unix).
struct UnixAttestorConfig {
  // Add unix:sha256:<hex> of the binary (/proc/PID/exe), cached by device, inode, size and mtime.
  bool sha256 = false;
  int64_t max_binary_bytes = 256 << 20;  // binaries larger than this get no sha256 selector
};

// unix: uid, gid, user, group (names from the agent's passwd and group databases),
// supplementary_gid (from /proc/PID/status), path (/proc/PID/exe) and, when configured, sha256.
// `proc_root` is "/proc" in production; tests point it at a fixture tree.
std::unique_ptr<WorkloadAttestor> CreateUnixAttestor(const UnixAttestorConfig& config,
                                                     std::string proc_root = "/proc");

// systemd: systemd:id:<unit> for the unit the process's cgroup puts it in ("nginx.service"),
// read from <proc_root>/PID/cgroup. A process in no unit (or in a container) gets none.
std::unique_ptr<WorkloadAttestor> CreateSystemdAttestor(std::string proc_root = "/proc");

// `docker` attestor settings (agent.yaml workload_attestors.docker).
struct DockerAttestorConfig {
  std::string socket_path = "/var/run/docker.sock";  // the Docker Engine API
  // Environment variables to turn into docker:env:<KEY>=<value> selectors. Only these: a
  // container's environment often holds secrets, and selectors are matched and logged.
  std::vector<std::string> env_keys;
};

// Image registry policy: when `allowed` is not empty, a container whose image reference names
// another registry gets no identity at all. The registry of "nginx:1.25" is docker.io.
std::string ImageRegistry(absl::string_view image);

// docker (and containerd's cgroup layouts): the container ID from <proc_root>/PID/cgroup, then
// from the Docker Engine API docker:label:<k>:<v>, docker:image_id:<id>, docker:image:<name:tag>
// and docker:image:<repo@digest> for each repo digest, and the configured docker:env:<K>=<v>.
// A process in no container gets none. Fails (so the caller gets no identity) when the API
// cannot be asked or does not know the container, or when the image's registry is not in
// `allowed_registries` (non-empty); each refusal is logged with its reason.
std::unique_ptr<WorkloadAttestor> CreateDockerAttestor(DockerAttestorConfig config,
                                                       std::vector<std::string> allowed_registries,
                                                       std::string proc_root = "/proc");

// `k8s` attestor settings (agent.yaml workload_attestors.k8s).
struct K8sAttestorConfig {
  // The kubelet's authenticated HTTPS endpoint, with the service account token of the agent and
  // the CA that signed the kubelet's serving certificate (the system store when empty)...
  std::string kubelet_url = "https://127.0.0.1:10250";
  std::string kubelet_ca_path;
  std::string token_path = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  // ... or, when not 0, its read-only HTTP port on 127.0.0.1 instead.
  int read_only_port = 0;
  // A pod that just started may not be listed yet: how often and how long to ask again.
  int max_poll_attempts = 10;
  absl::Duration poll_retry_interval = absl::Milliseconds(500);
};

// k8s: the pod UID and container ID from <proc_root>/PID/cgroup, then the pod from the kubelet's
// /pods: k8s:ns, k8s:sa, k8s:pod-name, k8s:pod-uid, k8s:pod-label:<k>:<v>,
// k8s:pod-owner:<Kind>:<name>, k8s:container-name, k8s:container-image, k8s:node-name. A process
// in no pod gets none; a pod or container the kubelet does not list (after the retries), or an
// image from a registry not in `allowed_registries`, is a refusal.
std::unique_ptr<WorkloadAttestor> CreateK8sAttestor(K8sAttestorConfig config,
                                                    std::vector<std::string> allowed_registries,
                                                    std::string proc_root = "/proc");

// The registry policy shared by the container attestors: PermissionDenied (and a log event) when
// `allowed` is not empty and `image` names a registry it does not list.
absl::Status CheckImageRegistry(const std::vector<std::string>& allowed, absl::string_view image,
                                absl::string_view container_id);

// The cgroup paths of process `pid` under `proc_root` (CgroupPaths of <proc_root>/PID/cgroup);
// empty when the file cannot be read (the process is gone, or is in no cgroup we can see).
std::vector<std::string> ProcessCgroupPaths(const std::string& proc_root, pid_t pid);

// Runs every attestor and unions their selectors (canonical). PermissionDenied when the process
// exited (or its PID was reused) during attestation, or when it has no pidfd.
absl::StatusOr<std::vector<spiffe::Selector>> AttestWorkload(
    const std::vector<std::unique_ptr<WorkloadAttestor>>& attestors,
    const WorkloadProcess& process);

// AttestWorkload results per caller connection (keyed by the pidfd taken at accept, so per
// process and never shared with a later holder of its PID), kept for `ttl`: a client making many
// calls is attested once per ttl. A hit still checks that the process is alive. Thread-safe.
// One attestation's selectors, shared by every call and stream of that process.
using SharedSelectors = std::shared_ptr<const std::vector<spiffe::Selector>>;

class AttestationCache {
 public:
  AttestationCache(const Clock& clock, absl::Duration ttl) : clock_(clock), ttl_(ttl) {}

  absl::StatusOr<SharedSelectors> Attest(
      const std::vector<std::unique_ptr<WorkloadAttestor>>& attestors,
      const WorkloadProcess& process);
  // Attest without the attestors: the cached answer, or nullopt when the attestors must run
  // (which may block: Docker, the kubelet, hashing a binary).
  std::optional<absl::StatusOr<SharedSelectors>> Cached(const WorkloadProcess& process);

 private:
  struct Attested {
    std::weak_ptr<const rpc::PidFd> pidfd;
    SharedSelectors selectors;
    absl::Time expires;
  };
  const Clock& clock_;
  const absl::Duration ttl_;
  absl::Mutex mu_;
  absl::flat_hash_map<const rpc::PidFd*, Attested> cached_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_WORKLOAD_ATTESTOR_H_
