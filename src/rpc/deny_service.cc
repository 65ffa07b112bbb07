#include "src/rpc/deny_service.h"

#include <grpc/grpc.h>
#include <grpcpp/server_builder.h>

#include "absl/status/status.h"

namespace signet::rpc {
namespace {

class DenyReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit DenyReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* DenyService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new DenyReactor(status_);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartPortlessServer(
    grpc::CallbackGenericService* service) {
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(service);
  // Refused callers get their answer and nothing more: idle connections are closed soon.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 2000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 10000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return absl::InternalError("grpc: could not start the deny server");
  return server;
}

}  // namespace signet::rpc
