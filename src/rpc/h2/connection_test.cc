// The h2 Connection against an in-memory nghttp2 client session: frames no gRPC library would
// send on its own (a receive window of zero, a message that stops halfway).
#include "src/rpc/h2/connection.h"

#include <nghttp2/nghttp2.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace signet::rpc::h2 {
namespace {

class Owner final : public ConnectionOwner {
 public:
  void Schedule(std::shared_ptr<Connection> c) override { pending.push_back(std::move(c)); }
  std::vector<std::shared_ptr<Connection>> pending;
};

// Writes `count` messages of `size` bytes as soon as the request arrives; remembers a cancel.
class Flood final : public Handler {
 public:
  Flood(std::shared_ptr<Call> call, bool* cancelled)
      : call_(std::move(call)), cancelled_(cancelled) {}
  void OnMessage(std::string) override {
    for (int i = 0; i < 200; ++i) call_->Write(std::string(1024, 'x'));
  }
  void OnCancel() override { *cancelled_ = true; }

 private:
  std::shared_ptr<Call> call_;
  bool* cancelled_;
};

class Client {
 public:
  // `window`: the client's initial stream receive window (0: the server may send no DATA).
  explicit Client(uint32_t window) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t, uint32_t error_code, void* self) {
          static_cast<Client*>(self)->closed_with = static_cast<int>(error_code);
          return 0;
        });
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* self) {
          static_cast<Client*>(self)
              ->headers[std::string(reinterpret_cast<const char*>(name), namelen)] =
              std::string(reinterpret_cast<const char*>(value), valuelen);
          return 0;
        });
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 1);
  }
  ~Client() { nghttp2_session_del(session_); }

  // Starts a call to `method`; `body` is the raw DATA (gRPC framing included), sent without
  // END_STREAM.
  void Start(const std::string& method, std::string body, const std::string& http_method = "POST",
             const std::string& content_type = "application/grpc",
             const std::string& timeout = "") {
    body_ = std::move(body);
    auto nv = [](const char* n, const std::string& v) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), strlen(n),
                        v.size(), NGHTTP2_NV_FLAG_NONE};
    };
    const std::string scheme = "http", authority = "x";
    std::vector<nghttp2_nv> request = {nv(":method", http_method), nv(":scheme", scheme),
                                       nv(":authority", authority), nv(":path", method),
                                       nv("content-type", content_type)};
    if (!timeout.empty()) request.push_back(nv("grpc-timeout", timeout));
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
      auto* self = static_cast<Client*>(source->ptr);
      const size_t n = std::min(length, self->body_.size() - self->sent_);
      memcpy(buf, self->body_.data() + self->sent_, n);
      self->sent_ += n;
      if (self->sent_ == self->body_.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
      return static_cast<ssize_t>(n);
    };
    nghttp2_submit_request(session_, nullptr, request.data(), request.size(), &provider, nullptr);
  }

  // Moves bytes both ways until neither side has anything to say.
  void Pump(Connection& server, Owner& owner) {
    for (int round = 0; round < 50; ++round) {
      std::string to_server;
      const uint8_t* data = nullptr;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
        to_server.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (!to_server.empty()) {
        ASSERT_TRUE(
            server.Receive(reinterpret_cast<const uint8_t*>(to_server.data()), to_server.size()));
      }
      for (auto& c : std::exchange(owner.pending, {})) c->RunPosted();
      std::string to_client;
      server.PullOutput(&to_client, 1 << 20);
      if (!to_client.empty()) {
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(to_client.data()),
                                 to_client.size());
      }
      if (to_server.empty() && to_client.empty()) return;
    }
  }

  int closed_with = -1;                        // the stream's close error code, once closed
  std::map<std::string, std::string> headers;  // response headers and trailers, last value wins

 private:
  nghttp2_session* session_ = nullptr;
  std::string body_;
  size_t sent_ = 0;
};

std::string Framed(uint32_t declared, size_t actual) {
  std::string m(5 + actual, 'a');
  m[0] = 0;
  m[1] = static_cast<char>(declared >> 24);
  m[2] = static_cast<char>(declared >> 16);
  m[3] = static_cast<char>(declared >> 8);
  m[4] = static_cast<char>(declared);
  return m;
}

class ConnectionTest : public ::testing::Test {
 protected:
  std::shared_ptr<Connection> Make(ConnectionConfig config) {
    methods_["/t/Flood"] = [this](std::shared_ptr<Call> call) -> std::unique_ptr<Handler> {
      call_ = call;
      return std::make_unique<Flood>(std::move(call), &cancelled_);
    };
    config.methods = &methods_;
    return Connection::Create(config, PeerCred{.pid = 1, .uid = 2, .gid = 3}, 1, &owner_);
  }

