// The Workload API endpoint (spiffe-conformance.md §6.1) and a stub for it, as every Workload API
// client here (libsignet-client, the CLI) resolves it.
#ifndef SIGNET_CLIENT_ENDPOINT_H_
#define SIGNET_CLIENT_ENDPOINT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "workload.grpc.pb.h"

namespace signet::client {

inline constexpr char kDefaultWorkloadSocket[] = "/run/signet/agent.sock";
inline constexpr char kSecurityHeader[] = "workload.spiffe.io";

// The gRPC target for a Workload API address: unix:///abs/path or tcp://IP:port; a bare absolute
// path is taken as a Unix socket. Empty: $SPIFFE_ENDPOINT_SOCKET, else kDefaultWorkloadSocket.
absl::StatusOr<std::string> WorkloadTarget(const std::string& address);
absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> WorkloadStub(const std::string& address);

}  // namespace signet::client

#endif  // SIGNET_CLIENT_ENDPOINT_H_
