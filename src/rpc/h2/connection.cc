#include "src/rpc/h2/connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace signet::rpc::h2 {
namespace {

constexpr char kGrpcContentType[] = "application/grpc";

nghttp2_nv Header(absl::string_view name, absl::string_view value) {
  // nghttp2 copies names and values when a frame is submitted.
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// grpc-message, percent-encoded and cut at 1 KiB: the header block must fit what nghttp2 sends.
std::string StatusMessage(const absl::Status& status) {
  return PercentEncode(status.message().substr(0, 1024));
}

uint32_t ReadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

}  // namespace

struct Connection::Stream {
  explicit Stream(int32_t stream_id) : id(stream_id) {}
  const int32_t id;
  // Request headers, until Dispatch.
  std::string http_method;
  std::string content_type;
  std::string timeout;
  CallInfo info;
  size_t header_bytes = 0;
  // Request data not yet a whole message.
  std::string in;
  std::shared_ptr<Call> call;
  std::unique_ptr<Handler> handler;
  // Framed response messages not yet handed to nghttp2.
  std::string out;
  size_t out_sent = 0;
  bool dispatched = false;
  bool half_closed = false;
  bool headers_sent = false;
  bool finishing = false;  // trailers follow once `out` is sent
  bool deferred = false;   // nghttp2 waits for ResumeData
  bool has_deadline = false;
  absl::Time partial_since = absl::InfiniteFuture();  // when `in` last became non-empty
  absl::Status status;
};

std::shared_ptr<Connection> Connection::Create(const ConnectionConfig& config, PeerCred peer,
                                               uint64_t id, ConnectionOwner* owner) {
  std::shared_ptr<Connection> c(new Connection(config, std::move(peer), id, owner));
  if (c->session_ == nullptr) return nullptr;
  return c;
}

Connection::Connection(const ConnectionConfig& config, PeerCred peer, uint64_t id,
                       ConnectionOwner* owner)
    : config_(config), peer_(std::move(peer)), id_(id), owner_(owner) {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, OnFrameNotSend);
  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) == 0) {
    nghttp2_option_set_max_send_header_block_length(option, 16 << 10);
    // A Workload API client may well open a stream, take its first message and cancel, again
    // and again (nghttp2's default, 1,000 then 33/s, is for the open internet): allow bursts
    // of 10,000 and 1,000/s, and still end a flood.
    nghttp2_option_set_stream_reset_rate_limit(option, 10000, 1000);
  }
  if (nghttp2_session_server_new2(&session_, callbacks, this, option) != 0) session_ = nullptr;
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (session_ == nullptr) return;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(config_.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
}

Connection::~Connection() {
  CancelAll();
  if (session_ != nullptr) nghttp2_session_del(session_);
}

bool Connection::Receive(const uint8_t* data, size_t size) {
  const ssize_t n = nghttp2_session_mem_recv(session_, data, size);
  return n >= 0 && static_cast<size_t>(n) == size;
}

void Connection::PullOutput(std::string* out, size_t limit) {
  while (out->size() < limit) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) return;
    out->append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
}

bool Connection::Finished() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

void Connection::GoAway() {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

void Connection::CancelAll() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    ops_.clear();
  }
  // Handlers may post while being cancelled; those posts are refused now.
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, stream] : streams) {
    if (stream->call != nullptr && stream->call->MarkDone()) stream->handler->OnCancel();
  }
  deadline_streams_ = 0;
  partial_streams_ = 0;
  queued_ = 0;
}

void Connection::ExpireDeadlines(absl::Time now) {
  std::vector<Stream*> expired;
  std::vector<Stream*> stalled;
  for (auto& [id, stream] : streams_) {
    if (stream->call == nullptr || stream->call->done()) continue;
    if (stream->has_deadline && stream->call->info().deadline <= now) {
      expired.push_back(stream.get());
    } else if (stream->partial_since + config_.partial_message_timeout <= now) {
      stalled.push_back(stream.get());
    }
  }
  for (Stream* stream : expired) Abort(*stream, absl::DeadlineExceededError("deadline exceeded"));
  for (Stream* stream : stalled) {
    Abort(*stream,
          absl::DeadlineExceededError("the request message stayed incomplete for too long"));
  }
}

