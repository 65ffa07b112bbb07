// Pumping between a TLS peer and a plain socket, both over socketpairs in this process: each
// test runs with Pump() on a thread of its own and with a PumpLoop.
#include "src/proxy/pump.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "src/proxy/pump_loop.h"
#include "tests/testing/test_ca.h"

namespace signet::proxy {
namespace {

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

// The other driver: one connection on the calling thread, waiting with poll().
PumpResult PollPump(SSL* ssl, int tls_fd, int plain_fd) {
  const ScopedSigpipeBlock no_sigpipe;
  PumpState state(ssl, tls_fd, plain_fd);
  for (;;) {
    const PumpState::Outcome outcome = state.Step();
    if (outcome == PumpState::Outcome::kBusy) continue;  // nobody else to let go first
    if (outcome != PumpState::Outcome::kWait) break;
    const PumpState::Interest in = state.interest();
    pollfd fds[2] = {{in.tls != 0 ? tls_fd : -1, in.tls, 0},
                     {in.plain != 0 ? plain_fd : -1, in.plain, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      state.Ready(POLLERR, 0);
      continue;
    }
    state.Ready(fds[0].revents, fds[1].revents);
  }
  return state.result();
}

// One connection to pump: a TLS peer <-> the pumped TLS end (handshake done), and the pumped
// plain end <-> a backend. The pumped ends are non-blocking, the peer's and backend's blocking.
struct Connection {
  SslPtr pumped;
  SslPtr peer;
  int peer_fd = -1;
  int pumped_fd = -1;
  int backend_fd = -1;
  int plain_fd = -1;

  void Close() {
    for (int* fd : {&peer_fd, &pumped_fd, &backend_fd, &plain_fd}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }
};

// A server (the pumped side) and a client context, and connections between them.
class Endpoints {
 public:
  Endpoints() {
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_use_certificate(server_ctx_.get(), svid_.leaf().get());
    SSL_CTX_use_PrivateKey(server_ctx_.get(), svid_.key().get());
  }

  // False (with a test failure) when the sockets or the handshake fail.
  bool Connect(Connection* c) {
    int tls[2];
    int plain[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, tls) != 0) return false;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, plain) != 0) return false;
    c->peer_fd = tls[0];
    c->pumped_fd = tls[1];
    c->backend_fd = plain[0];
    c->plain_fd = plain[1];
    // The pumped side's TLS handshake on its own thread, the peer's here (both blocking).
    c->pumped.reset(SSL_new(server_ctx_.get()));
    SSL_set_fd(c->pumped.get(), c->pumped_fd);
    int accepted = 0;
    std::thread accept([&] { accepted = SSL_accept(c->pumped.get()); });
    c->peer.reset(SSL_new(client_ctx_.get()));
    SSL_set_fd(c->peer.get(), c->peer_fd);
    const int connected = SSL_connect(c->peer.get());
    accept.join();
    EXPECT_EQ(connected, 1);
    EXPECT_EQ(accepted, 1);
    NonBlocking(c->pumped_fd);
    NonBlocking(c->plain_fd);
    return connected == 1 && accepted == 1;
  }

