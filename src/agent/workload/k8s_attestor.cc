// The k8s workload attestor: the pod and container from the cgroup, the pod's facts from the
// kubelet's /pods endpoint, and the image registry policy.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/agent/workload/cgroup.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/file_util.h"
#include "src/common/https_get.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"

namespace signet::agent {
namespace {

void Add(std::vector<spiffe::Selector>& out, absl::string_view value) {
  absl::StatusOr<spiffe::Selector> s = spiffe::Selector::Make("k8s", value);
  if (s.ok()) out.push_back(*std::move(s));
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// The status of the container with `id` ("containerd://<id>") among a pod's statuses.
const nlohmann::json* FindContainer(const nlohmann::json& pod, const std::string& id) {
  auto status_it = pod.find("status");  // no copies: the result points into `pod`
  if (status_it == pod.end() || !status_it->is_object()) return nullptr;
  const nlohmann::json& status = *status_it;
  for (const char* list :
       {"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"}) {
    auto it = status.find(list);
    if (it == status.end() || !it->is_array()) continue;
    for (const nlohmann::json& c : *it) {
      const std::string cid = Str(c, "containerID");
      size_t sep = cid.find("://");
      if (sep != std::string::npos && cid.compare(sep + 3, std::string::npos, id) == 0) return &c;
    }
  }
  return nullptr;
}

class K8sAttestor final : public WorkloadAttestor {
 public:
  K8sAttestor(K8sAttestorConfig config, std::vector<std::string> allowed, std::string root)
      : config_(std::move(config)), allowed_(std::move(allowed)), proc_root_(std::move(root)) {}

  absl::string_view type() const override { return "k8s"; }

  absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess& p) override {
    std::vector<spiffe::Selector> out;
    std::optional<std::string> pod_uid;
    std::optional<std::string> container_id;
    for (const std::string& path : ProcessCgroupPaths(proc_root_, p.pid)) {
      pod_uid = PodUid(path);
      container_id = ContainerId(path);
      if (pod_uid.has_value()) break;
    }
    if (!pod_uid.has_value()) return out;  // not in a pod
    if (!container_id.has_value()) {
      return absl::PermissionDeniedError("k8s: the process is in a pod but in no container");
    }
    for (int attempt = 1;; ++attempt) {
      SIGNET_ASSIGN_OR_RETURN(nlohmann::json pods, Pods());
      auto items = pods.find("items");
      if (items == pods.end() || !items->is_array()) items = pods.end();
      for (const nlohmann::json& pod : items == pods.end() ? nlohmann::json::array() : *items) {
        const nlohmann::json& meta = pod.value("metadata", nlohmann::json::object());
        if (Str(meta, "uid") != *pod_uid) continue;
        const nlohmann::json* container = FindContainer(pod, *container_id);
        if (container == nullptr) break;  // listed, but not this container yet
        return Selectors(pod, *container, *container_id);
      }
      if (attempt >= config_.max_poll_attempts) {
        return absl::PermissionDeniedError(
            absl::StrCat("k8s: the kubelet does not list pod ", *pod_uid, " with container ",
                         container_id->substr(0, 12), " (asked ", attempt, " times)"));
      }
      absl::SleepFor(config_.poll_retry_interval);
    }
  }

 private:
  absl::StatusOr<nlohmann::json> Pods() const {
    std::string body;
    if (config_.read_only_port != 0) {
      SIGNET_ASSIGN_OR_RETURN(HttpAnswer answer,
                              PlainHttpGet("127.0.0.1", config_.read_only_port, "/pods"));
      if (answer.status != 200) {
        return absl::UnavailableError(absl::StrCat("k8s: /pods answered HTTP ", answer.status));
      }
      body = std::move(answer.body);
    } else {
      HttpsGetOptions options{.ca_path = config_.kubelet_ca_path, .max_bytes = 16 << 20};
      absl::StatusOr<std::string> token = ReadFile(config_.token_path, 64 << 10);
      if (!token.ok()) {
        return absl::UnavailableError(
            absl::StrCat("k8s: cannot read the token_path: ", token.status().message()));
      }
      options.bearer_token = std::string(absl::StripAsciiWhitespace(*token));
      SIGNET_ASSIGN_OR_RETURN(body, HttpsGet(config_.kubelet_url + "/pods", options));
    }
    absl::StatusOr<nlohmann::json> doc = ParseStrictJson(body, {.max_bytes = 16 << 20});
    if (!doc.ok() || !doc->is_object()) {
      return absl::UnavailableError("k8s: the kubelet's /pods is not a JSON object");
    }
    return doc;
  }

  absl::StatusOr<std::vector<spiffe::Selector>> Selectors(const nlohmann::json& pod,
                                                          const nlohmann::json& container,
                                                          const std::string& id) const {
    const nlohmann::json& meta = pod.value("metadata", nlohmann::json::object());
    const nlohmann::json& spec = pod.value("spec", nlohmann::json::object());
    const std::string image = Str(container, "image");
    SIGNET_RETURN_IF_ERROR(CheckImageRegistry(allowed_, image, id));
    std::vector<spiffe::Selector> out;
    Add(out, "ns:" + Str(meta, "namespace"));
    Add(out, "sa:" + Str(spec, "serviceAccountName"));
    Add(out, "pod-name:" + Str(meta, "name"));
    Add(out, "pod-uid:" + Str(meta, "uid"));
    Add(out, "node-name:" + Str(spec, "nodeName"));
    Add(out, "container-name:" + Str(container, "name"));
    Add(out, "container-image:" + image);
    if (auto labels = meta.find("labels"); labels != meta.end() && labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (v.is_string()) Add(out, absl::StrCat("pod-label:", k, ":", v.get<std::string>()));
      }
    }
    if (auto owners = meta.find("ownerReferences"); owners != meta.end() && owners->is_array()) {
      for (const nlohmann::json& o : *owners) {
        Add(out, absl::StrCat("pod-owner:", Str(o, "kind"), ":", Str(o, "name")));
      }
    }
    return out;
  }

  const K8sAttestorConfig config_;
  const std::vector<std::string> allowed_;
  const std::string proc_root_;
};

}  // namespace

std::unique_ptr<WorkloadAttestor> CreateK8sAttestor(K8sAttestorConfig config,
                                                    std::vector<std::string> allowed_registries,
                                                    std::string proc_root) {
  return std::make_unique<K8sAttestor>(std::move(config), std::move(allowed_registries),
                                       std::move(proc_root));
}

}  // namespace signet::agent
