#include "src/agent/agent_config.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/file_util.h"
#include "src/common/host_port.h"
#include "src/common/https_get.h"
#include "src/common/log_config.h"
#include "src/common/status_macros.h"

namespace signet::agent {
namespace {

spiffe::TrustDomain UnsetTrustDomain() { return *spiffe::TrustDomain::Parse("unset.invalid"); }

// The server's address: what ParseHostPort accepts (a DNS name, IPv4, or [IPv6]), with a port
// to dial, so not 0. Empty when valid, else why not.
std::string ServerAddressProblem(absl::string_view address) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = ParseHostPort(address, &host, &port, HostNames::kDial); !s.ok()) {
    return absl::StrCat("must be host:port: ", s.message());
  }
  return port == 0 ? "must be host:port with a port from 1 to 65535" : "";
}

void ReadAgentConfig(ConfigMap& root, AgentConfig* config) {
  std::string td;
  if (root.GetString("trust_domain", &td, Need::kRequired) && root.Has("trust_domain")) {
    absl::StatusOr<spiffe::TrustDomain> parsed = spiffe::TrustDomain::Parse(td);
    if (parsed.ok()) {
      config->trust_domain = *std::move(parsed);
    } else {
      root.AddProblem("trust_domain", std::string(parsed.status().message()));
    }
  }
  if (root.GetString("server_address", &config->server_address, Need::kRequired) &&
      root.Has("server_address")) {
    if (std::string problem = ServerAddressProblem(config->server_address); !problem.empty()) {
      root.AddProblem("server_address", problem);
    }
  }
  if (root.GetString("data_dir", &config->data_dir, Need::kRequired) && root.Has("data_dir") &&
      config->data_dir.empty()) {
    root.AddProblem("data_dir", "must not be empty");
  }
  root.GetString("trust_bundle_path", &config->trust_bundle_path);
  if (root.GetString("trust_bundle_url", &config->trust_bundle_url) &&
      !config->trust_bundle_url.empty()) {
    absl::StatusOr<HttpsUrl> url = ParseHttpsUrl(config->trust_bundle_url);
    if (!url.ok()) root.AddProblem("trust_bundle_url", std::string(url.status().message()));
  }
  if (root.GetString("trust_bundle_url_ca_path", &config->trust_bundle_url_ca_path) &&
      root.Has("trust_bundle_url_ca_path") && config->trust_bundle_url.empty()) {
    root.AddProblem("trust_bundle_url_ca_path", "only applies with trust_bundle_url");
  }
  root.GetBool("insecure_bootstrap", &config->insecure_bootstrap);
  const int trusts = !config->trust_bundle_path.empty() + !config->trust_bundle_url.empty() +
                     config->insecure_bootstrap;
  if (trusts != 1) {
    root.AddProblem("trust_bundle_path",
                    trusts > 1 ? "set one of trust_bundle_path, trust_bundle_url and "
                                 "insecure_bootstrap, not several"
                               : "required (or trust_bundle_url, or insecure_bootstrap: true "
                                 "for development only)");
  }
  int attestors = 0;
  root.GetMap("node_attestor", [&](ConfigMap& attestor) {
    attestor.GetMap("join_token", [&](ConfigMap& jt) {
      ++attestors;
      if (jt.GetString("token", &config->join_token, Need::kRequired) && jt.Has("token") &&
          config->join_token.empty()) {
        jt.AddProblem("token", "must not be empty");
      }
    });
    attestor.GetMap("x509pop", [&](ConfigMap& x) {
      ++attestors;
      for (auto [key, out] : {std::pair{"certificate_path", &config->x509pop_certificate_path},
                              std::pair{"private_key_path", &config->x509pop_private_key_path}}) {
        if (x.GetString(key, out, Need::kRequired) && x.Has(key) && out->empty()) {
          x.AddProblem(key, "must not be empty");
        }
      }
    });
    attestor.GetMap("jwt", [&](ConfigMap& jwt) {
      ++attestors;
      if (jwt.GetString("token_path", &config->jwt_token_path, Need::kRequired) &&
          jwt.Has("token_path") && config->jwt_token_path.empty()) {
        jwt.AddProblem("token_path", "must not be empty");
      }
    });
  });
  if (attestors != 1) {
    root.AddProblem("node_attestor",
                    attestors == 0 ? "required: join_token {token}, x509pop {certificate_path, "
                                     "private_key_path} or jwt {token_path}"
                                   : "exactly one of join_token, x509pop and jwt");
  }
  if (root.GetString("socket_path", &config->socket_path) &&
      (config->socket_path.empty() || config->socket_path[0] != '/' ||
       config->socket_path.size() > 107)) {
    root.AddProblem("socket_path", "must be an absolute path of at most 107 bytes");
  }
  root.GetInt("max_cached_svids", &config->max_cached_svids, {.min = 1, .max = 10000000});
  root.GetInt("max_connections_per_uid", &config->max_connections_per_uid,
              {.min = 1, .max = 100000});
  root.GetEnum("workload_key_type", &config->workload_key_type,
               {{"ec-p256", crypto::KeyType::kEcP256},
                {"ec-p384", crypto::KeyType::kEcP384},
                {"rsa-2048", crypto::KeyType::kRsa2048}});
  if (root.Has("workload_attestors")) config->unix_attestor = false;
  root.GetMap("workload_attestors", [&](ConfigMap& attestors) {
    attestors.GetMap("unix", [&](ConfigMap& u) {
      config->unix_attestor = true;
      u.GetBool("sha256", &config->unix_attestor_config.sha256);
      u.GetInt("max_binary_bytes", &config->unix_attestor_config.max_binary_bytes,
               {.min = 1, .max = int64_t{4} << 30});
    });
    attestors.GetMap("systemd", [&](ConfigMap&) { config->systemd_attestor = true; });
    attestors.GetMap("docker", [&](ConfigMap& d) {
      config->docker_attestor = true;
      if (d.GetString("socket_path", &config->docker_attestor_config.socket_path) &&
          (config->docker_attestor_config.socket_path.empty() ||
           config->docker_attestor_config.socket_path[0] != '/')) {
        d.AddProblem("socket_path", "must be an absolute path");
      }
      d.GetStringList("env_keys", &config->docker_attestor_config.env_keys);
    });
    attestors.GetMap("k8s", [&](ConfigMap& k) {
      config->k8s_attestor = true;
      K8sAttestorConfig& c = config->k8s_attestor_config;
      if (k.GetString("kubelet_url", &c.kubelet_url) && k.Has("kubelet_url")) {
        absl::StatusOr<HttpsUrl> url = ParseHttpsUrl(c.kubelet_url);
        if (!url.ok()) k.AddProblem("kubelet_url", std::string(url.status().message()));
      }
      k.GetString("kubelet_ca_path", &c.kubelet_ca_path);
      k.GetString("token_path", &c.token_path);
      int64_t port = 0;
      if (k.GetInt("read_only_port", &port, {.min = 0, .max = 65535})) {
        c.read_only_port = static_cast<int>(port);
      }
      int64_t attempts = c.max_poll_attempts;
      if (k.GetInt("max_poll_attempts", &attempts, {.min = 1, .max = 120})) {
        c.max_poll_attempts = static_cast<int>(attempts);
      }
      k.GetDuration("poll_retry_interval", &c.poll_retry_interval,
                    {.min = absl::Milliseconds(10), .max = absl::Seconds(30)});
    });
    attestors.ForEachUnknownKey([&](absl::string_view name) {
      attestors.AddProblem(name, "unknown workload attestor (known: unix, systemd, docker, k8s)");
    });
  });
  if (root.GetStringList("allowed_image_registries", &config->allowed_image_registries)) {
    for (const std::string& r : config->allowed_image_registries) {
      if (r.empty() || r.find('/') != std::string::npos) {
        root.AddProblem(
            "allowed_image_registries",
            absl::StrCat("\"", r, "\" is not a registry host (e.g. registry.example.com)"));
      }
    }
  }
  ReadLogSection(root, &config->log_level, &config->log_format);
}

}  // namespace

ConfigProblems ValidateAgentConfig(absl::string_view yaml_text, const ConfigOptions& options,
                                   AgentConfig* config) {
  AgentConfig parsed(UnsetTrustDomain());
  ConfigProblems problems = WalkConfig(
      yaml_text, options, [&parsed](ConfigMap& root) { ReadAgentConfig(root, &parsed); });
  if (problems.empty() && config != nullptr) {
    *config = std::move(parsed);
  }
  return problems;
}

absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml_text,
                                             const ConfigOptions& options) {
  AgentConfig config(UnsetTrustDomain());
  SIGNET_RETURN_IF_ERROR(
      ProblemsToStatus(ValidateAgentConfig(yaml_text, options, &config), options.source_name));
  return config;
}

absl::StatusOr<AgentConfig> LoadAgentConfigFile(const std::string& path, ConfigOptions options) {
  SIGNET_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  options.source_name = path;
  return ParseAgentConfig(text, options);
}

}  // namespace signet::agent