  absl::flat_hash_map<std::string, HandlerFactory> methods_;
  Owner owner_;
  std::shared_ptr<Call> call_;
  bool cancelled_ = false;
};

TEST_F(ConnectionTest, AClientThatReadsNothingCannotMakeTheServerQueueWithoutEnd) {
  auto server = Make({.max_queued_per_stream = 64 << 10, .max_queued_per_connection = 1 << 20});
  Client client(/*window=*/0);
  client.Start("/t/Flood", Framed(1, 1));
  client.Pump(*server, owner_);
  // 200 KiB of answers for a client that takes none: cut at 64 KiB, the stream reset.
  EXPECT_TRUE(cancelled_);
  ASSERT_NE(call_, nullptr);
  EXPECT_TRUE(call_->done());
  EXPECT_EQ(client.closed_with, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(server->queued_bytes(), 0u);
  EXPECT_EQ(server->open_streams(), 0u);
}

TEST_F(ConnectionTest, AClientThatReadsGetsEverything) {
  auto server = Make({.max_queued_per_stream = 1 << 20});
  Client client(/*window=*/1 << 20);
  client.Start("/t/Flood", Framed(1, 1));
  client.Pump(*server, owner_);
  EXPECT_FALSE(cancelled_);  // 200 KiB went out as fast as it was queued
  EXPECT_EQ(server->queued_bytes(), 0u);
}

TEST_F(ConnectionTest, AMessageThatStopsHalfwayEndsItsStreamAfterTheTimeout) {
  auto server = Make({.partial_message_timeout = absl::Seconds(10)});
  Client client(1 << 20);
  client.Start("/t/Flood", Framed(100, 10));  // 10 of 100 bytes, then nothing
  client.Pump(*server, owner_);
  EXPECT_TRUE(server->has_deadlines());
  server->ExpireDeadlines(absl::Now() + absl::Seconds(5));
  EXPECT_FALSE(cancelled_);
  server->ExpireDeadlines(absl::Now() + absl::Seconds(11));
  client.Pump(*server, owner_);
  EXPECT_TRUE(cancelled_);
  EXPECT_FALSE(server->has_deadlines());
  EXPECT_NE(client.closed_with, -1);
}

// Requests that are not gRPC, or not well-formed gRPC, get a precise answer and start no handler.
TEST_F(ConnectionTest, MalformedRequestsAreRefusedPrecisely) {
  struct Case {
    const char* what;
    std::string http_method, content_type, timeout, body;
    std::string status, grpc_status;
  };
  std::string compressed = Framed(1, 1);
  compressed[0] = 1;
  std::string bad_flag = Framed(1, 1);
  bad_flag[0] = 7;
  const Case cases[] = {
      {"GET", "GET", "application/grpc", "", Framed(1, 1), "405", ""},
      {"not gRPC", "POST", "text/plain", "", Framed(1, 1), "415", ""},
      {"application/grpcx", "POST", "application/grpcx", "", Framed(1, 1), "415", ""},
      {"bad grpc-timeout", "POST", "application/grpc", "soon", Framed(1, 1), "200", "13"},
      {"compressed", "POST", "application/grpc", "", compressed, "200", "12"},
      {"bad flag byte", "POST", "application/grpc", "", bad_flag, "200", "13"},
      {"oversized", "POST", "application/grpc", "", Framed(2000, 1), "200", "8"},
  };
  for (const Case& k : cases) {
    cancelled_ = false;
    call_ = nullptr;
    auto server = Make({.max_request_bytes = 1024});
    Client client(1 << 20);
    client.Start("/t/Flood", k.body, k.http_method, k.content_type, k.timeout);
    client.Pump(*server, owner_);
    EXPECT_EQ(client.headers[":status"], k.status) << k.what;
    EXPECT_EQ(client.headers["grpc-status"], k.grpc_status) << k.what;
    if (k.status != "200" || k.what == std::string("bad grpc-timeout")) {
      EXPECT_EQ(call_, nullptr) << k.what << ": no handler for a refused request";
    } else {
      EXPECT_TRUE(cancelled_) << k.what << ": the handler hears its call is over";
    }
  }
}

TEST_F(ConnectionTest, AnUnknownMethodIsUnimplementedWithItsName) {
  auto server = Make({});
  Client client(1 << 20);
  client.Start("/t/Nothing", Framed(1, 1));
  client.Pump(*server, owner_);
  EXPECT_EQ(client.headers["grpc-status"], "12");
  EXPECT_EQ(client.headers["grpc-message"], "unknown method /t/Nothing");
}

}  // namespace
}  // namespace signet::rpc::h2
