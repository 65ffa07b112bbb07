// The SPIFFE Workload API (spiffe-conformance.md §6) served by the agent on its Unix socket.
//
// Every call must carry the security header `workload.spiffe.io: true` (else InvalidArgument).
// The caller is attested from kernel facts (WorkloadProcess from the listener's PeerRegistry);
// a caller entitled to nothing gets PermissionDenied; an agent that has not synced yet answers
// Unavailable. Streams send a full snapshot at once and a new one whenever what the caller sees
// changes (rotation, bundle, entitlements), never the same one twice, and end with
// PermissionDenied when the caller loses its last entry. The WIT RPCs answer Unimplemented.
#ifndef SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_
#define SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/agent/workload/svid_cache.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/clock.h"
#include "src/rpc/uds_listener.h"
#include "src/spiffe/spiffe_id.h"
#include "workload.grpc.pb.h"

namespace signet::agent {

struct MintedJwt {
  std::string token;
  absl::Time issued_at;
  absl::Time expires_at;
};

// Asks the server for a JWT-SVID of `entry` with `audience`.
using JwtMinter = std::function<absl::StatusOr<MintedJwt>(
    const ::signet::agent::v1::Entry& entry, const std::vector<std::string>& audience)>;

struct WorkloadApiDeps {
  spiffe::TrustDomain trust_domain;
  SvidCache* cache = nullptr;
  const rpc::PeerRegistry* peers = nullptr;
  const std::vector<std::unique_ptr<WorkloadAttestor>>* attestors = nullptr;
  JwtMinter mint_jwt;
  const Clock* clock = nullptr;
  const std::atomic<bool>* stopping = nullptr;  // streams end with Unavailable once set
  // How long a call waits for an SVID the agent is still signing before it answers Unavailable.
  absl::Duration svid_wait = absl::Seconds(5);
  // How often an open stream re-checks expiry even when nothing changed.
  absl::Duration poll = absl::Seconds(1);
};

class WorkloadApiService final : public SpiffeWorkloadAPI::Service {
 public:
  explicit WorkloadApiService(WorkloadApiDeps deps) : deps_(std::move(deps)) {}

  grpc::Status FetchX509SVID(grpc::ServerContext* ctx, const X509SVIDRequest* req,
                             grpc::ServerWriter<X509SVIDResponse>* writer) override;
  grpc::Status FetchX509Bundles(grpc::ServerContext* ctx, const X509BundlesRequest* req,
                                grpc::ServerWriter<X509BundlesResponse>* writer) override;
  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                            JWTSVIDResponse* resp) override;
  grpc::Status FetchJWTBundles(grpc::ServerContext* ctx, const JWTBundlesRequest* req,
                               grpc::ServerWriter<JWTBundlesResponse>* writer) override;
  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest* req,
                               ValidateJWTSVIDResponse* resp) override;

 private:
  // The header check and attestation of the caller: its selectors.
  absl::StatusOr<std::vector<spiffe::Selector>> Caller(const grpc::ServerContext& ctx) const;
  // The caller's view once the agent is ready and it is entitled (waiting up to svid_wait for
  // at least one SVID when `need_svid`).
  absl::StatusOr<WorkloadView> View(const std::vector<spiffe::Selector>& selectors,
                                    bool need_svid) const;
  // Runs a stream: `build` turns a view into the message (false: nothing to send yet).
  template <typename Response>
  grpc::Status Stream(grpc::ServerContext* ctx, grpc::ServerWriter<Response>* writer,
                      bool need_svid,
                      const std::function<bool(const WorkloadView&, Response*)>& build);

  const WorkloadApiDeps deps_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_
