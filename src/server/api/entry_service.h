// signet.admin.v1.Entries: registration entry administration.
#ifndef SIGNET_SERVER_API_ENTRY_SERVICE_H_
#define SIGNET_SERVER_API_ENTRY_SERVICE_H_

#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/server/api/api_context.h"

namespace signet::server {

class EntryService final : public admin::v1::Entries::Service {
 public:
  explicit EntryService(const ApiContext* api) : api_(api) {}

  grpc::Status BatchCreateEntry(grpc::ServerContext* ctx,
                                const admin::v1::BatchCreateEntryRequest* req,
                                admin::v1::BatchCreateEntryResponse* resp) override;
  grpc::Status BatchUpdateEntry(grpc::ServerContext* ctx,
                                const admin::v1::BatchUpdateEntryRequest* req,
                                admin::v1::BatchUpdateEntryResponse* resp) override;
  grpc::Status BatchDeleteEntry(grpc::ServerContext* ctx,
                                const admin::v1::BatchDeleteEntryRequest* req,
                                admin::v1::BatchDeleteEntryResponse* resp) override;
  grpc::Status GetEntry(grpc::ServerContext* ctx, const admin::v1::GetEntryRequest* req,
                        admin::v1::Entry* resp) override;
  grpc::Status ListEntries(grpc::ServerContext* ctx, const admin::v1::ListEntriesRequest* req,
                           admin::v1::ListEntriesResponse* resp) override;
  grpc::Status CountEntries(grpc::ServerContext* ctx, const admin::v1::CountEntriesRequest* req,
                            admin::v1::CountEntriesResponse* resp) override;

 private:
  const ApiContext* api_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_ENTRY_SERVICE_H_