bool Connection::PostWrite(int32_t stream_id, std::string framed) {
  return Post(Op{stream_id, false, std::move(framed), absl::OkStatus()});
}

bool Connection::PostFinish(int32_t stream_id, absl::Status status) {
  return Post(Op{stream_id, true, {}, std::move(status)});
}

bool Connection::Post(Op op) {
  // Scheduled under mu_: once CancelAll has set closed_, no thread is inside the loop's
  // Schedule any more, so the loop may go away.
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  ops_.push_back(std::move(op));
  if (!scheduled_) {
    scheduled_ = true;
    owner_->Schedule(shared_from_this());
  }
  return true;
}

void Connection::RunPosted() {
  std::vector<Op> ops;
  {
    absl::MutexLock lock(&mu_);
    ops.swap(ops_);
    scheduled_ = false;
  }
  for (Op& op : ops) {
    Stream* stream = Find(op.stream_id);
    if (stream == nullptr) continue;  // over already
    if (op.finish) {
      ApplyFinish(*stream, std::move(op.status));
    } else {
      ApplyWrite(*stream, std::move(op.framed));
    }
  }
}

Connection::Stream* Connection::Find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

int Connection::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* c = static_cast<Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  c->streams_[frame->hd.stream_id] = std::make_unique<Stream>(frame->hd.stream_id);
  return 0;
}

int Connection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                         size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                         void* self) {
  auto* c = static_cast<Connection*>(self);
  Stream* stream = c->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  const absl::string_view n(reinterpret_cast<const char*>(name), namelen);
  const absl::string_view v(reinterpret_cast<const char*>(value), valuelen);
  stream->header_bytes += namelen + valuelen + 32;  // as SETTINGS_MAX_HEADER_LIST_SIZE counts
  if (stream->header_bytes > c->config_.max_header_bytes) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  }
  if (stream->dispatched) return 0;  // trailers from the client carry nothing we use
  if (n == ":method") {
    stream->http_method = std::string(v);
  } else if (n == ":path") {
    stream->info.method = std::string(v);
  } else if (n == "content-type") {
    stream->content_type = std::string(v);
  } else if (n == "grpc-timeout") {
    stream->timeout = std::string(v);
  } else if (!n.empty() && n[0] != ':' && n != "te") {
    stream->info.metadata.emplace_back(n, v);
  }
  return 0;
}

int Connection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  auto* c = static_cast<Connection*>(self);
  c->heard_ = true;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* stream = c->Find(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !stream->dispatched) {
    c->Dispatch(*stream);
    stream->header_bytes = 0;  // client trailers, if any, are a block of their own
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) c->HalfClose(*stream);
  return 0;
}

int Connection::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* self) {
  auto* c = static_cast<Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
    return 0;
  }
  // The response is complete; a client still sending is told to stop.
  Stream* stream = c->Find(frame->hd.stream_id);
  if (stream != nullptr && !stream->half_closed) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int Connection::OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                            size_t len, void* self) {
  auto* c = static_cast<Connection*>(self);
  Stream* stream = c->Find(stream_id);
  if (stream == nullptr || stream->call == nullptr || stream->call->done()) return 0;
  if (stream->in.empty() && len > 0) {
    ++c->partial_streams_;
    stream->partial_since = absl::Now();
  }
  stream->in.append(reinterpret_cast<const char*>(data), len);
  c->ParseMessages(*stream);
  if (stream->in.empty() && stream->partial_since != absl::InfiniteFuture()) {
    --c->partial_streams_;
    stream->partial_since = absl::InfiniteFuture();
  }
  return 0;
}

int Connection::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* self) {
  auto* c = static_cast<Connection*>(self);
  auto it = c->streams_.find(stream_id);
  if (it == c->streams_.end()) return 0;
  std::unique_ptr<Stream> stream = std::move(it->second);
  c->streams_.erase(it);
  c->Forget(*stream);
  if (stream->call != nullptr && stream->call->MarkDone()) stream->handler->OnCancel();
  return 0;
}

