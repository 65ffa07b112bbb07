// `signet proxy server|client` with a real agent and server: bytes through a client->server
// pair, each kind of refusal logged with its reason, interop with the openssl CLI in both modes
// (s_client against the server proxy, s_server behind the client proxy), and 30 s of requests
// across 10 s SVID rotations with none failing while a connection opened before them carries on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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
#include "tests/cli/agent_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::testing::HasSubstr;

constexpr char kWeb[] = "spiffe://example.org/web";

int Listen(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd, 64);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

sockaddr_un UnixAddr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  EXPECT_LT(path.size(), sizeof(addr.sun_path)) << path;
  std::copy_n(path.begin(), std::min(path.size(), sizeof(addr.sun_path) - 1), addr.sun_path);
  return addr;
}

int ListenUnix(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un addr = UnixAddr(path);
  EXPECT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0) << path;
  EXPECT_EQ(listen(fd, 64), 0);
  return fd;
}

// A plain TCP (or Unix socket) line client with a 5 s receive timeout.
class LineClient {
 public:
  explicit LineClient(const std::string& unix_path)
      : fd_(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const sockaddr_un addr = UnixAddr(unix_path);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  explicit LineClient(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~LineClient() { close(fd_); }
  // Sends `line` + "\n" and returns the line that comes back ("" on EOF or timeout).
  std::string Ask(const std::string& line) {
    const std::string out = line + "\n";
    if (!connected_ || send(fd_, out.data(), out.size(), MSG_NOSIGNAL) != ssize_t(out.size())) {
      return "";
    }
    std::string in;
    char c;
    while (recv(fd_, &c, 1, 0) == 1 && c != '\n') in.push_back(c);
    return in;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The plaintext backend: echoes each line; closes after "bye".
class EchoServer {
 public:
  EchoServer() : fd_(Listen(&port_)), thread_([this] { Run(); }) {}
  explicit EchoServer(const std::string& unix_path)
      : fd_(ListenUnix(unix_path)), thread_([this] { Run(); }) {}
  ~EchoServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  void Run() {
    while (!stop_) {
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::thread([c] {
        std::string line;
        char ch;
        while (recv(c, &ch, 1, 0) == 1) {
          line.push_back(ch);
          if (ch != '\n') continue;
          send(c, line.data(), line.size(), MSG_NOSIGNAL);
          if (line == "bye\n") break;
          line.clear();
        }
        close(c);
      }).detach();
    }
  }
  int port_ = 0;
  const int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ProxyCliTest : public AgentCliTest {
 protected:
  void SetUp() override {
    AgentCliTest::SetUp();
    if (HasFatalFailure()) return;
    StartWorkloadAgent();
  }
  void CreateEntry(const std::string& extra = "") {
    std::string out;
    ASSERT_EQ(Admin(absl::StrCat("entry create --spiffe-id ", kWeb, " --parent-id ", kAgentId,
                                 " --selector unix:uid:", getuid(), " ", extra),
                    &out),
              0)
        << out;
  }
  // Starts `signet proxy <mode> <args>` and returns its port once it listens (0 on failure).
  int StartProxy(const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {SIGNET_BINARY, "proxy"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--socket", SocketPath("w")});
    auto p = std::make_unique<Subprocess>(argv, dir_.File(name + ".log"));
    int port = 0;
    WaitFor(
        [&] {
          const std::string log = p->Log();
          const size_t at = log.find("address=127.0.0.1:");
          return at != std::string::npos &&
                 absl::SimpleAtoi(log.substr(at + 18, log.find_first_of(" \n", at) - at - 18),
                                  &port);
        },
        absl::Seconds(20));
    proxies_.push_back(std::move(p));
    return port;
  }
  // A server proxy in front of the echo backend at `backend_port` (admitting kWeb), then a
  // client proxy to it expecting kWeb, each with its `extra` flags: proxies_[0] and [1]. The
  // client proxy's port, or 0 (with a test failure) if either did not start.
  int StartPair(int backend_port, const std::vector<std::string>& server_extra = {},
                const std::vector<std::string>& client_extra = {}) {
    std::vector<std::string> server_args = {"server",
                                            "--listen",
                                            "127.0.0.1:0",
                                            "--backend",
                                            absl::StrCat("127.0.0.1:", backend_port),
                                            "--allow-id",
                                            kWeb};
    server_args.insert(server_args.end(), server_extra.begin(), server_extra.end());
    const int server = StartProxy("server", server_args);
    EXPECT_GT(server, 0) << ProxyLog(0);
    if (server <= 0) return 0;
    std::vector<std::string> client_args = {
        "client",      "--listen", "127.0.0.1:0", "--connect", absl::StrCat("127.0.0.1:", server),
        "--server-id", kWeb};
    client_args.insert(client_args.end(), client_extra.begin(), client_extra.end());
    const int client = StartProxy("client", client_args);
    EXPECT_GT(client, 0) << ProxyLog(1);
    return client;
  }
  // Starts a proxy whose --listen is a unix: address; true once it listens.
  bool StartUnixProxy(const std::string& name, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {SIGNET_BINARY, "proxy"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--socket", SocketPath("w")});
    proxies_.push_back(std::make_unique<Subprocess>(argv, dir_.File(name + ".log")));
    Subprocess* p = proxies_.back().get();
    return WaitFor([&] { return p->Log().find("address=unix:") != std::string::npos; },
                   absl::Seconds(20));
  }
  std::string ProxyLog(size_t i) { return proxies_[i]->Log(); }
  // The SVID files of the test's uid, for the openssl CLI.
  void WriteSvidFiles() {
    std::string out;
    ASSERT_TRUE(WaitFor([&] {
      return RunCommand(absl::StrCat(SIGNET_BINARY, " fetch x509 --socket ", SocketPath("w"),
                                     " --write ", dir_.File("svid"), " 2>&1"),
                        &out) == 0;
    })) << out;
  }
  std::string File(const std::string& name) { return dir_.File("svid/" + name); }

  std::vector<std::unique_ptr<Subprocess>> proxies_;
};

TEST_F(ProxyCliTest, AClientServerPairCarriesBytesAndLogsThePeers) {
  CreateEntry();
  EchoServer echo;
  const int client = StartPair(echo.port());
  ASSERT_GT(client, 0);
  LineClient c(client);
  EXPECT_EQ(c.Ask("hello"), "hello");
  EXPECT_EQ(c.Ask(std::string(40000, 'x')), std::string(40000, 'x')) << "more than a record";
  EXPECT_TRUE(
      WaitFor([&] { return ProxyLog(0).find("connection accepted") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("peer_id=", kWeb)));
  EXPECT_THAT(ProxyLog(1), HasSubstr(absl::StrCat("peer_id=", kWeb)));
}

TEST_F(ProxyCliTest, PeersOffTheAllowListAreDeniedAndLogged) {
  CreateEntry();
  EchoServer echo;
  const std::string backend = absl::StrCat("127.0.0.1:", echo.port());
  const int strict = StartProxy("strict", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           backend, "--allow-id", "spiffe://example.org/db"});
  ASSERT_GT(strict, 0) << ProxyLog(0);
  const int via_strict = StartProxy(
      "client1", {"client", "--listen", "127.0.0.1:0", "--connect",
                  absl::StrCat("127.0.0.1:", strict), "--allow-trust-domain", "example.org"});
  ASSERT_GT(via_strict, 0);
  EXPECT_EQ(LineClient(via_strict).Ask("hello"), "");
  ASSERT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat(kWeb, " is not on the allow list")));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("connection denied peer_id=", kWeb)));

  // The client side checks the server too.
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1:0 --backend ",
                                    backend, " --allow-prefix spiffe://example.org/ --socket ",
                                    SocketPath("w"), " 2>&1"),
                       &out),
            1);
  EXPECT_THAT(out, HasSubstr("must be a SPIFFE ID with a path")) << "a prefix needs a path";
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           backend, "--allow-trust-domain", "example.org"});
  ASSERT_GT(server, 0);
  const int wrong = StartProxy(
      "client2", {"client", "--listen", "127.0.0.1:0", "--connect",
                  absl::StrCat("127.0.0.1:", server), "--server-id", "spiffe://example.org/db"});
  ASSERT_GT(wrong, 0);
  EXPECT_EQ(LineClient(wrong).Ask("hello"), "");
  ASSERT_TRUE(WaitFor([&] { return ProxyLog(3).find("connection denied") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(3), HasSubstr(absl::StrCat(kWeb, " is not on the allow list")));

  // Nothing allowed at all: refused at start.
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1:0 --backend ",
                                    backend, " --socket ", SocketPath("w"), " 2>&1"),
                       &out),
            1);
  EXPECT_THAT(out, HasSubstr("no peer is allowed"));
  // A malformed address is named, and nothing starts.
  EXPECT_EQ(
      RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1 --backend ", backend,
                              " --allow-id ", kWeb, " --socket ", SocketPath("w"), " 2>&1"),
                 &out),
      1);
  EXPECT_THAT(out, HasSubstr("address \"127.0.0.1\": want host:port"));
}

