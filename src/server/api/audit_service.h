// signet.admin.v1.Audit and signet.admin.v1.Server (health).
#ifndef SIGNET_SERVER_API_AUDIT_SERVICE_H_
#define SIGNET_SERVER_API_AUDIT_SERVICE_H_

#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/server/api/api_context.h"

namespace signet::server {

class AuditService final : public admin::v1::Audit::Service {
 public:
  explicit AuditService(const ApiContext* api) : api_(api) {}
  grpc::Status ListAuditEvents(grpc::ServerContext* ctx,
                               const admin::v1::ListAuditEventsRequest* req,
                               admin::v1::ListAuditEventsResponse* resp) override;

 private:
  const ApiContext* api_;
};

class HealthService final : public admin::v1::Server::Service {
 public:
  explicit HealthService(const ApiContext* api) : api_(api) {}
  grpc::Status Health(grpc::ServerContext* ctx, const admin::v1::HealthRequest* req,
                      admin::v1::HealthResponse* resp) override;

 private:
  const ApiContext* api_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_AUDIT_SERVICE_H_
