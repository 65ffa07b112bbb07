// SignetServer: one running server of a trust domain. Opens the datastore, starts the CA manager,
// keeps the server's own X509-SVID (ServerSvid), serves the admin API on two listeners, and runs
// the periodic work (CA rotation, server SVID renewal, join token pruning):
//   - the admin socket: callers authorized by kernel peer uid (root and admin_uids);
//   - the TCP listener on bind_address: mTLS with the server SVID; each call is authorized by
//     the caller's X509-SVID (SvidAuthProcessor): admin methods for admin_ids and the SPIFFE IDs
//     of entries with admin: true. The agent API is meant to share this listener.
//
// Start() returns once the server is ready to serve: every entry is loaded into the EntryIndex,
// which a follower thread then keeps current from the datastore's change log. Shutdown() is
// graceful: both listeners stop accepting, in-flight calls get up to `grace` to finish, the ticker
// stops, and the datastore is closed cleanly.
#ifndef SIGNET_SERVER_SERVER_H_
#define SIGNET_SERVER_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/server/config/server_config.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace signet::rpc {
class UdsListener;
class PeerRegistry;
class DenyService;
}  // namespace signet::rpc

namespace signet::server {

class DataStore;
class KeyManager;
class CaManager;
class ApiContext;
class AdminServices;
class ServerSvid;
class SvidAuthProcessor;
class EntryIndex;
class NodeService;
class AgentLimiter;
class EntrySyncService;
class AgentSvidService;

class SignetServer {
 public:
  static absl::StatusOr<std::unique_ptr<SignetServer>> Start(const ServerConfig& config,
                                                             Clock& clock = RealClock());
  ~SignetServer();

  void Shutdown(absl::Duration grace = absl::Seconds(10));
  const std::string& admin_socket() const { return config_.admin_socket; }
  // The port the TCP listener is bound to (the chosen one when bind_address has port 0).
  int tcp_port() const { return tcp_port_; }
  CaManager& ca() { return *ca_; }
  DataStore& store() { return *store_; }
  ServerSvid& server_svid() { return *svid_; }
  // Every entry in memory, following the datastore's change log (about 100 ms behind at most).
  EntryIndex& entry_index() { return *index_; }

 private:
  SignetServer(const ServerConfig& config, Clock& clock);
  absl::Status Init();
  absl::Status StartTcpListener();
  void TickLoop();
  void FollowLoop();
  bool IsAdminUid(uint32_t uid) const;

  ServerConfig config_;
  Clock& clock_;
  std::unique_ptr<DataStore> store_;
  std::unique_ptr<EntryIndex> index_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<CaManager> ca_;
  std::unique_ptr<ServerSvid> svid_;
  std::unique_ptr<rpc::PeerRegistry> peers_;
  std::unique_ptr<ApiContext> api_;
  std::unique_ptr<AdminServices> services_;
  std::unique_ptr<rpc::DenyService> deny_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::unique_ptr<grpc::Server> deny_server_;
  std::unique_ptr<rpc::UdsListener> admin_listener_;
  std::unique_ptr<AdminServices> tcp_services_;
  // The agent API, on the TCP listener only.
  std::unique_ptr<AgentLimiter> limiter_;
  std::unique_ptr<NodeService> node_service_;
  std::unique_ptr<EntrySyncService> sync_service_;
  std::unique_ptr<AgentSvidService> agent_svid_service_;
  std::shared_ptr<SvidAuthProcessor> tcp_auth_;
  std::unique_ptr<grpc::Server> tcp_server_;
  int tcp_port_ = 0;
  absl::Notification stop_ticking_;
  std::thread ticker_;
  std::thread follower_;  // FollowLoop: keeps index_ current
  bool shut_down_ = false;
  std::atomic<bool> stopping_{false};  // read by open agent sync streams
  bool ticker_started_ = false;        // Start() got all the way to serving
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_SERVER_H_
