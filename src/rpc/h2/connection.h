// One HTTP/2 connection of the gRPC server: an nghttp2 server session, its streams and calls.
// It does no I/O itself: the event loop feeds it the bytes it reads (Receive) and writes what it
// produces (PullOutput), which is also how the fuzzer drives it.
//
// Everything but Post runs on the owning loop's thread.
#ifndef SIGNET_RPC_H2_CONNECTION_H_
#define SIGNET_RPC_H2_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/rpc/h2/grpc_server.h"

namespace signet::rpc::h2 {

// What a connection needs from its loop.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // Thread-safe: RunPosted() on `connection` soon, on the loop thread.
  virtual void Schedule(std::shared_ptr<Connection> connection) = 0;
};

struct ConnectionConfig {
  const absl::flat_hash_map<std::string, HandlerFactory>* methods = nullptr;
  size_t max_request_bytes = 64 << 10;
  uint32_t max_concurrent_streams = 256;
  size_t max_header_bytes = 16 << 10;
  // Responses queued for a client that does not read them (HTTP/2 flow control keeps them
  // here): past either bound the stream is ended with RESOURCE_EXHAUSTED.
  size_t max_queued_per_stream = 4 << 20;
  size_t max_queued_per_connection = 8 << 20;
  // A request message that stays incomplete this long ends its stream (a client that trickles
  // or stalls mid-message does not keep the memory).
  absl::Duration partial_message_timeout = absl::Seconds(10);
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Null when nghttp2 cannot allocate a session.
  static std::shared_ptr<Connection> Create(const ConnectionConfig& config, PeerCred peer,
                                            uint64_t id, ConnectionOwner* owner);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Feeds bytes read from the peer. False on an HTTP/2 protocol error: close the connection.
  bool Receive(const uint8_t* data, size_t size);
  // Appends what is ready to be sent to `out`, up to about `limit` bytes.
  void PullOutput(std::string* out, size_t limit);
  // True when the session is over (GOAWAY exchanged, nothing left to say or hear).
  bool Finished() const;
  // Applies the writes and finishes that calls have posted.
  void RunPosted();
  // Refuses new streams (GOAWAY); the open ones go on.
  void GoAway();
  // Ends every open call with a cancel (the connection is closing). Later posts are refused.
  void CancelAll();
  // Ends the calls whose deadline is at or before `now` with DEADLINE_EXCEEDED, and those whose
  // request message has been incomplete for partial_message_timeout.
  void ExpireDeadlines(absl::Time now);
  bool has_deadlines() const { return deadline_streams_ > 0 || partial_streams_ > 0; }
  // True once the client has sent a whole frame (the preface and more).
  bool heard_from_client() const { return heard_; }
  size_t queued_bytes() const { return queued_; }
  uid_t uid() const { return peer_.uid; }
  size_t open_streams() const { return streams_.size(); }

  // Any thread: a framed message or the end of a call. False once the connection is closed.
  bool PostWrite(int32_t stream_id, std::string framed);
  bool PostFinish(int32_t stream_id, absl::Status status);

 private:
  struct Stream;
  struct Op {
    int32_t stream_id;
    bool finish;
    std::string framed;
    absl::Status status;
  };

  Connection(const ConnectionConfig& config, PeerCred peer, uint64_t id, ConnectionOwner* owner);
  bool Post(Op op);

  // nghttp2 callbacks (user_data is the Connection).
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* self);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* self);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* self);
  static ssize_t ReadData(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* self);

  Stream* Find(int32_t stream_id);
  // The request headers are complete: checks them and starts the handler.
  void Dispatch(Stream& stream);
  void ParseMessages(Stream& stream);
  void HalfClose(Stream& stream);
  // Ends the call with `status` from the server side and tells the handler (bad request data).
  void Abort(Stream& stream, const absl::Status& status);
  void ApplyWrite(Stream& stream, std::string framed);
  void ApplyFinish(Stream& stream, absl::Status status);
  void SubmitHeaders(Stream& stream);
  void SubmitTrailersOnly(Stream& stream, const absl::Status& status);
  void SubmitHttpError(Stream& stream, const char* http_status);
  void Forget(Stream& stream);  // its share of the counters, when it goes
  static int OnFrameNotSend(nghttp2_session*, const nghttp2_frame* frame, int error, void* self);

  const ConnectionConfig config_;
  const PeerCred peer_;
  const uint64_t id_;
  ConnectionOwner* const owner_;
  nghttp2_session* session_ = nullptr;
  absl::flat_hash_map<int32_t, std::unique_ptr<Stream>> streams_;
  int deadline_streams_ = 0;
  int partial_streams_ = 0;  // streams holding part of a request message
  size_t queued_ = 0;        // response bytes not yet handed to nghttp2, all streams
  bool heard_ = false;

  absl::Mutex mu_;
  std::vector<Op> ops_ ABSL_GUARDED_BY(mu_);
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet::rpc::h2

#endif  // SIGNET_RPC_H2_CONNECTION_H_
