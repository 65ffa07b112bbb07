// A gRPC generic service that answers every method with one fixed status. Used for callers a
// listener has already decided to refuse, so they get a clear PermissionDenied instead of a
// dropped connection.
#ifndef SIGNET_RPC_DENY_SERVICE_H_
#define SIGNET_RPC_DENY_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace signet::rpc {

class DenyService final : public grpc::CallbackGenericService {
 public:
  explicit DenyService(grpc::Status status) : status_(std::move(status)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  grpc::Status status_;
};

// A started grpc::Server with no listening ports (connections arrive from a UdsListener) that
// serves only `service`.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartPortlessServer(
    grpc::CallbackGenericService* service);

}  // namespace signet::rpc

#endif  // SIGNET_RPC_DENY_SERVICE_H_
