// Node attestation, server half: a NodeAttestor checks the evidence an agent presents for one
// attestation type and names the agent. The built-in catalog (CreateNodeAttestors) is explicit:
// each configured plugin name maps to one implementation, which validates its own configuration
// and rejects keys it does not know.
#ifndef SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_
#define SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/common/clock.h"
#include "src/server/config/server_config.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/selector.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

// What a successful attestation establishes.
struct AttestationResult {
  spiffe::SpiffeId agent_id;
  std::vector<spiffe::Selector> selectors;  // node selectors, canonical
  bool can_reattest = false;  // whether an evicted agent may attest again with new evidence
};

// Lets an attestor that proves possession send a challenge and read the agent's answer.
class ChallengeChannel {
 public:
  virtual ~ChallengeChannel() = default;
  // Sends `challenge` and waits for the answer. Unavailable when the agent went away.
  virtual absl::StatusOr<std::string> Challenge(absl::string_view challenge) = 0;
};

class NodeAttestor {
 public:
  virtual ~NodeAttestor() = default;
  // The attestation type it serves ("join_token").
  virtual absl::string_view type() const = 0;
  // Checks `payload` (the AttestationData payload). PermissionDenied for evidence that does not
  // prove anything (an unknown or used token), with a message safe to return to the agent;
  // InvalidArgument for malformed evidence. Thread-safe.
  virtual absl::StatusOr<AttestationResult> Attest(absl::string_view payload,
                                                   ChallengeChannel& channel) = 0;
};

// What the built-in plugins may use. Borrowed; must outlive the attestors.
struct NodeAttestorDeps {
  spiffe::TrustDomain trust_domain;
  JoinTokenStore& join_tokens;
  const Clock& clock;
  // When set, each plugin appends its configuration problems here (as well as failing).
  ConfigProblems* problems = nullptr;
  // False for `signet server validate`: nothing is fetched from the network.
  bool online = true;
};

// Creates the attestors of `configs` (at most one per type). InvalidArgument naming the plugin
// and the line for a configuration problem or an unknown plugin.
absl::StatusOr<std::vector<std::unique_ptr<NodeAttestor>>> CreateNodeAttestors(
    const std::vector<PluginConfig>& configs, const NodeAttestorDeps& deps);

// The configuration problems of `configs` (every plugin is created and dropped, offline), for
// `signet server validate`.
ConfigProblems ValidateNodeAttestorConfigs(const std::vector<PluginConfig>& configs,
                                           const spiffe::TrustDomain& trust_domain);

// What each plugin's factory does with the problems of its walk: hands them to deps.problems
// and turns them into a status.
absl::Status ReportPluginProblems(const ConfigProblems& problems, const NodeAttestorDeps& deps);

// join_token: a single-use token from `signet token generate`, consumed atomically; the agent
// is the token's SPIFFE ID or spiffe://<td>/signet/agent/join_token/<token>. Not re-attestable.
absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateJoinTokenAttestor(const RawConfig& config,
                                                                      const NodeAttestorDeps& deps);

// x509pop: the agent presents a PEM certificate chain that must verify against the CA
// certificates of `ca_bundle_path`, then signs a fresh 32-byte nonce (X509PopSigningInput,
// SHA-256) with the leaf's key. The agent ID is spiffe://<td>/signet/agent/ followed by
// `agent_path_template` with {fingerprint} (the leaf's SHA-256), {cn} and {dns} (its first DNS
// SAN) filled in; default "x509pop/{fingerprint}". Node selectors: x509pop:subject:cn:<cn>,
// x509pop:issuer:cn:<cn>, x509pop:fingerprint:<sha256>. Re-attestable: an evicted agent comes
// back with the same certificate.
absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateX509PopAttestor(const RawConfig& config,
                                                                    const NodeAttestorDeps& deps);
// jwt: the agent presents a JWT from an OIDC issuer. It must verify against the issuer's JWK Set
// (`jwks_path`, or `jwks_url` over https with `jwks_url_ca_path` and `jwks_refresh_interval`),
// carry `iss` == `issuer`, include `audience`, be within its validity times, and meet every
// entry of `conditions` (claim -> glob pattern, or list of patterns of which one must match).
// The agent ID is spiffe://<td>/signet/agent/ followed by `agent_path_template` with each {claim}
// filled in ('/' reaches into nested objects: {kubernetes.io/namespace}). Every claim named in
// the template, the conditions and `selector_claims` becomes a node selector
// jwt:claim:<name>:<value>. Re-attestable: an evicted agent comes back with a fresh token.
absl::StatusOr<std::unique_ptr<NodeAttestor>> CreateJwtAttestor(const RawConfig& config,
                                                                const NodeAttestorDeps& deps);

// What the agent signs to answer an x509pop challenge.
std::string X509PopSigningInput(absl::string_view nonce);

// The agent ID a join token without its own SPIFFE ID gets.
absl::StatusOr<spiffe::SpiffeId> JoinTokenAgentId(const spiffe::TrustDomain& td,
                                                  absl::string_view token);

}  // namespace signet::server

#endif  // SIGNET_SERVER_NODEATTESTOR_NODE_ATTESTOR_H_
