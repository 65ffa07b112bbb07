// SignetAgent: one node's agent, first slice. It proves the node's identity to the server
// (join_token), keeps its agent SVID (renewed at half-life with jitter), and holds the entries
// the server says the node may serve, from one long-lived SyncEntries stream that reconnects
// with exponential backoff and jitter. The Workload API (issue 5) will serve from this cache.
//
// data_dir holds agent_svid.pem (chain), agent_key.pem (0600), bundle.pem and status.json, each
// written atomically. On start the agent resumes from them while the SVID is valid and its
// trust domain matches, without attesting again (a join token works once).
//
// status.json: {"attested", "agent_id", "svid_expires_at", "server_reachable", "revision",
// "entries", "last_error"}, rewritten whenever one of them changes.
//
// Threads: Start() returns once the agent holds a valid SVID; a sync thread and a renewal
// thread run until Shutdown(). Wall-clock waits are real time; SVID validity uses `clock`.
#ifndef SIGNET_AGENT_AGENT_H_
#define SIGNET_AGENT_AGENT_H_

#include <grpcpp/server.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "signet/agent/v1/agent.grpc.pb.h"
#include "src/agent/agent_config.h"
#include "src/agent/workload/sds_service.h"
#include "src/agent/workload/svid_cache.h"
#include "src/agent/workload/workload_api.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/clock.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/rpc/h2/grpc_server.h"
#include "src/rpc/uds_listener.h"

namespace signet::agent {

class SignetAgent {
 public:
  // Attests (or resumes) and starts syncing. Fails when the node cannot get an SVID: a refused
  // attestation (PermissionDenied with the server's reason), a bad trust bundle, an unwritable
  // data_dir, or a server that stays unreachable for `attest_timeout`.
  static absl::StatusOr<std::unique_ptr<SignetAgent>> Start(
      const AgentConfig& config, Clock& clock = RealClock(),
      absl::Duration attest_timeout = absl::Seconds(30));
  ~SignetAgent();
  void Shutdown();

  std::string agent_id() const ABSL_LOCKS_EXCLUDED(mu_);
  // The cached entries, by id.
  std::map<std::string, ::signet::agent::v1::Entry> Entries() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  const SvidCache& cache() const { return cache_; }

 private:
  SignetAgent(const AgentConfig& config, Clock& clock)
      : config_(config),
        clock_(clock),
        cache_(clock, static_cast<size_t>(config.max_cached_svids)) {}

  // The Workload API (agent_workload.cc): its socket and server, and the loop that signs and
  // rotates the workload SVIDs of the cached entries.
  absl::Status StartWorkloadApi();
  void StopWorkloadApi();
  void SvidLoop();
  // Signs `due` in one BatchNewX509Svid call; entries the server refused get `*retry` times.
  absl::Status SignBatch(const std::vector<::signet::agent::v1::Entry>& due,
                         std::map<std::string, absl::Time>* retry);
  // data_dir/workload_cache.pb: what the cache holds, written after each sync and signing
  // batch, and read back on a restart that resumes (so workloads are served while the server is
  // unreachable). A file that does not hold up (bad proto, SVIDs that do not parse or match
  // their entry) is ignored as a whole.
  void SaveWorkloadCache() ABSL_LOCKS_EXCLUDED(mu_);
  void LoadWorkloadCache() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<MintedJwt> MintJwt(const ::signet::agent::v1::Entry& entry,
                                    const std::vector<std::string>& audience);

  absl::Status Init(absl::Duration attest_timeout);
  absl::Status LoadBootstrapRoots();
  bool Resume() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Attest() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Renew() ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the new SVID and writes it, its key and the bundle to data_dir.
  absl::Status Adopt(const ::signet::agent::v1::AgentSvid& svid, crypto::PrivateKey key,
                     const std::vector<std::string>& bundle_der) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<grpc::Channel> Channel(bool with_svid) ABSL_LOCKS_EXCLUDED(mu_);
  void SyncLoop();
  // One stream until it ends; its status.
  grpc::Status SyncOnce() ABSL_LOCKS_EXCLUDED(mu_);
  void Apply(const ::signet::agent::v1::SyncEntriesResponse& m) ABSL_LOCKS_EXCLUDED(mu_);
  void RenewLoop();
  void SetReachable(bool reachable, const std::string& error) ABSL_LOCKS_EXCLUDED(mu_);
  void WriteStatus() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits `d` (wall time) or until Shutdown; false once shut down.
  bool Sleep(absl::Duration d);

  const AgentConfig config_;
  Clock& clock_;
  std::string bootstrap_roots_;  // PEM; empty with insecure_bootstrap
  absl::Notification stop_;
  std::thread sync_thread_;
  std::thread renew_thread_;
  std::thread svid_thread_;

  SvidCache cache_;
  std::vector<std::unique_ptr<WorkloadAttestor>> attestors_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<WorkloadApiService> workload_service_;
  std::unique_ptr<SdsService> sds_service_;
  std::unique_ptr<rpc::h2::Server> workload_server_;
  std::unique_ptr<rpc::UdsListener> listener_;

  mutable absl::Mutex mu_;
  std::vector<crypto::Certificate> svid_ ABSL_GUARDED_BY(mu_);
  std::optional<crypto::PrivateKey> key_ ABSL_GUARDED_BY(mu_);
  std::string bundle_pem_ ABSL_GUARDED_BY(mu_);
  std::string bundle_json_ ABSL_GUARDED_BY(mu_);  // the last SPIFFE bundle the sync sent
  std::map<std::string, ::signet::agent::v1::Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool reachable_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* stream_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;  // cancelled by Shutdown
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_AGENT_H_