// Unix sockets on the plaintext sides (a sidecar's app, a backend that only listens on one):
// the client proxy's socket is mode 0600 and replaces a stale one; a live listener, a file
// that is not a socket and a relative path are refused; the socket goes when the proxy stops.
TEST_F(ProxyCliTest, UnixSocketsOnThePlaintextSides) {
  CreateEntry();
  EchoServer echo(dir_.File("b.sock"));
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           "unix:" + dir_.File("b.sock"), "--allow-id", kWeb});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const std::string path = dir_.File("c.sock");
  close(ListenUnix(path));  // a socket left by a process that has gone
  const std::vector<std::string> client = {
      "client",      "--listen", "unix:" + path, "--connect", absl::StrCat("127.0.0.1:", server),
      "--server-id", kWeb};
  const mode_t old_mask = umask(0);  // the proxy inherits it: 0600 must come from the proxy
  const bool started = StartUnixProxy("client", client);
  umask(old_mask);
  ASSERT_TRUE(started) << ProxyLog(1);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  LineClient c(path);
  EXPECT_EQ(c.Ask("hello"), "hello");
  EXPECT_EQ(c.Ask(std::string(40000, 'u')), std::string(40000, 'u'));
  EXPECT_THAT(ProxyLog(1), HasSubstr(absl::StrCat("from=\"unix:uid=", getuid(), "\"")));

  auto refused = [&](const std::string& listen) {
    std::string out;
    EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy client --listen ", listen,
                                      " --connect 127.0.0.1:", server, " --server-id ", kWeb,
                                      " --socket ", SocketPath("w"), " 2>&1"),
                         &out),
              1)
        << listen;
    return out;
  };
  const ino_t live = st.st_ino;
  EXPECT_THAT(refused("unix:" + path), HasSubstr("is already in use by another process"));
  testing::WriteTestFile(dir_.File("plain"), "x");
  EXPECT_THAT(refused("unix:" + dir_.File("plain")), HasSubstr("exists and is not a socket"));
  EXPECT_THAT(refused("unix:c.sock"), HasSubstr("want unix:/absolute/path"));
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "a refused proxy leaves the live socket alone";
  EXPECT_EQ(st.st_ino, live) << "and does not replace it";
  EXPECT_EQ(LineClient(path).Ask("still"), "still");

  proxies_[1]->Signal(SIGTERM);
  EXPECT_EQ(proxies_[1]->Wait(), 0);
  EXPECT_NE(stat(path.c_str(), &st), 0) << "the socket goes with the proxy";

  // --listen-mode: a group may be let in; the owner keeps access; TCP has no mode.
  std::vector<std::string> grouped = client;
  grouped.insert(grouped.end(), {"--listen-mode", "0660"});
  ASSERT_TRUE(StartUnixProxy("grouped", grouped)) << ProxyLog(2);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(LineClient(path).Ask("again"), "again");
  EXPECT_THAT(refused(dir_.File("x.sock").insert(0, "unix:") + " --listen-mode 0400"),
              HasSubstr("the owner must be able to read and write"));
  EXPECT_THAT(refused("127.0.0.1:0 --listen-mode 0660"),
              HasSubstr("--listen-mode applies only to a unix: --listen"));
  EXPECT_THAT(refused(dir_.File("y.sock").insert(0, "unix:") + " --listen-mode 0666"),
              HasSubstr("every local user could use this workload's identity"));
}

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