 private:
  testing::TestCa ca_{"example.org", crypto::KeyType::kEcP256, absl::Now()};
  spiffe::X509Svid svid_ = ca_.MintSvid("/pumped");
  crypto::OsslPtr<SSL_CTX, SSL_CTX_free> server_ctx_;
  crypto::OsslPtr<SSL_CTX, SSL_CTX_free> client_ctx_;
};

class PumpTest : public ::testing::TestWithParam<bool> {  // true: a PumpLoop
 protected:
  void SetUp() override {
    ASSERT_TRUE(endpoints_.Connect(&c_));
    server_ = c_.pumped.get();
    peer_ = std::move(c_.peer);
    peer_fd_ = c_.peer_fd;
    pumped_fd_ = c_.pumped_fd;
    backend_fd_ = c_.backend_fd;
    plain_fd_ = c_.plain_fd;
  }
  void TearDown() override {
    if (pump_.joinable()) pump_.join();
    loop_.reset();
    c_.Close();
  }
  void StartPump() {
    if (!GetParam()) {
      pump_ = std::thread([this] {
        result_ = PollPump(server_, pumped_fd_, plain_fd_);
        ended_.Notify();
      });
      return;
    }
    absl::StatusOr<std::unique_ptr<PumpLoop>> loop = PumpLoop::Start();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
    loop_->Add(std::move(c_.pumped), pumped_fd_, plain_fd_, [this](const PumpResult& r) {
      result_ = r;
      ended_.Notify();
    });
  }
  // Waits (5 s at most) for the pump to end; false if it did not.
  bool AwaitPump() { return ended_.WaitForNotificationWithTimeout(absl::Seconds(5)); }

  Endpoints endpoints_;
  Connection c_;
  SSL* server_ = nullptr;  // the pumped end
  SslPtr peer_;
  int peer_fd_ = -1;
  int pumped_fd_ = -1;
  int backend_fd_ = -1;
  int plain_fd_ = -1;
  std::thread pump_;
  std::unique_ptr<PumpLoop> loop_;
  absl::Notification ended_;
  PumpResult result_;
};

// Many small records arrive in one read while the backend is not yet reading: the records
// OpenSSL holds must still be delivered although poll never sees them. The peer keeps the
// connection open until they have all arrived, so nothing else wakes the pump.
TEST_P(PumpTest, RecordsReadAheadAreDeliveredWhileThePeerWaits) {
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
  ASSERT_TRUE(AwaitPump());
  EXPECT_TRUE(result_.clean);
  EXPECT_EQ(result_.from_tls, sent.size());
  EXPECT_EQ(result_.to_tls, reply.size());
  EXPECT_EQ(ReadPlain(backend_fd_, 1), "");  // the peer's end reached the backend as EOF
}

// The backend's end reaches a TLS peer that is slow to read as close_notify, after every byte:
// with a small socket buffer the alert itself finds the socket full (SSL_shutdown wants to
// write) and must go out once the peer reads.
TEST_P(PumpTest, TheBackendsEndReachesASlowPeerAfterEveryByte) {
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
  ASSERT_TRUE(AwaitPump());
  EXPECT_TRUE(result_.clean);
}

// A request and its answer at a time, as a client on a kept connection sends them: each must
// arrive without waiting for anything that follows.
TEST_P(PumpTest, EachRequestIsPassedOnWithoutWaitingForTheNext) {
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
  ASSERT_TRUE(AwaitPump());
  EXPECT_FALSE(result_.clean);
}

// One step moves its share (kStepBytes) and says there is more, so that a loop lets its other
// connections go before this one goes on; stepping on moves the rest.
TEST(PumpStateTest, AStepMovesItsShareThenSaysItIsBusy) {
  Endpoints endpoints;
  Connection c;
  ASSERT_TRUE(endpoints.Connect(&c));
  const int room = 1 << 20;  // the kernel caps it (wmem_max); the test needs 2 shares and a bit
  for (int fd : {c.backend_fd, c.pumped_fd}) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &room, sizeof(room));
  }
  NonBlocking(c.backend_fd);
  const std::string data(4 * PumpState::kStepBytes, 'b');
  size_t written = 0;
  for (ssize_t n; written < data.size() &&
                  (n = write(c.backend_fd, data.data() + written, data.size() - written)) > 0;) {
    written += static_cast<size_t>(n);
  }
  ASSERT_GT(written, 2 * PumpState::kStepBytes) << "the socket took too little to test";

  const ScopedSigpipeBlock no_sigpipe;
  PumpState state(c.pumped.get(), c.pumped_fd, c.plain_fd);
  EXPECT_TRUE(state.Step() == PumpState::Outcome::kBusy);
  EXPECT_GE(state.result().to_tls, PumpState::kStepBytes);
  EXPECT_LT(state.result().to_tls, PumpState::kStepBytes + 16 * 1024);  // a read more at most
  int steps = 1;
  while (state.Step() == PumpState::Outcome::kBusy) ++steps;
  EXPECT_EQ(state.result().to_tls, written);
  EXPECT_GE(static_cast<size_t>(steps), written / PumpState::kStepBytes);
  std::string got;
  char buf[16384];
  while (got.size() < written) {
    const int n = SSL_read(c.peer.get(), buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, data.substr(0, written));
  c.Close();
}

