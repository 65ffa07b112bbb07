// SignetServer: one running server of a trust domain. Opens the datastore, starts the CA manager,
// serves the admin API on the admin socket (callers authorized by kernel peer uid: root and
// admin_uids), and runs the periodic work (CA rotation, join token pruning).
//
// Start() returns once the server is ready to serve. Shutdown() is graceful: the admin socket
// stops accepting, in-flight calls get up to `grace` to finish, the ticker stops, and the
// datastore is closed cleanly.
#ifndef SIGNET_SERVER_SERVER_H_
#define SIGNET_SERVER_SERVER_H_

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

class SignetServer {
 public:
  static absl::StatusOr<std::unique_ptr<SignetServer>> Start(const ServerConfig& config,
                                                             Clock& clock = RealClock());
  ~SignetServer();

  void Shutdown(absl::Duration grace = absl::Seconds(10));
  const std::string& admin_socket() const { return config_.admin_socket; }
  CaManager& ca() { return *ca_; }
  DataStore& store() { return *store_; }

 private:
  SignetServer(const ServerConfig& config, Clock& clock);
  absl::Status Init();
  void TickLoop();
  bool IsAdminUid(uint32_t uid) const;

  ServerConfig config_;
  Clock& clock_;
  std::unique_ptr<DataStore> store_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<CaManager> ca_;
  std::unique_ptr<rpc::PeerRegistry> peers_;
  std::unique_ptr<ApiContext> api_;
  std::unique_ptr<AdminServices> services_;
  std::unique_ptr<rpc::DenyService> deny_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::unique_ptr<grpc::Server> deny_server_;
  std::unique_ptr<rpc::UdsListener> admin_listener_;
  absl::Notification stop_ticking_;
  std::thread ticker_;
  bool shut_down_ = false;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_SERVER_H_
