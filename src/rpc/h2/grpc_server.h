// A small gRPC server of our own, over HTTP/2 (nghttp2), for the agent's Workload API socket.
//
// Why not grpc::Server: gRPC C-core keeps ~13 KB of arena and state per open call and wakes
// several threads per unary call; the Workload API holds one long-lived stream per workload and
// answers cached JWT-SVIDs, so both costs dominate the agent (docs/benchmarks.md). Here an open
// stream costs its HTTP/2 stream state plus what its handler keeps, and a call whose handler
// answers at once is read, answered and written by one event-loop thread.
//
// What it implements of gRPC over HTTP/2: POST with content-type application/grpc*, the
// 5-byte message framing, request size cap (RESOURCE_EXHAUSTED), identity encoding only
// (a compressed request gets UNIMPLEMENTED), grpc-timeout (DEADLINE_EXCEEDED), trailers and
// trailers-only responses with percent-encoded grpc-message, UNIMPLEMENTED for unknown methods,
// RST_STREAM as cancellation, GOAWAY on shutdown. No TLS: connections come from a UdsListener
// that has read the caller's kernel credentials.
//
// Threads: N event loops (epoll), each owning some connections. Handlers run on their
// connection's loop and must not block; Call::Write and Call::Finish may be called from any
// thread, at any time, also after the call is over (they then do nothing).
#ifndef SIGNET_RPC_H2_GRPC_SERVER_H_
#define SIGNET_RPC_H2_GRPC_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/rpc/uds_listener.h"

namespace google::protobuf {
class MessageLite;
}  // namespace google::protobuf

namespace signet::rpc::h2 {

class Connection;

// What is known about a call when its handler starts.
struct CallInfo {
  std::string method;          // the :path, "/package.Service/Method"
  PeerCred peer;               // the connection's caller, read by the listener at accept time
  uint64_t connection_id = 0;  // unique per connection for the life of the process
  // Request metadata: lower-case names, no pseudo-headers, binary (-bin) values undecoded.
  std::vector<std::pair<std::string, std::string>> metadata;
  absl::Time deadline = absl::InfiniteFuture();

  // The first value of `name`, or nullptr.
  const std::string* Find(absl::string_view name) const;
};

// A call as its handler sees it. Thread-safe.
class Call {
 public:
  Call(CallInfo info, std::weak_ptr<Connection> connection, int32_t stream_id)
      : info_(std::move(info)), connection_(std::move(connection)), stream_id_(stream_id) {}

  const CallInfo& info() const { return info_; }
  // Queues one response message (serialized). False once the call is over.
  bool Write(std::string message);
  bool Write(const google::protobuf::MessageLite& message);
  // Ends the call with `status` (sent as trailers after every queued message). Only the first
  // Finish counts.
  void Finish(const absl::Status& status);
  // True once Finish was called or the call ended otherwise (cancelled, connection gone).
  bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  friend class Connection;
  // Marks the call over; true for the first caller.
  bool MarkDone() { return !done_.exchange(true, std::memory_order_acq_rel); }

  const CallInfo info_;
  const std::weak_ptr<Connection> connection_;
  const int32_t stream_id_;
  std::atomic<bool> done_{false};
};

// One call's server side. Its methods run on the connection's event loop, one at a time.
class Handler {
 public:
  virtual ~Handler() = default;
  // Every request message, in order (at most max_request_bytes each).
  virtual void OnMessage(std::string message) = 0;
  // The client has sent its last message.
  virtual void OnHalfClose() {}
  // The call ended without Finish: the client cancelled or went away, the deadline passed, or
  // the server is shutting down. The handler is destroyed after this.
  virtual void OnCancel() {}
};

using HandlerFactory = std::function<std::unique_ptr<Handler>(std::shared_ptr<Call>)>;

// For unary and server-streaming methods: `run` gets the one request message once the client
// has half-closed (none or two of them: INTERNAL). `cancelled`, if set, runs on OnCancel.
HandlerFactory SingleRequest(std::function<void(std::shared_ptr<Call>, std::string)> run,
                             std::function<void(const std::shared_ptr<Call>&)> cancelled = {});

class Server {
 public:
  struct Options {
    int loops = 2;                          // event-loop threads
    size_t max_request_bytes = 64 << 10;    // per request message
    uint32_t max_concurrent_streams = 256;  // per connection (SETTINGS)
    size_t max_header_bytes = 16 << 10;     // per request header block
    size_t max_connections = 4096;          // more are closed at once
    size_t max_connections_per_uid = 256;   // so that one user cannot take every slot
    // A connection that has not sent a whole HTTP/2 frame by then is closed.
    absl::Duration preface_timeout = absl::Seconds(10);
  };

  static absl::StatusOr<std::unique_ptr<Server>> Create(Options options);
  ~Server();  // Shutdown(0)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers `factory` for `method` ("/package.Service/Method"). Before the first Adopt.
  void Register(std::string method, HandlerFactory factory);
  // The service names registered ("package.Service"), sorted: for server reflection.
  std::vector<std::string> Services() const;

  // Takes over a connected socket: from now on the server owns `fd`.
  void Adopt(int fd, const PeerCred& peer);

  // Sends GOAWAY on every connection, waits up to `grace` for their calls to end (handlers are
  // expected to Finish them), then cancels what is left and closes everything. Idempotent.
  void Shutdown(absl::Duration grace);

  size_t connections() const;

 private:
  class Loop;
  explicit Server(Options options);

  // Counts connections per uid; false when `uid` has max_connections_per_uid already.
  bool TakeSlot(uid_t uid);
  void GiveSlot(uid_t uid);

  const Options options_;
  absl::flat_hash_map<std::string, HandlerFactory> methods_;
  absl::Mutex slots_mu_;
  absl::flat_hash_map<uid_t, size_t> per_uid_ ABSL_GUARDED_BY(slots_mu_);
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<uint64_t> next_connection_{1};
  std::atomic<bool> shut_down_{false};
};

// gRPC's percent-encoding of grpc-message: bytes outside 0x20..0x7E, and '%', as %XX.
std::string PercentEncode(absl::string_view message);
// Its inverse, as a client reads grpc-message: a '%' not followed by two hex digits is kept.
std::string PercentDecode(absl::string_view message);
// The grpc-timeout header ("1S", "250m", ...): nullopt when malformed.
std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value);

}  // namespace signet::rpc::h2

#endif  // SIGNET_RPC_H2_GRPC_SERVER_H_