void Connection::Forget(Stream& stream) {
  if (stream.has_deadline) --deadline_streams_;
  if (!stream.in.empty()) --partial_streams_;
  queued_ -= stream.out.size() - stream.out_sent;
}

int Connection::OnFrameNotSend(nghttp2_session* session, const nghttp2_frame* frame, int, void*) {
  // A response or trailer nghttp2 refused to send (too large, say): end the stream rather than
  // leave the client waiting.
  if (frame->hd.type == NGHTTP2_HEADERS) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_INTERNAL_ERROR);
  }
  return 0;
}

ssize_t Connection::ReadData(nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                             size_t length, uint32_t* data_flags, nghttp2_data_source*,
                             void* self) {
  auto* c = static_cast<Connection*>(self);
  Stream* stream = c->Find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(length, stream->out.size() - stream->out_sent);
  std::memcpy(buf, stream->out.data() + stream->out_sent, n);
  stream->out_sent += n;
  c->queued_ -= n;
  if (stream->out_sent == stream->out.size()) {
    // Freed, not cleared: an idle stream should not keep its last message's capacity.
    std::string().swap(stream->out);
    stream->out_sent = 0;
    if (stream->finishing) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> trailers;
      const std::string code = absl::StrCat(static_cast<int>(stream->status.code()));
      const std::string message = StatusMessage(stream->status);
      trailers.push_back(Header("grpc-status", code));
      if (!message.empty()) trailers.push_back(Header("grpc-message", message));
      nghttp2_submit_trailer(session, stream_id, trailers.data(), trailers.size());
      return static_cast<ssize_t>(n);
    }
    if (n == 0) {
      stream->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return static_cast<ssize_t>(n);
}

void Connection::Dispatch(Stream& stream) {
  stream.dispatched = true;
  if (stream.http_method != "POST") return SubmitHttpError(stream, "405");
  if (!absl::StartsWith(stream.content_type, kGrpcContentType) ||
      (stream.content_type.size() > sizeof(kGrpcContentType) - 1 &&
       stream.content_type[sizeof(kGrpcContentType) - 1] != '+' &&
       stream.content_type[sizeof(kGrpcContentType) - 1] != ';')) {
    return SubmitHttpError(stream, "415");
  }
  if (!stream.timeout.empty()) {
    std::optional<absl::Duration> timeout = ParseGrpcTimeout(stream.timeout);
    if (!timeout.has_value()) {
      return SubmitTrailersOnly(stream,
                                absl::InternalError("malformed grpc-timeout: " + stream.timeout));
    }
    stream.info.deadline = absl::Now() + *timeout;
    stream.has_deadline = true;
    ++deadline_streams_;
  }
  auto method = config_.methods->find(stream.info.method);
  if (method == config_.methods->end()) {
    return SubmitTrailersOnly(
        stream, absl::UnimplementedError(absl::StrCat("unknown method ", stream.info.method)));
  }
  // The request headers are done with: an open stream keeps only its CallInfo.
  std::string().swap(stream.http_method);
  std::string().swap(stream.content_type);
  std::string().swap(stream.timeout);
  stream.info.peer = peer_;
  stream.info.connection_id = id_;
  stream.call = std::make_shared<Call>(std::move(stream.info), weak_from_this(), stream.id);
  stream.handler = method->second(stream.call);
}

void Connection::ParseMessages(Stream& stream) {
  while (stream.in.size() >= 5 && !stream.call->done()) {
    const auto flag = static_cast<uint8_t>(stream.in[0]);
    const uint32_t size = ReadBigEndian32(stream.in.data() + 1);
    if (flag > 1) {
      return Abort(stream, absl::InternalError("malformed gRPC message: bad compressed flag"));
    }
    if (flag == 1) {
      return Abort(stream, absl::UnimplementedError(
                               "compressed requests are not supported (identity encoding only)"));
    }
    if (size > config_.max_request_bytes) {
      return Abort(stream, absl::ResourceExhaustedError(absl::StrCat(
                               "request message of ", size, " bytes is over the limit of ",
                               config_.max_request_bytes, " bytes")));
    }
    if (stream.in.size() < 5 + size) return;
    std::string message = stream.in.substr(5, size);
    stream.in.erase(0, 5 + size);
    if (stream.in.empty()) {
      std::string().swap(stream.in);
    } else {
      stream.partial_since = absl::Now();  // a message came whole: the clock starts again
    }
    stream.handler->OnMessage(std::move(message));
  }
}

void Connection::HalfClose(Stream& stream) {
  stream.half_closed = true;
  if (stream.call == nullptr || stream.call->done()) return;
  if (!stream.in.empty()) {
    return Abort(stream, absl::InternalError("the request ended inside a message"));
  }
  stream.handler->OnHalfClose();
}

void Connection::Abort(Stream& stream, const absl::Status& status) {
  if (!stream.call->MarkDone()) return;
  if (!stream.in.empty()) --partial_streams_;
  std::string().swap(stream.in);
  stream.partial_since = absl::InfiniteFuture();
  ApplyFinish(stream, status);
  stream.handler->OnCancel();
}

void Connection::ApplyWrite(Stream& stream, std::string framed) {
  if (stream.finishing) return;
  const size_t pending = stream.out.size() - stream.out_sent;
  if (pending + framed.size() > config_.max_queued_per_stream ||
      queued_ + framed.size() > config_.max_queued_per_connection) {
    // Trailers could not get past the queue either: drop what is queued and reset the stream
    // (gRPC clients report ENHANCE_YOUR_CALM as RESOURCE_EXHAUSTED).
    if (stream.call->MarkDone()) stream.handler->OnCancel();
    queued_ -= pending;
    std::string().swap(stream.out);
    stream.out_sent = 0;
    stream.finishing = true;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream.id, NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  queued_ += framed.size();
  if (stream.out.empty()) {
    stream.out = std::move(framed);
  } else {
    stream.out += framed;
  }
  if (!stream.headers_sent) {
    SubmitHeaders(stream);
  } else if (stream.deferred) {
    stream.deferred = false;
    nghttp2_session_resume_data(session_, stream.id);
  }
}

void Connection::ApplyFinish(Stream& stream, absl::Status status) {
  if (stream.finishing) return;
  stream.finishing = true;
  stream.status = std::move(status);
  if (!stream.headers_sent) {
    if (stream.out.empty()) return SubmitTrailersOnly(stream, stream.status);
    SubmitHeaders(stream);
  } else if (stream.deferred) {
    stream.deferred = false;
    nghttp2_session_resume_data(session_, stream.id);
  }
}

void Connection::SubmitHeaders(Stream& stream) {
  stream.headers_sent = true;
  const nghttp2_nv headers[] = {Header(":status", "200"), Header("content-type", kGrpcContentType)};
  nghttp2_data_provider provider{};
  provider.read_callback = ReadData;
  nghttp2_submit_response(session_, stream.id, headers, std::size(headers), &provider);
}

void Connection::SubmitTrailersOnly(Stream& stream, const absl::Status& status) {
  stream.headers_sent = true;
  stream.finishing = true;
  const std::string code = absl::StrCat(static_cast<int>(status.code()));
  const std::string message = StatusMessage(status);
  std::vector<nghttp2_nv> headers = {Header(":status", "200"),
                                     Header("content-type", kGrpcContentType),
                                     Header("grpc-status", code)};
  if (!message.empty()) headers.push_back(Header("grpc-message", message));
  nghttp2_submit_response(session_, stream.id, headers.data(), headers.size(), nullptr);
}

void Connection::SubmitHttpError(Stream& stream, const char* http_status) {
  stream.headers_sent = true;
  stream.finishing = true;
  const nghttp2_nv headers[] = {Header(":status", http_status)};
  nghttp2_submit_response(session_, stream.id, headers, std::size(headers), nullptr);
}

}  // namespace signet::rpc::h2