// A PumpLoop's own rules, with many connections on one loop.
class PumpLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PumpLoop>> loop = PumpLoop::Start();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
  }
  void TearDown() override {
    loop_.reset();
    for (Connection& c : conns_) c.Close();
  }
  // Opens `n` connections and hands each to the loop; ended_[i] counts connection i's Done.
  void AddConnections(size_t n) {
    conns_.resize(n);
    results_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      Connection& c = conns_[i];
      ASSERT_TRUE(endpoints_.Connect(&c));
      loop_->Add(std::move(c.pumped), c.pumped_fd, c.plain_fd, [this, i](const PumpResult& r) {
        absl::MutexLock lock(&mu_);
        results_[i] = r;
        ++ended_;
      });
    }
  }
  bool AwaitEnded(size_t n) {  // Done has run n times
    absl::MutexLock lock(&mu_);
    auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ == n; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(5));
  }

  Endpoints endpoints_;
  std::unique_ptr<PumpLoop> loop_;
  std::vector<Connection> conns_;
  absl::Mutex mu_;
  std::vector<PumpResult> results_ ABSL_GUARDED_BY(mu_);
  size_t ended_ ABSL_GUARDED_BY(mu_) = 0;
};

// Requests on every connection are in flight at once, then every answer: each arrives on its
// own connection, and each connection's clean end (close_notify one way, EOF the other) runs
// its Done once with its own byte counts.
TEST_F(PumpLoopTest, ManyConnectionsShareOneThread) {
  constexpr size_t kConns = 40;
  AddConnections(kConns);
  EXPECT_EQ(loop_->connections(), static_cast<int>(kConns));
  auto text = [](const char* what, size_t i) { return absl::StrCat(what, " ", i, "\n"); };
  for (size_t i = 0; i < kConns; ++i) {
    const std::string request = text("request", i);
    ASSERT_EQ(SSL_write(conns_[i].peer.get(), request.data(), static_cast<int>(request.size())),
              static_cast<int>(request.size()));
  }
  for (size_t i = 0; i < kConns; ++i) {
    const std::string request = text("request", i);
    ASSERT_EQ(ReadPlain(conns_[i].backend_fd, request.size()), request);
    const std::string answer = text("the answer to", i);
    ASSERT_EQ(write(conns_[i].backend_fd, answer.data(), answer.size()),
              static_cast<ssize_t>(answer.size()));
  }
  for (size_t i = 0; i < kConns; ++i) {
    const std::string answer = text("the answer to", i);
    char buf[64];
    const int n = SSL_read(conns_[i].peer.get(), buf, sizeof(buf));
    ASSERT_EQ(std::string(buf, n > 0 ? n : 0), answer);
    SSL_shutdown(conns_[i].peer.get());                 // close_notify
    EXPECT_EQ(ReadPlain(conns_[i].backend_fd, 1), "");  // ...reaches the backend as EOF
    shutdown(conns_[i].backend_fd, SHUT_WR);            // and the backend's end goes back
    EXPECT_EQ(SSL_read(conns_[i].peer.get(), buf, sizeof(buf)), 0);
    EXPECT_EQ(SSL_get_error(conns_[i].peer.get(), 0), SSL_ERROR_ZERO_RETURN);
  }
  ASSERT_TRUE(AwaitEnded(kConns));
  for (int i = 0; i < 500 && loop_->connections() != 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(loop_->connections(), 0) << "counted down as each ended";
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < kConns; ++i) {
    EXPECT_TRUE(results_[i].clean) << i;
    EXPECT_EQ(results_[i].from_tls, text("request", i).size()) << i;
    EXPECT_EQ(results_[i].to_tls, text("the answer to", i).size()) << i;
  }
}

