// Pump between a TLS peer and a plain socket, both over socketpairs in this process.
#include "src/proxy/pump.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/testing/test_ca.h"

namespace signet::proxy {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

void NonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Reads from blocking `fd` until `want` bytes or EOF, each wait at most 5 s.
std::string ReadPlain(int fd, size_t want) {
  std::string got;
  char buf[4096];
  while (got.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;  // stalled: the caller sees fewer bytes
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

class PumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_.get(), svid_.leaf().get()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_.get(), svid_.key().get()), 1);
    int tls[2];
    int plain[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, tls), 0);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, plain), 0);
    peer_fd_ = tls[0];
    pumped_fd_ = tls[1];
    backend_fd_ = plain[0];
    plain_fd_ = plain[1];
    // The pumped side's TLS handshake on its own thread, the peer's here (both blocking).
    server_.reset(SSL_new(server_ctx_.get()));
    SSL_set_fd(server_.get(), pumped_fd_);
    std::thread accept([this] { accepted_ = SSL_accept(server_.get()); });
    peer_.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(peer_.get(), peer_fd_);
    ASSERT_EQ(SSL_connect(peer_.get()), 1);
    accept.join();
    ASSERT_EQ(accepted_, 1);
    NonBlocking(pumped_fd_);
    NonBlocking(plain_fd_);
    SSL_set_mode(server_.get(),
                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  }
  void TearDown() override {
    if (pump_.joinable()) pump_.join();
    for (int fd : {peer_fd_, pumped_fd_, backend_fd_, plain_fd_}) close(fd);
  }
  void StartPump() {
    pump_ = std::thread([this] { result_ = Pump(server_.get(), pumped_fd_, plain_fd_); });
  }

  testing::TestCa ca_{"example.org", crypto::KeyType::kEcP256, absl::Now()};
  spiffe::X509Svid svid_ = ca_.MintSvid("/pumped");
  std::unique_ptr<SSL_CTX, SslCtxFree> server_ctx_;
  std::unique_ptr<SSL_CTX, SslCtxFree> client_ctx_;
  std::unique_ptr<SSL, SslFree> server_;
  std::unique_ptr<SSL, SslFree> peer_;
  int accepted_ = 0;
  int peer_fd_ = -1;
  int pumped_fd_ = -1;
  int backend_fd_ = -1;
  int plain_fd_ = -1;
  std::thread pump_;
  PumpResult result_;
};

// Many small records arrive in one read while the backend is not yet reading: the records
// OpenSSL holds must still be delivered although poll never sees them. The peer keeps the
// connection open until they have all arrived, so nothing else wakes the pump.
TEST_F(PumpTest, RecordsReadAheadAreDeliveredWhileThePeerWaits) {
  int small = 4096;
  setsockopt(plain_fd_, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  std::string sent;
  for (int i = 0; i < 60; ++i) {  // ~13 KB: the socketpair holds them all before the pump runs
    const std::string record = std::to_string(i) + std::string(200, 'a' + i % 26) + "\n";
    ASSERT_EQ(SSL_write(peer_.get(), record.data(), static_cast<int>(record.size())),
              static_cast<int>(record.size()));
    sent += record;
  }
  StartPump();
  usleep(100 * 1000);  // the pump fills the backend's socket and waits to write
  EXPECT_EQ(ReadPlain(backend_fd_, sent.size()), sent);
  // Then the other way, and both ends close cleanly.
  const std::string reply(100000, 'r');
  ASSERT_EQ(write(backend_fd_, reply.data(), reply.size()), static_cast<ssize_t>(reply.size()));
  shutdown(backend_fd_, SHUT_WR);
  std::string got;
  char buf[16384];
  int n;
  while ((n = SSL_read(peer_.get(), buf, sizeof(buf))) > 0) got.append(buf, n);
  EXPECT_EQ(got, reply);
  EXPECT_EQ(SSL_get_error(peer_.get(), n), SSL_ERROR_ZERO_RETURN);  // close_notify
  SSL_shutdown(peer_.get());
  pump_.join();
  EXPECT_TRUE(result_.clean);
  EXPECT_EQ(result_.from_tls, sent.size());
  EXPECT_EQ(result_.to_tls, reply.size());
  EXPECT_EQ(ReadPlain(backend_fd_, 1), "");  // the peer's end reached the backend as EOF
}

// The backend's end reaches a TLS peer that is slow to read as close_notify, after every byte:
// with a small socket buffer the alert itself finds the socket full (SSL_shutdown wants to
// write) and must go out once the peer reads.
TEST_F(PumpTest, TheBackendsEndReachesASlowPeerAfterEveryByte) {
  int small = 4096;
  setsockopt(pumped_fd_, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  StartPump();
  const std::string reply(300000, 'r');
  std::thread backend([&] {
    for (size_t off = 0; off < reply.size();) {
      const ssize_t n = write(backend_fd_, reply.data() + off, reply.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
    shutdown(backend_fd_, SHUT_WR);
  });
  usleep(200 * 1000);  // the pump fills the peer's socket and waits
  std::string got;
  char buf[16384];
  int n = 0;
  for (;;) {
    if (SSL_pending(peer_.get()) == 0) {
      pollfd p{peer_fd_, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) break;  // stalled: no close_notify came
    }
    n = SSL_read(peer_.get(), buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, n);
  }
  backend.join();
  EXPECT_EQ(got.size(), reply.size());
  EXPECT_EQ(SSL_get_error(peer_.get(), n), SSL_ERROR_ZERO_RETURN);
  SSL_shutdown(peer_.get());
  pump_.join();
  EXPECT_TRUE(result_.clean);
}

// A request and its answer at a time, as a client on a kept connection sends them: each must
// arrive without waiting for anything that follows.
TEST_F(PumpTest, EachRequestIsPassedOnWithoutWaitingForTheNext) {
  StartPump();
  for (int i = 0; i < 200; ++i) {
    const std::string request = "request " + std::to_string(i);
    ASSERT_EQ(SSL_write(peer_.get(), request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
    ASSERT_EQ(ReadPlain(backend_fd_, request.size()), request);
    const std::string answer = "answer " + std::to_string(i);
    ASSERT_EQ(write(backend_fd_, answer.data(), answer.size()),
              static_cast<ssize_t>(answer.size()));
    char buf[64];
    const int n = SSL_read(peer_.get(), buf, sizeof(buf));
    ASSERT_EQ(std::string(buf, n > 0 ? n : 0), answer);
  }
  shutdown(peer_fd_, SHUT_RDWR);  // the peer vanishes without close_notify
  pump_.join();
  EXPECT_FALSE(result_.clean);
}

}  // namespace
}  // namespace signet::proxy
