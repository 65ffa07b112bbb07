// The agent API's Node service (proto/signet/agent/v1/agent.proto), served on the TCP listener:
//   Attest      without a client certificate: runs the node attestor named by the request,
//               issues the agent SVID for the CSR's key and records the attested node;
//   RenewAgent  with the current agent SVID: a new agent SVID for a new key.
// Agents that are banned get PermissionDenied from Attest; the other calls are refused before
// they reach a service by AgentPolicy (SvidAuthProcessor), which reads the node record on every
// call, so ban and evict take effect at the agent's next call.
#ifndef SIGNET_SERVER_AGENTAPI_NODE_SERVICE_H_
#define SIGNET_SERVER_AGENTAPI_NODE_SERVICE_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "signet/agent/v1/agent.grpc.pb.h"
#include "src/server/agentapi/agent_limiter.h"
#include "src/server/api/api_context.h"
#include "src/server/nodeattestor/node_attestor.h"

namespace signet::server {

class NodeService final : public ::signet::agent::v1::Node::Service {
 public:
  // `api` and `limiter` (may be null: no limits) are borrowed and must outlive the service.
  NodeService(const ApiContext* api, std::vector<std::unique_ptr<NodeAttestor>> attestors,
              absl::Duration agent_svid_ttl, AgentLimiter* limiter = nullptr)
      : api_(api),
        attestors_(std::move(attestors)),
        agent_svid_ttl_(agent_svid_ttl),
        limiter_(limiter) {}

  grpc::Status Attest(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<::signet::agent::v1::AttestResponse,
                               ::signet::agent::v1::AttestRequest>* stream) override;
  grpc::Status RenewAgent(grpc::ServerContext* ctx,
                          const ::signet::agent::v1::RenewAgentRequest* req,
                          ::signet::agent::v1::RenewAgentResponse* resp) override;

 private:
  NodeAttestor* Find(absl::string_view type) const;
  // Signs an agent SVID for `key` and records the node (created, or updated on re-attestation
  // or renewal). The leaf's serial is what the node record remembers.
  absl::StatusOr<std::vector<crypto::Certificate>> IssueAgentSvid(
      const spiffe::SpiffeId& agent_id, const crypto::PublicKey& key,
      const AttestationResult* attested, absl::string_view attestation_type);

  const ApiContext* api_;
  const std::vector<std::unique_ptr<NodeAttestor>> attestors_;
  const absl::Duration agent_svid_ttl_;
  AgentLimiter* limiter_;
};

// CSRs are a few hundred bytes; this bounds what a caller can make the server parse.
inline constexpr size_t kMaxCsrBytes = 16 * 1024;

// The public key of a PKCS#10 CSR (DER), its self-signature verified. InvalidArgument "csr: ..."
// for a missing, oversized or bad one.
absl::StatusOr<crypto::PublicKey> PublicKeyFromCsr(const std::string& csr);

// The node record of `caller` when it may be served: PermissionDenied when there is none
// (evicted or never attested) or it is banned, Unavailable when the datastore cannot tell.
absl::StatusOr<AttestedNode> ServableNode(const ApiContext& api, const spiffe::SpiffeId& caller);

// The TCP listener's rule for agent calls: `caller` must be an attested agent that is not
// banned. PermissionDenied otherwise (evicted or never attested: "attest again").
absl::Status AgentPolicy(const ApiContext& api, const spiffe::SpiffeId& caller);

}  // namespace signet::server

#endif  // SIGNET_SERVER_AGENTAPI_NODE_SERVICE_H_
