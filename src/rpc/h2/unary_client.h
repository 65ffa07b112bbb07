// A lean gRPC client for unary calls over a Unix socket: one blocking HTTP/2 connection
// (nghttp2), one call at a time, identity encoding only. bench/workload uses it as a load
// generator that costs the machine little, so that the latency it reports is the agent's and not
// mostly a client library's.
#ifndef SIGNET_RPC_H2_UNARY_CLIENT_H_
#define SIGNET_RPC_H2_UNARY_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct nghttp2_session;

namespace signet::rpc::h2 {

class UnaryClient {
 public:
  using Metadata = std::vector<std::pair<std::string, std::string>>;

  // Connects to the Unix socket at `path` and sends the HTTP/2 preface and settings.
  static absl::StatusOr<std::unique_ptr<UnaryClient>> Connect(const std::string& path);
  ~UnaryClient();
  UnaryClient(const UnaryClient&) = delete;
  UnaryClient& operator=(const UnaryClient&) = delete;

  // Calls `method` ("/Service/Method") with the serialized request and returns the serialized
  // response message. A non-OK grpc-status comes back as that status with its grpc-message.
  absl::StatusOr<std::string> Call(absl::string_view method, absl::string_view request,
                                   const Metadata& metadata);

 private:
  explicit UnaryClient(int fd);
  absl::Status Flush();
  // Sends and reads until `closed` (set by nghttp2's stream-close callback) is true.
  absl::Status Pump(const bool& closed);

  int fd_;
  nghttp2_session* session_ = nullptr;
  std::string body_;        // the request message being sent (5-byte prefix + request)
  size_t body_offset_ = 0;  // how much of body_ nghttp2 has taken
};

}  // namespace signet::rpc::h2

#endif  // SIGNET_RPC_H2_UNARY_CLIENT_H_
