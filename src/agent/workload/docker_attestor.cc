// The docker workload attestor: the container from the cgroup, its facts from the Docker Engine
// API on its Unix socket, and the image registry policy.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "src/agent/workload/cgroup.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/file_util.h"
#include "src/common/https_get.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/common/strict_json.h"

namespace signet::agent {
namespace {

void Add(std::vector<spiffe::Selector>& out, absl::string_view value) {
  absl::StatusOr<spiffe::Selector> s = spiffe::Selector::Make("docker", value);
  if (s.ok()) out.push_back(*std::move(s));
}

class DockerAttestor final : public WorkloadAttestor {
 public:
  DockerAttestor(DockerAttestorConfig config, std::vector<std::string> allowed, std::string root)
      : config_(std::move(config)), allowed_(std::move(allowed)), proc_root_(std::move(root)) {}

  absl::string_view type() const override { return "docker"; }

  absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess& p) override {
    std::vector<spiffe::Selector> out;
    std::optional<std::string> id;
    for (const std::string& path : ProcessCgroupPaths(proc_root_, p.pid)) {
      if ((id = ContainerId(path)).has_value()) break;
    }
    if (!id.has_value()) return out;  // not in a container
    SIGNET_ASSIGN_OR_RETURN(nlohmann::json container, Get("/containers/" + *id + "/json"));
    const nlohmann::json& cfg = container.value("Config", nlohmann::json::object());
    const std::string image = cfg.value("Image", "");
    const std::string image_id = container.value("Image", "");
    std::vector<std::string> repo_digests;
    if (!image_id.empty()) {
      absl::StatusOr<nlohmann::json> img = Get("/images/" + image_id + "/json");
      if (img.ok() && (*img)["RepoDigests"].is_array()) {
        for (const auto& d : (*img)["RepoDigests"]) {
          if (d.is_string()) repo_digests.push_back(d.get<std::string>());
        }
      }
    }
    SIGNET_RETURN_IF_ERROR(CheckRegistry(*id, image, repo_digests));
    if (!image.empty()) Add(out, "image:" + image);
    for (const std::string& d : repo_digests) Add(out, "image:" + d);
    if (!image_id.empty()) Add(out, "image_id:" + image_id);
    if (cfg.contains("Labels") && cfg["Labels"].is_object()) {
      for (const auto& [key, value] : cfg["Labels"].items()) {
        if (value.is_string()) Add(out, absl::StrCat("label:", key, ":", value.get<std::string>()));
      }
    }
    if (cfg.contains("Env") && cfg["Env"].is_array()) {
      for (const auto& kv : cfg["Env"]) {
        if (!kv.is_string()) continue;
        const std::string text = kv.get<std::string>();
        const std::string key = text.substr(0, text.find('='));
        if (std::find(config_.env_keys.begin(), config_.env_keys.end(), key) !=
            config_.env_keys.end()) {
          Add(out, "env:" + text);
        }
      }
    }
    return out;
  }

 private:
  absl::StatusOr<nlohmann::json> Get(const std::string& path) const {
    SIGNET_ASSIGN_OR_RETURN(HttpAnswer answer, UnixHttpGet(config_.socket_path, path));
    if (answer.status != 200) {
      return absl::UnavailableError(
          absl::StrCat("docker: ", path, " answered HTTP ", answer.status));
    }
    absl::StatusOr<nlohmann::json> doc = ParseStrictJson(answer.body);
    if (!doc.ok() || !doc->is_object()) {
      return absl::UnavailableError(absl::StrCat("docker: ", path, " is not a JSON object"));
    }
    return doc;
  }

  // The policy is on the image as the container names it and on every repo digest it has.
  absl::Status CheckRegistry(const std::string& id, const std::string& image,
                             const std::vector<std::string>& digests) const {
    if (allowed_.empty()) return absl::OkStatus();
    if (image.empty()) {
      return absl::PermissionDeniedError(
          "the container's image is unknown, so allowed_image_registries cannot be checked");
    }
    SIGNET_RETURN_IF_ERROR(CheckImageRegistry(allowed_, image, id));
    for (const std::string& ref : digests) {
      SIGNET_RETURN_IF_ERROR(CheckImageRegistry(allowed_, ref, id));
    }
    return absl::OkStatus();
  }

  const DockerAttestorConfig config_;
  const std::vector<std::string> allowed_;
  const std::string proc_root_;
};

}  // namespace

absl::Status CheckImageRegistry(const std::vector<std::string>& allowed, absl::string_view image,
                                absl::string_view container_id) {
  if (allowed.empty()) return absl::OkStatus();
  const std::string registry = ImageRegistry(image);
  if (std::find(allowed.begin(), allowed.end(), registry) != allowed.end()) {
    return absl::OkStatus();
  }
  LogWarn("workload refused by the image registry policy",
          {{"container_id", container_id}, {"image", image}, {"registry", registry}});
  return absl::PermissionDeniedError(
      absl::StrCat("image ", image, " comes from registry ", registry,
                   ", which allowed_image_registries does not list"));
}

std::string ImageRegistry(absl::string_view image) {
  const size_t slash = image.find('/');
  if (slash == absl::string_view::npos) return "docker.io";
  absl::string_view first = image.substr(0, slash);
  // A registry host has a dot or a port, or is localhost; otherwise it is a Docker Hub path.
  if (first.find_first_of(".:") != absl::string_view::npos || first == "localhost") {
    return std::string(first);
  }
  return "docker.io";
}

std::unique_ptr<WorkloadAttestor> CreateDockerAttestor(DockerAttestorConfig config,
                                                       std::vector<std::string> allowed_registries,
                                                       std::string proc_root) {
  return std::make_unique<DockerAttestor>(std::move(config), std::move(allowed_registries),
                                          std::move(proc_root));
}

}  // namespace signet::agent