// A peer that connects and never finishes its handshake is cut after --handshake-timeout, so
// idle sockets cannot hold the proxy's connection slots.
TEST_F(ProxyCliTest, AStalledHandshakeIsCutAfterTheTimeout) {
  CreateEntry();
  EchoServer echo;
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           absl::StrCat("127.0.0.1:", echo.port()), "--allow-id",
                                           kWeb, "--handshake-timeout", "1s"});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const absl::Time start = absl::Now();
  LineClient silent(server);  // connects, sends nothing
  EXPECT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; },
                      absl::Seconds(5)))
      << ProxyLog(0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_THAT(ProxyLog(0), HasSubstr("the TLS handshake timed out"));
  // A peer that trickles a byte every 300 ms is cut by the same overall deadline.
  LineClient trickle(server);
  const absl::Time trickle_start = absl::Now();
  std::string reply = "x";
  for (int i = 0; i < 15 && !reply.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(300));
    reply = trickle.Ask("");  // one byte; the answer is "" once the proxy has closed
  }
  EXPECT_LT(absl::Now() - trickle_start, absl::Seconds(4)) << ProxyLog(0);
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

TEST_F(ProxyCliTest, OpensslSClientTalksToTheServerProxy) {
  CreateEntry();
  WriteSvidFiles();
  EchoServer echo;
  const int server =
      StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                            absl::StrCat("127.0.0.1:", echo.port()), "--allow-id", kWeb});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const std::string s_client =
      absl::StrCat("openssl s_client -connect 127.0.0.1:", server, " -CAfile ", File("bundle.pem"),
                   " -verify_return_error -quiet");
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat("printf 'ping\\nbye\\n' | timeout 10 ", s_client, " -cert ",
                                    File("svid.pem"), " -key ", File("svid.key"), " 2>&1"),
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("ping\nbye"));
  // Without a client certificate: refused by the proxy, and logged.
  EXPECT_NE(
      RunCommand(absl::StrCat("printf 'ping\\nbye\\n' | timeout 10 ", s_client, " 2>&1"), &out), 0);
  EXPECT_THAT(out, ::testing::Not(HasSubstr("ping\nbye")));
  EXPECT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; }))
      << ProxyLog(0);
}

