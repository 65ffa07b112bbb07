// The agent's configuration file (agent.yaml), read with the same schema walker as the server's:
// every problem with its line, unknown keys are errors.
//
//   trust_domain: example.org
//   server_address: signet-server.example.org:8081
//   data_dir: /var/lib/signet/agent
//   trust_bundle_path: /etc/signet/bundle.pem    # or trust_bundle_url: https://..., or
//                                                # insecure_bootstrap: true (dev only)
//   node_attestor:
//     join_token: {token: "..."}     # or x509pop: {certificate_path: ..., private_key_path: ...}
//                                    # or jwt: {token_path: ...}
//   log: {level: info, format: text}
#ifndef SIGNET_AGENT_AGENT_CONFIG_H_
#define SIGNET_AGENT_AGENT_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/logging.h"
#include "src/common/yaml_config.h"
#include "src/crypto/key.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::agent {

struct AgentConfig {
  explicit AgentConfig(spiffe::TrustDomain td) : trust_domain(std::move(td)) {}

  spiffe::TrustDomain trust_domain;
  std::string server_address;  // host:port of the server's bind_address
  std::string data_dir;
  // How the agent trusts the server before it has a bundle of its own (exactly one): a PEM or
  // SPIFFE JSON bundle file, the same fetched over https (the web server verified against
  // trust_bundle_url_ca_path or the system store), or (insecure_bootstrap) not at all for the
  // first connection.
  std::string trust_bundle_path;
  std::string trust_bundle_url;
  std::string trust_bundle_url_ca_path;
  bool insecure_bootstrap = false;
  // Exactly one node attestor: join_token (a one-time token), x509pop (a node certificate chain,
  // PEM, and its private key) or jwt (a file holding a JWT from an OIDC issuer, read at each
  // attestation since such tokens are rotated by whoever writes them).
  std::string join_token;  // node_attestor.join_token.token
  std::string x509pop_certificate_path;
  std::string x509pop_private_key_path;
  std::string jwt_token_path;
  // The Workload API's Unix socket; its directory is created, and the socket is connectable by
  // every local user (who gets what is decided by attestation).
  std::string socket_path = "/run/signet/agent.sock";
  // The key type of the workload SVIDs the agent signs for (ec-p256, ec-p384, rsa-2048).
  crypto::KeyType workload_key_type = crypto::KeyType::kEcP256;
  // How many workload X509-SVIDs the agent keeps signed; past it, least recently used ones that
  // nobody asked for in the last 10 s are dropped and signed again on demand.
  int64_t max_cached_svids = 10000;
  // Connections one uid may hold open to the Workload API socket at once (every root process,
  // every root container without user namespaces, shares uid 0).
  int64_t max_connections_per_uid = 256;
  // workload_attestors: the catalog is explicit; built so far: `unix` (on by default when the
  // section is absent), `systemd`, `docker` and `k8s`.
  bool unix_attestor = true;
  bool systemd_attestor = false;
  bool docker_attestor = false;
  DockerAttestorConfig docker_attestor_config;
  bool k8s_attestor = false;
  K8sAttestorConfig k8s_attestor_config;
  // Registries container images may come from (e.g. "registry.example.com", "docker.io"); a
  // container whose image names another gets no identity. Empty: any.
  std::vector<std::string> allowed_image_registries;
  UnixAttestorConfig unix_attestor_config;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
};

ConfigProblems ValidateAgentConfig(absl::string_view yaml_text, const ConfigOptions& options,
                                   AgentConfig* config = nullptr);
absl::StatusOr<AgentConfig> ParseAgentConfig(absl::string_view yaml_text,
                                             const ConfigOptions& options = {});
absl::StatusOr<AgentConfig> LoadAgentConfigFile(const std::string& path, ConfigOptions options);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_AGENT_CONFIG_H_