// A socket with nothing more to say is taken off the epoll set: a backend that has gone (its
// socket hangs up, which a level-triggered epoll would report again and again) while the TLS
// peer lingers leaves the loop asleep.
TEST_F(PumpLoopTest, AHungUpSocketDoesNotKeepTheLoopAwake) {
  AddConnections(1);
  Connection& c = conns_[0];
  // A round trip first: the loop is then waiting on both sockets.
  ASSERT_EQ(SSL_write(c.peer.get(), "ping", 4), 4);
  ASSERT_EQ(ReadPlain(c.backend_fd, 4), "ping");
  close(c.backend_fd);
  c.backend_fd = -1;
  char buf[16];
  EXPECT_EQ(SSL_read(c.peer.get(), buf, sizeof(buf)), 0);  // the backend's end: close_notify
  EXPECT_EQ(SSL_get_error(c.peer.get(), 0), SSL_ERROR_ZERO_RETURN);
  const uint64_t before = loop_->wakeups();
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_LE(loop_->wakeups() - before, 2u);  // a loop woken by the hang-up spins: thousands
  SSL_shutdown(c.peer.get());
  ASSERT_TRUE(AwaitEnded(1));
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(results_[0].clean);
}

// What one connection could not write yet is its own copy: another connection on the same
// loop (the same thread, so the same scratch buffer) moving bytes meanwhile cannot change it.
TEST_F(PumpLoopTest, UnwrittenBytesSurviveOtherConnectionsTraffic) {
  AddConnections(2);
  Connection& slow = conns_[0];
  Connection& busy = conns_[1];
  const int small = 4096;
  setsockopt(slow.plain_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  std::string sent;
  for (int i = 0; sent.size() < 60000; ++i) sent += absl::StrCat("slow ", i, "\n");
  ASSERT_EQ(SSL_write(slow.peer.get(), sent.data(), static_cast<int>(sent.size())),
            static_cast<int>(sent.size()));
  absl::SleepFor(
      absl::Milliseconds(100));  // the loop fills the slow backend's socket, keeps the rest
  const std::string other(200000, 'x');
  std::thread writer(
      [&] { SSL_write(busy.peer.get(), other.data(), static_cast<int>(other.size())); });
  EXPECT_EQ(ReadPlain(busy.backend_fd, other.size()), other);
  writer.join();
  EXPECT_EQ(ReadPlain(slow.backend_fd, sent.size()), sent);
}

// A loop destroyed while connections are open ends each of them (Done, not clean) and leaves
// closing their sockets to Done.
TEST_F(PumpLoopTest, DestroyingTheLoopCutsTheOpenConnections) {
  AddConnections(3);
  const std::string request = "unanswered";
  ASSERT_EQ(SSL_write(conns_[1].peer.get(), request.data(), static_cast<int>(request.size())),
            static_cast<int>(request.size()));
  ASSERT_EQ(ReadPlain(conns_[1].backend_fd, request.size()), request);
  loop_.reset();
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(ended_, 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(results_[i].clean) << i;
    EXPECT_NE(fcntl(conns_[i].pumped_fd, F_GETFD), -1) << i;  // still open: Done's to close
  }
  EXPECT_EQ(results_[1].from_tls, request.size());
}

INSTANTIATE_TEST_SUITE_P(Drivers, PumpTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "PumpLoop" : "PollThread";
                         });

}  // namespace
}  // namespace signet::proxy
