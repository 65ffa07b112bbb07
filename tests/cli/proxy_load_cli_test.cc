// `signet proxy` under load and with many connections: full-duplex megabytes, many busy
// connections at once, open connections sharing the pump loops' threads, and the drain timeout
// on SIGTERM.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/proxy_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::WaitFor;
using ::testing::HasSubstr;

// The threads of process `pid` (/proc), -1 when unreadable.
int ThreadCount(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    int n = 0;
    if (absl::ConsumePrefix(&rest, "Threads:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &n)) {
      return n;
    }
  }
  return -1;
}

// Established connections share the --threads pump loops: 60 open at once all keep answering,
// while each proxy's thread count goes back to what it was with none (a thread per connection
// would add 60). Bad --threads values are refused.
TEST_F(ProxyCliTest, OpenConnectionsShareAFewThreads) {
  CreateEntry();
  EchoServer echo;
  const int client = StartPair(echo.port(), {"--threads", "1"}, {"--threads", "2"});
  ASSERT_GT(client, 0);
  LineClient warm(client);  // any thread started on first use exists before the count
  ASSERT_EQ(warm.Ask("warm"), "warm");
  const int server_threads = ThreadCount(proxies_[0]->pid());
  const int client_threads = ThreadCount(proxies_[1]->pid());
  ASSERT_GT(server_threads, 0);
  std::vector<std::unique_ptr<LineClient>> open;
  for (int i = 0; i < 60; ++i) {
    open.push_back(std::make_unique<LineClient>(client));
    ASSERT_EQ(open.back()->Ask(absl::StrCat("first ", i)), absl::StrCat("first ", i));
  }
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(open[i]->Ask(absl::StrCat("second ", i)), absl::StrCat("second ", i));
  }
  // The threads that made the handshakes end once their connection is handed over. (A few
  // more may start meanwhile: gRPC's, as the Workload API stream needs them.)
  constexpr int kSlack = 5;
  EXPECT_TRUE(WaitFor([&] { return ThreadCount(proxies_[0]->pid()) <= server_threads + kSlack; }))
      << ThreadCount(proxies_[0]->pid()) << " threads, " << server_threads << " before";
  EXPECT_TRUE(WaitFor([&] { return ThreadCount(proxies_[1]->pid()) <= client_threads + kSlack; }))
      << ThreadCount(proxies_[1]->pid()) << " threads, " << client_threads << " before";
  EXPECT_EQ(open[59]->Ask("still"), "still");

  for (const char* bad : {"-1", "257"}) {
    std::string out;
    EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1:0",
                                      " --backend 127.0.0.1:1 --allow-id ", kWeb, " --socket ",
                                      SocketPath("w"), " --threads ", bad, " 2>&1"),
                         &out),
              1)
        << bad;
    EXPECT_THAT(out, HasSubstr("--threads: from 1 to 256, or 0 for two per CPU")) << bad;
  }
}

// On SIGTERM open connections may finish for --drain-timeout, then they are cut: the proxy
// exits cleanly although its pump loops still carry a connection nobody ends.
TEST_F(ProxyCliTest, OpenConnectionsGetTheDrainTimeoutThenAreCut) {
  CreateEntry();
  EchoServer echo;
  const int client = StartPair(echo.port(), {"--drain-timeout", "1s"});
  ASSERT_GT(client, 0);
  LineClient open(client);
  ASSERT_EQ(open.Ask("before"), "before");
  const absl::Time stop = absl::Now();
  proxies_[0]->Signal(SIGTERM);
  EXPECT_EQ(open.Ask("during the drain"), "during the drain");
  EXPECT_EQ(proxies_[0]->Wait(absl::Seconds(10)), 0) << ProxyLog(0);
  EXPECT_GE(absl::Now() - stop, absl::Milliseconds(900)) << "cut before the drain timeout";
  EXPECT_EQ(open.Ask("after"), "") << "the cut reaches the client";
  EXPECT_THAT(ProxyLog(0), HasSubstr("clean=false"));
}

// The byte at stream offset `i`: a pattern that loss, duplication or reordering breaks.
char PatternByte(size_t i) { return static_cast<char>((i * 31 + i / 4093) & 0xff); }

