// The pieces of a Workload API client the CLI commands share (fetch, validate, watch, helper):
// the endpoint, a stub, contexts with the security header, and writing an X509-SVID to files.
#ifndef SIGNET_CLI_WORKLOAD_CLIENT_H_
#define SIGNET_CLI_WORKLOAD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/client/endpoint.h"
#include "workload.grpc.pb.h"

namespace signet::cli {

// The endpoint rules (spiffe-conformance.md §6.1) are libsignet-client's.
using client::kDefaultWorkloadSocket;
using client::WorkloadStub;
using client::WorkloadTarget;

// A context with the security header; with a deadline `timeout` from now unless infinite.
std::unique_ptr<grpc::ClientContext> WorkloadContext(absl::Duration timeout);
// A status from a Workload API answer, its code named in the message.
absl::Status FromWorkloadGrpc(const grpc::Status& s);
// The first message of FetchX509SVID within `timeout`.
absl::StatusOr<X509SVIDResponse> FirstX509(const std::string& address, absl::Duration timeout);

// File names for WriteX509Files.
struct X509FileNames {
  std::string svid = "svid.pem";
  std::string key = "svid.key";
  std::string bundle = "bundle.pem";
};
// Writes the default SVID's chain (0644), key (0600, written first), the bundle (0644) and each
// federated bundle as federated/<trust domain>.pem, each atomically, into `dir` (created).
absl::Status WriteX509Files(const X509SVIDResponse& resp, const std::string& dir,
                            const X509FileNames& names = {});

}  // namespace signet::cli

#endif  // SIGNET_CLI_WORKLOAD_CLIENT_H_
