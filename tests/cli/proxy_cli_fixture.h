// The fixture of the `signet proxy` CLI tests (proxy_cli_test.cc, proxy_load_cli_test.cc): a
// real server and agent with an entry for this uid, proxies started as child processes, a
// line-echo backend and a line client.
#ifndef SIGNET_TESTS_CLI_PROXY_CLI_FIXTURE_H_
#define SIGNET_TESTS_CLI_PROXY_CLI_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cli/agent_cli_fixture.h"

namespace signet {

inline constexpr char kWeb[] = "spiffe://example.org/web";

// A TCP listener on 127.0.0.1 with a free port (*port).
int Listen(int* port);
sockaddr_un UnixAddr(const std::string& path);
int ListenUnix(const std::string& path);

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
    auto p = std::make_unique<testing::Subprocess>(argv, dir_.File(name + ".log"));
    int port = 0;
    testing::WaitFor(
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
    proxies_.push_back(std::make_unique<testing::Subprocess>(argv, dir_.File(name + ".log")));
    testing::Subprocess* p = proxies_.back().get();
    return testing::WaitFor([&] { return p->Log().find("address=unix:") != std::string::npos; },
                            absl::Seconds(20));
  }
  std::string ProxyLog(size_t i) { return proxies_[i]->Log(); }
  // The SVID files of the test's uid, for the openssl CLI.
  void WriteSvidFiles() {
    std::string out;
    ASSERT_TRUE(testing::WaitFor([&] {
      return testing::RunCommand(
                 absl::StrCat(SIGNET_BINARY, " fetch x509 --socket ", SocketPath("w"), " --write ",
                              dir_.File("svid"), " 2>&1"),
                 &out) == 0;
    })) << out;
  }
  std::string File(const std::string& name) { return dir_.File("svid/" + name); }

  std::vector<std::unique_ptr<testing::Subprocess>> proxies_;
};

}  // namespace signet

#endif  // SIGNET_TESTS_CLI_PROXY_CLI_FIXTURE_H_