TEST_F(ProxyCliTest, TheClientProxyTalksToOpensslSServer) {
  CreateEntry();
  WriteSvidFiles();
  int port = 0;
  close(Listen(&port));  // a free port for s_server
  Subprocess s_server({"/usr/bin/openssl", "s_server", "-accept", absl::StrCat("127.0.0.1:", port),
                       "-cert", File("svid.pem"), "-key", File("svid.key"), "-CAfile",
                       File("bundle.pem"), "-Verify", "3", "-verify_return_error", "-rev"},
                      dir_.File("s_server.log"));
  ASSERT_TRUE(WaitFor([&] { return s_server.Log().find("ACCEPT") != std::string::npos; }))
      << s_server.Log();
  const int client = StartProxy("client", {"client", "--listen", "127.0.0.1:0", "--connect",
                                           absl::StrCat("127.0.0.1:", port), "--server-id", kWeb});
  ASSERT_GT(client, 0) << ProxyLog(0);
  // s_server -rev answers each line reversed, after verifying our client SVID (-Verify).
  EXPECT_EQ(LineClient(client).Ask("ping"), "gnip") << s_server.Log() << ProxyLog(0);
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("peer_id=", kWeb)));
}

TEST_F(ProxyCliTest, RequestsKeepFlowingAcrossRotations) {
  CreateEntry("--x509-svid-ttl 10s");
  EchoServer echo;
  const int server = StartProxy(
      "server", {"server", "--listen", "127.0.0.1:0", "--backend",
                 absl::StrCat("127.0.0.1:", echo.port()), "--allow-trust-domain", "example.org"});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const int client =
      StartProxy("client", {"client", "--listen", "127.0.0.1:0", "--connect",
                            absl::StrCat("127.0.0.1:", server), "--server-id", kWeb});
  ASSERT_GT(client, 0) << ProxyLog(1);
  LineClient long_lived(client);
  ASSERT_EQ(long_lived.Ask("first"), "first");
  const std::string serial_cmd = absl::StrCat(SIGNET_BINARY, " fetch x509 --socket ",
                                              SocketPath("w"), " --output json 2>/dev/null");
  std::string first_svid;
  RunCommand(serial_cmd, &first_svid);
  int ok = 0;
  int failed = 0;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (absl::Now() < end) {
    (LineClient(client).Ask("ping") == "ping" ? ok : failed)++;
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::string last_svid;
  RunCommand(serial_cmd, &last_svid);
  EXPECT_EQ(failed, 0) << ok << " ok\n" << ProxyLog(0) << ProxyLog(1);
  EXPECT_GT(ok, 50);
  EXPECT_NE(first_svid, last_svid) << "the SVID rotated meanwhile";
  EXPECT_EQ(long_lived.Ask("still here"), "still here") << "the old connection carries on";
}

}  // namespace
}  // namespace signet
