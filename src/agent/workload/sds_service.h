// Envoy SDS v3 (envoy.service.secret.v3.SecretDiscoveryService) on the agent's socket, beside
// the Workload API and from the same cache and attestation. Resource names:
//   "default" or a SPIFFE ID    a tls_certificate (the caller's default SVID, or that one);
//   "ROOTCA"                    a validation_context with the own trust domain's CAs;
//   "ALL"                       a validation_context with every trust bundle the agent has;
//   "spiffe://<td>"             a validation_context with that trust domain's CAs.
// An empty name list asks for every SVID of the caller and ROOTCA. Certificates and keys are
// sent inline (PEM). Streams answer at once and again whenever what they carry changes; a name
// the caller is not entitled to is left out; a caller entitled to nothing is refused
// (PermissionDenied). Envoy sends no Workload API security header, so none is required here.
#ifndef SIGNET_AGENT_WORKLOAD_SDS_SERVICE_H_
#define SIGNET_AGENT_WORKLOAD_SDS_SERVICE_H_

#include "envoy/sds.pb.h"
#include "src/agent/workload/workload_api.h"

namespace signet::agent {

inline constexpr char kSecretTypeUrl[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

class SdsService {
 public:
  // Borrows `deps` (the Workload API's) and `callers`; both must outlive the service.
  SdsService(const WorkloadApiDeps& deps, WorkloadCallers& callers)
      : deps_(deps), callers_(callers) {}

  // StreamSecrets (one stream per subscription, pushed on every change) and FetchSecrets.
  void Register(rpc::h2::Server* server);

  // The resources for `names`, or PermissionDenied / Unavailable.
  absl::Status Build(const std::vector<spiffe::Selector>& selectors,
                     const std::vector<std::string>& names,
                     envoy::service::discovery::v3::DiscoveryResponse* out) const;

 private:
  const WorkloadApiDeps& deps_;
  WorkloadCallers& callers_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_SDS_SERVICE_H_
