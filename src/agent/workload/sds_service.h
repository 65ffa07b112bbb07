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

#include "envoy/sds_service.grpc.pb.h"
#include "src/agent/workload/workload_api.h"

namespace signet::agent {

inline constexpr char kSecretTypeUrl[] =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

class SdsService final : public envoy::service::secret::v3::SecretDiscoveryService::Service {
 public:
  // Borrows `deps` (the Workload API's) and `attestation`; both must outlive the service.
  SdsService(const WorkloadApiDeps& deps, AttestationCache& attestation)
      : deps_(deps), attestation_(attestation) {}

  grpc::Status StreamSecrets(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<envoy::service::discovery::v3::DiscoveryResponse,
                               envoy::service::discovery::v3::DiscoveryRequest>* stream) override;
  grpc::Status FetchSecrets(grpc::ServerContext* ctx,
                            const envoy::service::discovery::v3::DiscoveryRequest* req,
                            envoy::service::discovery::v3::DiscoveryResponse* resp) override;

 private:
  absl::StatusOr<std::vector<spiffe::Selector>> Caller(const grpc::ServerContext& ctx);
  // The resources for `names`, or PermissionDenied / Unavailable.
  absl::Status Build(const std::vector<spiffe::Selector>& selectors,
                     const std::vector<std::string>& names,
                     envoy::service::discovery::v3::DiscoveryResponse* out) const;

  const WorkloadApiDeps& deps_;
  AttestationCache& attestation_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_SDS_SERVICE_H_
