#include "src/rpc/h2/unary_client.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/rpc/h2/grpc_server.h"

namespace signet::rpc::h2 {

namespace {

// What one call's stream has received.
struct Reply {
  std::string data;  // DATA frames, unparsed
  std::string http_status;
  std::string grpc_status;
  std::string grpc_message;
  bool closed = false;
  uint32_t error_code = 0;
};

Reply* ReplyOf(nghttp2_session* session, int32_t stream_id) {
  return static_cast<Reply*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

nghttp2_session_callbacks* Callbacks() {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cb, [](nghttp2_session* s, uint8_t, int32_t id, const uint8_t* data, size_t len, void*) {
        if (auto* r = ReplyOf(s, id)) r->data.append(reinterpret_cast<const char*>(data), len);
        return 0;
      });
  nghttp2_session_callbacks_set_on_header_callback(
      cb, [](nghttp2_session* s, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void*) {
        auto* r = ReplyOf(s, frame->hd.stream_id);
        if (r == nullptr) return 0;
        absl::string_view n(reinterpret_cast<const char*>(name), namelen);
        std::string v(reinterpret_cast<const char*>(value), valuelen);
        if (n == ":status") r->http_status = std::move(v);
        if (n == "grpc-status") r->grpc_status = std::move(v);
        if (n == "grpc-message") r->grpc_message = std::move(v);
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(
      cb, [](nghttp2_session* s, int32_t id, uint32_t error_code, void*) {
        if (auto* r = ReplyOf(s, id)) {
          r->closed = true;
          r->error_code = error_code;
        }
        return 0;
      });
  return cb;
}

nghttp2_nv Nv(absl::string_view name, absl::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnaryClient>> UnaryClient::Connect(const std::string& path,
                                                                  absl::Duration reply_timeout) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError("socket path too long: " + path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  std::unique_ptr<UnaryClient> client(new UnaryClient(fd, reply_timeout));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Errno("connect " + path);
  }
  nghttp2_session_callbacks* cb = Callbacks();
  const int rv = nghttp2_session_client_new(&client->session_, cb, client.get());
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return absl::InternalError(nghttp2_strerror(rv));
  const nghttp2_settings_entry no_push{NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  nghttp2_submit_settings(client->session_, NGHTTP2_FLAG_NONE, &no_push, 1);
  if (absl::Status s = client->Flush(); !s.ok()) return s;
  return client;
}

UnaryClient::UnaryClient(int fd, absl::Duration reply_timeout)
    : fd_(fd), reply_timeout_(reply_timeout) {}

UnaryClient::~UnaryClient() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  close(fd_);
}

absl::Status UnaryClient::Flush() {
  std::string out;
  const uint8_t* chunk = nullptr;
  ssize_t n;
  while ((n = nghttp2_session_mem_send(session_, &chunk)) > 0) {
    out.append(reinterpret_cast<const char*>(chunk), static_cast<size_t>(n));
  }
  if (n < 0) return absl::InternalError(nghttp2_strerror(static_cast<int>(n)));
  for (size_t sent = 0; sent < out.size();) {
    const ssize_t w = send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Errno("send");
    sent += static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status UnaryClient::Pump(const bool& closed) {
  char buf[16384];
  for (;;) {
    if (absl::Status s = Flush(); !s.ok()) return s;  // may itself close the stream
    if (closed) return Flush();                       // WINDOW_UPDATEs for what was read
    if (nghttp2_session_want_read(session_) == 0) {
      return absl::UnavailableError("the connection is ending (GOAWAY)");
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(reply_timeout_)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return Errno("poll");
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer within ", absl::FormatDuration(reply_timeout_)));
    }
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read");
    if (n == 0) return absl::UnavailableError("the server closed the connection");
    const ssize_t used =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf), n);
    if (used < 0) return absl::InternalError(nghttp2_strerror(static_cast<int>(used)));
  }
}

absl::StatusOr<std::string> UnaryClient::Call(absl::string_view method, absl::string_view request,
                                              const Metadata& metadata) {
  if (!broken_.ok()) return broken_;
  body_.assign(5, '\0');
  const uint32_t len = static_cast<uint32_t>(request.size());
  for (int i = 0; i < 4; ++i) body_[1 + i] = static_cast<char>(len >> (24 - 8 * i));
  body_.append(request.data(), request.size());
  body_offset_ = 0;
  std::vector<nghttp2_nv> headers = {Nv(":method", "POST"),
                                     Nv(":scheme", "http"),
                                     Nv(":path", method),
                                     Nv(":authority", "localhost"),
                                     Nv("content-type", "application/grpc"),
                                     Nv("te", "trailers")};
  for (const auto& [name, value] : metadata) headers.push_back(Nv(name, value));
  nghttp2_data_provider provider{};
  provider.source.ptr = this;
  provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
    auto* self = static_cast<UnaryClient*>(source->ptr);
    const size_t n = std::min(length, self->body_.size() - self->body_offset_);
    std::memcpy(buf, self->body_.data() + self->body_offset_, n);
    self->body_offset_ += n;
    if (self->body_offset_ == self->body_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  Reply reply;
  const int32_t id =
      nghttp2_submit_request(session_, nullptr, headers.data(), headers.size(), &provider, &reply);
  if (id < 0) return absl::InternalError(nghttp2_strerror(id));
  absl::Status pumped = Pump(reply.closed);
  nghttp2_session_set_stream_user_data(session_, id, nullptr);
  if (!pumped.ok()) {
    // The stream may still be open, its data source pointing at body_: this connection is
    // not used again.
    broken_ = pumped;
    return pumped;
  }
  if (reply.error_code != 0) {
    return absl::UnavailableError(absl::StrCat("stream reset, HTTP/2 error ", reply.error_code));
  }
  if (reply.http_status != "200") {
    return absl::UnavailableError(absl::StrCat("HTTP status ", reply.http_status));
  }
  int code = -1;
  if (!absl::SimpleAtoi(reply.grpc_status, &code) || code < 0 || code > 16) {
    return absl::InternalError(absl::StrCat("bad grpc-status '", reply.grpc_status, "'"));
  }
  if (code != 0)
    return absl::Status(static_cast<absl::StatusCode>(code), PercentDecode(reply.grpc_message));
  const std::string& d = reply.data;
  if (d.size() < 5 || d[0] != 0) return absl::InternalError("no uncompressed response message");
  uint32_t size = 0;
  for (int i = 1; i < 5; ++i) size = size << 8 | static_cast<uint8_t>(d[i]);
  if (d.size() != 5 + size) return absl::InternalError("response is not one whole message");
  return d.substr(5);
}

}  // namespace signet::rpc::h2
