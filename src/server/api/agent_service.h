// signet.admin.v1.Agents (attested nodes and join tokens) and signet.admin.v1.Bundles.
#ifndef SIGNET_SERVER_API_AGENT_SERVICE_H_
#define SIGNET_SERVER_API_AGENT_SERVICE_H_

#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/server/api/api_context.h"

namespace signet::server {

inline constexpr int32_t kDefaultJoinTokenTtlSeconds = 600;
inline constexpr int32_t kMaxJoinTokenTtlSeconds = 7 * 24 * 3600;

class AgentService final : public admin::v1::Agents::Service {
 public:
  explicit AgentService(const ApiContext* api) : api_(api) {}
  grpc::Status ListAgents(grpc::ServerContext* ctx, const admin::v1::ListAgentsRequest* req,
                          admin::v1::ListAgentsResponse* resp) override;
  grpc::Status GetAgent(grpc::ServerContext* ctx, const admin::v1::AgentRequest* req,
                        admin::v1::Agent* resp) override;
  grpc::Status EvictAgent(grpc::ServerContext* ctx, const admin::v1::AgentRequest* req,
                          admin::v1::Agent* resp) override;
  grpc::Status BanAgent(grpc::ServerContext* ctx, const admin::v1::AgentRequest* req,
                        admin::v1::Agent* resp) override;
  grpc::Status CreateJoinToken(grpc::ServerContext* ctx,
                               const admin::v1::CreateJoinTokenRequest* req,
                               admin::v1::JoinToken* resp) override;

 private:
  const ApiContext* api_;
};

class BundleService final : public admin::v1::Bundles::Service {
 public:
  explicit BundleService(const ApiContext* api) : api_(api) {}
  grpc::Status GetBundle(grpc::ServerContext* ctx, const admin::v1::GetBundleRequest* req,
                         admin::v1::Bundle* resp) override;
  grpc::Status SetFederatedBundle(grpc::ServerContext* ctx,
                                  const admin::v1::SetFederatedBundleRequest* req,
                                  admin::v1::Bundle* resp) override;
  grpc::Status ListFederatedBundles(grpc::ServerContext* ctx,
                                    const admin::v1::ListFederatedBundlesRequest* req,
                                    admin::v1::ListFederatedBundlesResponse* resp) override;
  grpc::Status DeleteFederatedBundle(grpc::ServerContext* ctx,
                                     const admin::v1::DeleteFederatedBundleRequest* req,
                                     admin::v1::DeleteFederatedBundleResponse* resp) override;

 private:
  const ApiContext* api_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_AGENT_SERVICE_H_
