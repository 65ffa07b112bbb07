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
#include "absl/time/time.h"

struct nghttp2_session;

namespace signet::rpc::h2 {

class UnaryClient {
 public:
  using Metadata = std::vector<std::pair<std::string, std::string>>;

  // Connects to the Unix socket at `path` and sends the HTTP/2 preface and settings. A call
  // with no answer within `reply_timeout` is DeadlineExceeded.
  static absl::StatusOr<std::unique_ptr<UnaryClient>> Connect(
      const std::string& path, absl::Duration reply_timeout = absl::Seconds(10));
  ~UnaryClient();
  UnaryClient(const UnaryClient&) = delete;
  UnaryClient& operator=(const UnaryClient&) = delete;

  // Calls `method` ("/Service/Method") with the serialized request and returns the serialized
  // response message. A non-OK grpc-status comes back as that status with its grpc-message.
  // After a failure of the connection itself (not a gRPC status: a timeout, a reset, a
  // protocol error), every later call returns that failure.
  absl::StatusOr<std::string> Call(absl::string_view method, absl::string_view request,
                                   const Metadata& metadata);

 private:
  absl::Status Flush();
  // Sends and reads until `closed` (set by nghttp2's stream-close callback) is true.
  absl::Status Pump(const bool& closed);

  UnaryClient(int fd, absl::Duration reply_timeout);

  int fd_;
  const absl::Duration reply_timeout_;
  absl::Status broken_;  // why the connection is unusable; OK while it is fine
  nghttp2_session* session_ = nullptr;
  std::string body_;        // the request message being sent (5-byte prefix + request)
  size_t body_offset_ = 0;  // how much of body_ nghttp2 has taken
};

}  // namespace signet::rpc::h2

#endif  // SIGNET_RPC_H2_UNARY_CLIENT_H_
