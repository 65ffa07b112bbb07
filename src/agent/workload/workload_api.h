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
#include "src/agent/workload/snapshot_stream.h"
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
  // How long a caller's attestation is reused for its later calls on the same connection.
  absl::Duration attestation_ttl = absl::Seconds(1);
  // How often an open stream re-checks expiry even when nothing changed.
  absl::Duration poll = absl::Seconds(1);
};

// The streams are on gRPC's callback API: an open stream costs no thread. The unary calls are on
// the synchronous API: the polling thread that reads a request answers it, without a hand-off to
// a callback thread, and a FetchJWTSVID cache miss (which asks the server) blocks only a thread
// of the synchronous pool, which grows as needed. The WIT RPCs answer Unimplemented.
using WorkloadApiBase = SpiffeWorkloadAPI::WithCallbackMethod_FetchX509SVID<
    SpiffeWorkloadAPI::WithCallbackMethod_FetchX509Bundles<
        SpiffeWorkloadAPI::WithCallbackMethod_FetchJWTBundles<SpiffeWorkloadAPI::Service>>>;

class WorkloadApiService final : public WorkloadApiBase {
 public:
  explicit WorkloadApiService(WorkloadApiDeps deps)
      : deps_(std::move(deps)),
        attestation_(*deps_.clock, deps_.attestation_ttl),
        hub_(deps_.cache, deps_.poll) {}

  // Ends every open stream with Unavailable (agent shutdown). Call before the server shuts down.
  void Stop() { hub_.Stop(); }
  const WorkloadApiDeps& deps() const { return deps_; }
  AttestationCache& attestation() { return attestation_; }
  size_t open_streams() const { return hub_.size(); }

  grpc::ServerWriteReactor<X509SVIDResponse>* FetchX509SVID(grpc::CallbackServerContext* ctx,
                                                            const X509SVIDRequest* req) override;
  grpc::ServerWriteReactor<X509BundlesResponse>* FetchX509Bundles(
      grpc::CallbackServerContext* ctx, const X509BundlesRequest* req) override;
  grpc::Status FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                            JWTSVIDResponse* resp) override;
  grpc::ServerWriteReactor<JWTBundlesResponse>* FetchJWTBundles(
      grpc::CallbackServerContext* ctx, const JWTBundlesRequest* req) override;
  grpc::Status ValidateJWTSVID(grpc::ServerContext* ctx, const ValidateJWTSVIDRequest* req,
                               ValidateJWTSVIDResponse* resp) override;

 private:
  // The header check and attestation of the caller: its selectors.
  absl::StatusOr<std::vector<spiffe::Selector>> Caller(const grpc::ServerContextBase& ctx);
  // The caller's view once the agent is ready and it is entitled (waiting up to svid_wait).
  absl::StatusOr<WorkloadView> View(const std::vector<spiffe::Selector>& selectors) const;
  absl::Status JwtSvids(const std::vector<spiffe::Selector>& selectors, const JWTSVIDRequest& req,
                        JWTSVIDResponse* resp);
  absl::Status Validate(const std::vector<spiffe::Selector>& selectors,
                        const ValidateJWTSVIDRequest& req, ValidateJWTSVIDResponse* resp);
  // Attests the caller and starts its stream; `fill` builds a message from a ready view of an
  // entitled caller (false: nothing to send yet).
  template <typename Response>
  grpc::ServerWriteReactor<Response>* OpenStream(
      grpc::CallbackServerContext* ctx, std::function<bool(const WorkloadView&, Response*)> fill);

  const WorkloadApiDeps deps_;
  AttestationCache attestation_;
  StreamHub hub_;
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_