// Blocking socket options for the load tests: no wait lasts more than 20 s.
void TwentySecondTimeouts(int fd) {
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// Sends `n` pattern bytes, then shuts the write half; the bytes sent.
size_t SendPattern(int fd, size_t n) {
  std::vector<char> buf(1 << 16);
  size_t sent = 0;
  while (sent < n) {
    const size_t chunk = std::min(buf.size(), n - sent);
    for (size_t k = 0; k < chunk; ++k) buf[k] = PatternByte(sent + k);
    const ssize_t w = send(fd, buf.data(), chunk, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  shutdown(fd, SHUT_WR);
  return sent;
}

// Reads to EOF: whether exactly `n` pattern bytes came.
bool ReceivePattern(int fd, size_t n) {
  std::vector<char> buf(1 << 16);
  size_t got = 0;
  for (;;) {
    const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
    if (r < 0) return false;
    if (r == 0) return got == n;
    for (ssize_t k = 0; k < r; ++k) {
      if (buf[static_cast<size_t>(k)] != PatternByte(got + static_cast<size_t>(k))) return false;
    }
    got += static_cast<size_t>(r);
  }
}

// Both directions of one connection at once: the pattern out (then the write half shut) and
// in (to EOF); true when `n` bytes went each way intact.
bool Exchange(int fd, size_t n) {
  TwentySecondTimeouts(fd);
  bool received = false;
  std::thread reader([&] { received = ReceivePattern(fd, n); });
  const size_t sent = SendPattern(fd, n);
  reader.join();
  close(fd);
  return received && sent == n;
}

// A small receive buffer (set before connect or listen, so that the window is small too): the
// proxy's writes to this end are often partial.
void SmallReceiveBuffer(int fd) {
  const int small = 8 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

int ConnectTcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SmallReceiveBuffer(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// 24 connections at once through a pair with a single pump loop in each proxy, every one
// moving 2 MiB each way at the same time: each byte stream arrives whole and in order, and
// every connection ends cleanly (close_notify one way, EOF the other). The ends read through
// small buffers, so the proxies' writes are often partial: the loop's share per step and the
// kept copies of unwritten bytes, at work on many connections.
TEST_F(ProxyCliTest, ManyBusyConnectionsOnOneLoopAllArriveIntact) {
  CreateEntry();
  int backend_port = 0;
  const int listener = Listen(&backend_port);
  SmallReceiveBuffer(listener);  // accepted sockets inherit it
  constexpr int kConns = 24;
  constexpr size_t kBytes = 2 << 20;
  std::atomic<int> backend_intact{0};
  std::thread backend([&] {
    std::vector<std::thread> served;
    for (int i = 0; i < kConns; ++i) {
      const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) break;  // the listener was shut: the test gave up
      served.emplace_back([&backend_intact, c] { backend_intact += Exchange(c, kBytes); });
    }
    for (std::thread& t : served) t.join();
  });
  const int client = StartPair(backend_port, {"--threads", "1"}, {"--threads", "1"});
  std::atomic<int> client_intact{0};
  std::vector<std::thread> clients;
  for (int i = 0; client > 0 && i < kConns; ++i) {
    clients.emplace_back([&client_intact, client] {
      const int fd = ConnectTcp(client);
      if (fd >= 0) client_intact += Exchange(fd, kBytes);
    });
  }
  for (std::thread& t : clients) t.join();
  shutdown(listener, SHUT_RDWR);  // the backend stops waiting for connections that never came
  backend.join();
  close(listener);
  ASSERT_GT(client, 0);
  EXPECT_EQ(client_intact, kConns) << ProxyLog(0) << ProxyLog(1);
  EXPECT_EQ(backend_intact, kConns);
  auto clean_ends = [this] {
    const std::string log = ProxyLog(0);
    int n = 0;
    for (size_t at = 0; (at = log.find("clean=true", at)) != std::string::npos; ++at) ++n;
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return clean_ends() == kConns; })) << clean_ends() << ProxyLog(0);
}

// Both ends write megabytes before they read anything: the backend sends its whole answer
// before it reads the upload, while the client uploads. A proxy that blocks in one direction's
// write while the other direction fills up stalls for ever here.
TEST_F(ProxyCliTest, FullDuplexTrafficDoesNotDeadlock) {
  CreateEntry();
  int backend_port = 0;
  const int listener = Listen(&backend_port);
  constexpr size_t kBytes = 32 << 20;
  auto pump = [](int fd, bool write) {  // kBytes out or in; the bytes moved
    timeval tv{20, 0};
    setsockopt(fd, SOL_SOCKET, write ? SO_SNDTIMEO : SO_RCVTIMEO, &tv, sizeof(tv));
    std::vector<char> buf(1 << 16, 'd');
    size_t moved = 0;
    while (moved < kBytes) {
      const ssize_t n =
          write ? send(fd, buf.data(), std::min(buf.size(), kBytes - moved), MSG_NOSIGNAL)
                : recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      moved += static_cast<size_t>(n);
    }
    return moved;
  };
  size_t backend_sent = 0;
  size_t backend_received = 0;
  std::thread backend([&] {
    const int c = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    backend_sent = pump(c, true);
    backend_received = pump(c, false);
    close(c);
  });
  const int server =
      StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                            absl::StrCat("127.0.0.1:", backend_port), "--allow-id", kWeb});
  const int client =
      StartProxy("client", {"client", "--listen", "127.0.0.1:0", "--connect",
                            absl::StrCat("127.0.0.1:", server), "--server-id", kWeb});
  ASSERT_GT(client, 0) << ProxyLog(0) << ProxyLog(1);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(client));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  size_t received = 0;
  std::thread reader([&] { received = pump(fd, false); });
  const size_t sent = pump(fd, true);
  reader.join();
  close(fd);
  backend.join();
  close(listener);
  EXPECT_EQ(sent, kBytes);
  EXPECT_EQ(backend_received, kBytes);
  EXPECT_EQ(backend_sent, kBytes);
  EXPECT_EQ(received, kBytes) << ProxyLog(0) << ProxyLog(1);
}

}  // namespace
}  // namespace signet
