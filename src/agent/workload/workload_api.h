// The SPIFFE Workload API (spiffe-conformance.md §6) served by the agent on its Unix socket.
//
// Every call must carry the security header `workload.spiffe.io: true` (else InvalidArgument).
// The caller is attested from kernel facts (the PeerCred the listener read at accept time);
// a caller entitled to nothing gets PermissionDenied; an agent that has not synced yet answers
// Unavailable. Streams send a full snapshot at once and a new one whenever what the caller sees
// changes (rotation, bundle, entitlements), never the same one twice, and end with
// PermissionDenied when the caller loses its last entry. The WIT RPCs answer Unimplemented.
#ifndef SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_
#define SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/agent/workload/snapshot_stream.h"
#include "src/agent/workload/svid_cache.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/clock.h"
#include "src/common/worker_pool.h"
#include "src/rpc/h2/grpc_server.h"
#include "src/spiffe/spiffe_id.h"
#include "workload.pb.h"

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
  const std::vector<std::unique_ptr<WorkloadAttestor>>* attestors = nullptr;
  JwtMinter mint_jwt;
  const Clock* clock = nullptr;
  const std::atomic<bool>* stopping = nullptr;  // streams end with Unavailable once set
  // How long a call waits for an SVID the agent is still signing before it answers Unavailable.
  absl::Duration svid_wait = absl::Seconds(5);
  // How long a caller's attestation is reused for its later calls.
  absl::Duration attestation_ttl = absl::Seconds(1);
  // How often an open stream re-checks expiry even when nothing changed.
  absl::Duration poll = absl::Seconds(1);
};

// The caller's selectors, or why it has none; `may_block` is true on a worker thread.
using AttestedFn = std::function<void(absl::StatusOr<SharedSelectors> selectors, bool may_block)>;

// What the Workload API and SDS share: attestation of callers on the h2 server's event loops
// (a cached answer at once, anything else on a worker), the stream hub and the worker pool.
class WorkloadCallers {
 public:
  explicit WorkloadCallers(const WorkloadApiDeps& deps)
      : deps_(deps), attestation_(*deps.clock, deps.attestation_ttl), hub_(deps.cache, deps.poll) {}

  // Calls `then` with the caller's selectors: at once when its attestation is cached, else on a
  // worker, where calls from one process share one attestation. A full worker queue finishes
  // the calls with Unavailable instead.
  void Attest(const std::shared_ptr<rpc::h2::Call>& call, AttestedFn then)
      ABSL_LOCKS_EXCLUDED(inflight_mu_);
  // Runs `work` on a worker unless `call` is over by then (or the agent is stopping: then
  // Unavailable); a full queue finishes `call` with Unavailable.
  void Offload(const std::shared_ptr<rpc::h2::Call>& call, std::function<void()> work);
  StreamHub& hub() { return hub_; }
  bool stopping() const { return deps_.stopping != nullptr && deps_.stopping->load(); }
  // Ends every stream (Unavailable) and runs what the workers still have. Before the server
  // shuts down.
  void Stop();

 private:
  struct Waiter {
    std::shared_ptr<rpc::h2::Call> call;
    AttestedFn then;
  };
  // Runs the waiters of the attestation of `key` with `result`.
  void Deliver(const rpc::PidFd* key, const absl::StatusOr<SharedSelectors>& result)
      ABSL_LOCKS_EXCLUDED(inflight_mu_);

  const WorkloadApiDeps& deps_;
  AttestationCache attestation_;
  StreamHub hub_;
  absl::Mutex inflight_mu_;
  // Calls waiting for an attestation on its way, by the process's pidfd.
  absl::flat_hash_map<const rpc::PidFd*, std::vector<Waiter>> inflight_
      ABSL_GUARDED_BY(inflight_mu_);
  WorkerPool pool_{16, 4096};
};

// The SPIFFE Workload API's five RPCs on an h2 server. Unary calls whose answer is at hand
// (cached attestation, ready view, cached JWT-SVID) are answered on the event loop; the rest
// (a JWT-SVID the server must sign, an agent still syncing) on a worker. The WIT RPCs are not
// registered, so they answer Unimplemented.
class WorkloadApiService {
 public:
  explicit WorkloadApiService(WorkloadApiDeps deps) : deps_(std::move(deps)), callers_(deps_) {}

  void Register(rpc::h2::Server* server);
  // Ends every open stream with Unavailable (agent shutdown). Call before the server shuts down.
  void Stop() { callers_.Stop(); }
  const WorkloadApiDeps& deps() const { return deps_; }
  WorkloadCallers& callers() { return callers_; }

 private:
  // Opens a snapshot stream for an entitled caller; `fill` builds a message from a ready view
  // (false: nothing to send yet).
  template <typename Response>
  void OpenStream(std::shared_ptr<rpc::h2::Call> call,
                  std::function<bool(const WorkloadView&, Response*)> fill);
  // nullopt: the answer needs to block (`may_block` false).
  std::optional<absl::Status> JwtSvids(const std::vector<spiffe::Selector>& selectors,
                                       const JWTSVIDRequest& req, bool may_block,
                                       JWTSVIDResponse* resp);
  std::optional<absl::Status> Validate(const std::vector<spiffe::Selector>& selectors,
                                       const ValidateJWTSVIDRequest& req, bool may_block,
                                       ValidateJWTSVIDResponse* resp);
  // The caller's view once the agent is ready and it is entitled; with `may_block`, waits up to
  // svid_wait, else nullopt when not ready.
  std::optional<absl::StatusOr<WorkloadView>> View(const std::vector<spiffe::Selector>& selectors,
                                                   bool may_block) const;
  // Parses a unary request, attests, answers with `answer` (inline, or on a worker when it
  // returns nullopt without `may_block`).
  template <typename Request, typename Response>
  void Unary(std::shared_ptr<rpc::h2::Call> call, std::string bytes,
             std::function<std::optional<absl::Status>(const std::vector<spiffe::Selector>&,
                                                       const Request&, bool, Response*)>
                 answer);

  const WorkloadApiDeps deps_;
  WorkloadCallers callers_;
};

// The Workload API's security header: `workload.spiffe.io: true`, else InvalidArgument.
absl::Status CheckSecurityHeader(const rpc::h2::CallInfo& info);

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_WORKLOAD_API_H_
