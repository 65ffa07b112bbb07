// The agent API's Entries and Svids services (proto/signet/agent/v1/agent.proto), for callers
// that AgentPolicy has let through (attested agents that are not banned):
//   Entries/SyncEntries   a snapshot of the entries the agent is authorized for, from the
//                         server's EntryIndex, then deltas as the index moves; the bundle with
//                         the snapshot and whenever it changes; PermissionDenied at once when
//                         the agent is banned or evicted while the stream is open.
//   Svids/BatchNewX509Svid  one X509-SVID per (entry, CSR): the entry must be authorized for
//                         the caller; its SPIFFE ID, DNS names and TTL are used.
//   Svids/NewJwtSvid      a JWT-SVID for an authorized entry (agents cache them).
#ifndef SIGNET_SERVER_AGENTAPI_AGENT_SERVICES_H_
#define SIGNET_SERVER_AGENTAPI_AGENT_SERVICES_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "signet/agent/v1/agent.grpc.pb.h"
#include "src/server/agentapi/agent_limiter.h"
#include "src/server/api/api_context.h"
#include "src/server/entryindex/entry_index.h"

namespace signet::server {

// Everything both services need, borrowed; must outlive them.
struct AgentApiDeps {
  const ApiContext* api;
  const EntryIndex* index;
  // How long a sync stream waits for the index before it looks at its node record and the
  // bundle again (both are also checked whenever the index moves).
  absl::Duration sync_poll = absl::Seconds(1);
  // Set when the server stops: open sync streams end with Unavailable within sync_poll instead of
  // holding the graceful shutdown for its whole grace period.
  const std::atomic<bool>* stopping = nullptr;
  // Overload protection for the signing calls; null: none (tests of other behaviour).
  AgentLimiter* limiter = nullptr;
};

class EntrySyncService final : public ::signet::agent::v1::Entries::Service {
 public:
  explicit EntrySyncService(AgentApiDeps deps) : deps_(deps) {}

  grpc::Status SyncEntries(
      grpc::ServerContext* ctx, const ::signet::agent::v1::SyncEntriesRequest* req,
      grpc::ServerWriter<::signet::agent::v1::SyncEntriesResponse>* writer) override;

 private:
  AgentApiDeps deps_;
};

inline constexpr int kMaxSvidsPerBatch = 1000;
// The most entries a reconnecting agent may list in SyncEntriesRequest.known.
inline constexpr int kMaxKnownEntries = 50000;

class AgentSvidService final : public ::signet::agent::v1::Svids::Service {
 public:
  explicit AgentSvidService(AgentApiDeps deps) : deps_(deps) {}

  grpc::Status BatchNewX509Svid(grpc::ServerContext* ctx,
                                const ::signet::agent::v1::BatchNewX509SvidRequest* req,
                                ::signet::agent::v1::BatchNewX509SvidResponse* resp) override;
  grpc::Status NewJwtSvid(grpc::ServerContext* ctx,
                          const ::signet::agent::v1::NewJwtSvidRequest* req,
                          ::signet::agent::v1::NewJwtSvidResponse* resp) override;

 private:
  AgentApiDeps deps_;
};

// The calling agent (verified by SvidAuthProcessor) and its node selectors.
struct CallingAgent {
  spiffe::SpiffeId id;
  std::vector<Selector> node_selectors;
};
// PermissionDenied when the node record is gone or banned.
absl::StatusOr<CallingAgent> LookUpCallingAgent(const ApiContext& api,
                                                const grpc::ServerContext& ctx);

}  // namespace signet::server

#endif  // SIGNET_SERVER_AGENTAPI_AGENT_SERVICES_H_
