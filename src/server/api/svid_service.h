// signet.admin.v1.Svids (operator minting) and signet.admin.v1.Authorities (forced rotation).
#ifndef SIGNET_SERVER_API_SVID_SERVICE_H_
#define SIGNET_SERVER_API_SVID_SERVICE_H_

#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/server/api/api_context.h"
#include "src/spiffe/jwt_audience.h"

namespace signet::server {

using spiffe::CheckAudiences;

class SvidService final : public admin::v1::Svids::Service {
 public:
  explicit SvidService(const ApiContext* api) : api_(api) {}
  grpc::Status MintX509Svid(grpc::ServerContext* ctx, const admin::v1::MintX509SvidRequest* req,
                            admin::v1::MintX509SvidResponse* resp) override;
  grpc::Status MintJwtSvid(grpc::ServerContext* ctx, const admin::v1::MintJwtSvidRequest* req,
                           admin::v1::MintJwtSvidResponse* resp) override;

 private:
  const ApiContext* api_;
};

class AuthorityService final : public admin::v1::Authorities::Service {
 public:
  explicit AuthorityService(const ApiContext* api) : api_(api) {}
  grpc::Status ShowAuthorities(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req,
                               admin::v1::AuthorityResponse* resp) override;
  grpc::Status PrepareAuthority(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req,
                                admin::v1::AuthorityResponse* resp) override;
  grpc::Status ActivateAuthority(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req,
                                 admin::v1::AuthorityResponse* resp) override;
  grpc::Status TaintAuthority(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req,
                              admin::v1::AuthorityResponse* resp) override;
  grpc::Status RevokeAuthority(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req,
                               admin::v1::AuthorityResponse* resp) override;

 private:
  enum class Op { kPrepare, kActivate, kTaint, kRevoke };
  grpc::Status Change(grpc::ServerContext* ctx, const admin::v1::AuthorityRequest* req, Op op,
                      admin::v1::AuthorityResponse* resp);
  const ApiContext* api_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_SVID_SERVICE_H_
