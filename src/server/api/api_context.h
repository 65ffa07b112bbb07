// What every admin API service needs: the datastore, the server's settings, the clock, and a way
// to name the caller and write the audit log.
#ifndef SIGNET_SERVER_API_API_CONTEXT_H_
#define SIGNET_SERVER_API_API_CONTEXT_H_

#include <string>

#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/rpc/uds_listener.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

class CaManager;

struct ApiSettings {
  spiffe::TrustDomain trust_domain;
  absl::Duration default_x509_svid_ttl = absl::Hours(1);
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);
  absl::Time started_at = absl::InfinitePast();
};

class ApiContext {
 public:
  ApiContext(ApiSettings settings, DataStore* store, CaManager* ca, const Clock* clock,
             const rpc::PeerRegistry* peers)
      : settings_(std::move(settings)), store_(store), ca_(ca), clock_(clock), peers_(peers) {}

  const ApiSettings& settings() const { return settings_; }
  DataStore& store() const { return *store_; }
  CaManager& ca() const { return *ca_; }
  absl::Time Now() const { return clock_->Now(); }

  // "uid:1000" for a caller on the admin socket; "unknown" if the connection is not registered.
  std::string CallerName(const grpc::ServerContext& ctx) const;

  // Appends an audit event. A failure to write it is logged (the action has already happened and
  // its result must still reach the caller).
  void Audit(const grpc::ServerContext& ctx, absl::string_view action,
                     absl::string_view target, const absl::Status& result,
                     absl::string_view detail = "") const;

 private:
  ApiSettings settings_;
  DataStore* store_;
  CaManager* ca_;
  const Clock* clock_;
  const rpc::PeerRegistry* peers_;
};

// absl -> gRPC status (the codes map 1:1).
grpc::Status ToGrpc(const absl::Status& status);

// "ok", "invalid_argument", ... for audit records.
std::string ResultName(const absl::Status& status);

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_API_CONTEXT_H_
