#include "src/client/endpoint.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace signet::client {

absl::StatusOr<std::string> WorkloadTarget(const std::string& flag) {
  std::string address = flag;
  if (address.empty()) {
    const char* env = std::getenv("SPIFFE_ENDPOINT_SOCKET");
    address = env != nullptr && *env != '\0' ? env : kDefaultWorkloadSocket;
  }
  absl::string_view rest = address;
  if (absl::ConsumePrefix(&rest, "unix://")) {
    if (!absl::StartsWith(rest, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("workload endpoint \"", address, "\": unix:// needs an absolute path"));
    }
    return absl::StrCat("unix:", rest);
  }
  if (absl::ConsumePrefix(&rest, "tcp://")) {
    if (rest.empty() || rest.find_first_of("/?#@") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("workload endpoint \"", address, "\": tcp:// takes IP:port only"));
    }
    return std::string(rest);
  }
  if (absl::StartsWith(address, "/")) return absl::StrCat("unix:", address);
  return absl::InvalidArgumentError(absl::StrCat(
      "workload endpoint \"", address, "\": use unix:///path, tcp://IP:port or an absolute path"));
}

absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> WorkloadStub(const std::string& address) {
  absl::StatusOr<std::string> target = WorkloadTarget(address);
  if (!target.ok()) return target.status();
  return SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel(*target, grpc::InsecureChannelCredentials()));
}

}  // namespace signet::client
