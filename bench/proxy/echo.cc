#include "bench/proxy/echo.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/common/bench_support.h"

namespace signet::bench {
namespace {

std::chrono::nanoseconds ThreadCpu() {
  return std::chrono::nanoseconds(static_cast<int64_t>(ThreadCpuSeconds() * 1e9));
}

void NoDelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

sockaddr_un UnixAddr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::copy(path.begin(), path.end(), addr.sun_path);
  return addr;
}

// `fd` as a Conn, after a TLS handshake over `ctx` (as the server when `accept`) when one is
// given; nullptr, with `fd` closed, when the handshake fails.
std::unique_ptr<Conn> Wrap(int fd, SSL_CTX* ctx, bool accept) {
  SSL* ssl = nullptr;
  if (ctx != nullptr) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if ((accept ? SSL_accept(ssl) : SSL_connect(ssl)) != 1) {
      SSL_free(ssl);
      close(fd);
      return nullptr;
    }
  }
  return std::make_unique<Conn>(fd, ssl);
}

}  // namespace

Conn::~Conn() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
  }
  close(fd_);
}

bool Conn::WriteAll(const char* p, int n) {
  while (n > 0) {
    const int w =
        ssl_ != nullptr ? SSL_write(ssl_, p, n) : static_cast<int>(send(fd_, p, n, MSG_NOSIGNAL));
    if (w <= 0) return false;
    p += w;
    n -= w;
  }
  return true;
}

bool Conn::ReadExact(char* p, int n) {
  while (n > 0) {
    const int r = ssl_ != nullptr ? SSL_read(ssl_, p, n) : static_cast<int>(recv(fd_, p, n, 0));
    if (r <= 0) return false;
    p += r;
    n -= r;
  }
  return true;
}

std::unique_ptr<Conn> Dial(const Endpoint& to, SSL_CTX* ctx) {
  const bool unix_socket = !to.unix_path.empty();
  const int fd = socket(unix_socket ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(static_cast<uint16_t>(to.port));
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const sockaddr_un un = UnixAddr(to.unix_path);
  const int rc = unix_socket ? connect(fd, reinterpret_cast<const sockaddr*>(&un), sizeof(un))
                             : connect(fd, reinterpret_cast<const sockaddr*>(&in), sizeof(in));
  if (rc != 0) {
    close(fd);
    return nullptr;
  }
  if (!unix_socket) NoDelay(fd);
  return Wrap(fd, ctx, /*accept=*/false);
}

EchoServer::EchoServer(SSL_CTX* ctx, int bytes, int work_us, const std::string& unix_path)
    : ctx_(ctx), bytes_(bytes), work_(std::chrono::microseconds(work_us)) {
  if (!unix_path.empty()) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = UnixAddr(unix_path);
    bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    endpoint_.unix_path = unix_path;
  } else {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    endpoint_.port = ntohs(addr.sin_port);
  }
  listen(fd_, 1024);
  thread_ = std::thread([this] { Accept(); });
}

EchoServer::~EchoServer() {
  stop_ = true;
  shutdown(fd_, SHUT_RDWR);
  thread_.join();
  close(fd_);
}

std::string EchoServer::address() const {
  return endpoint_.unix_path.empty() ? absl::StrCat("127.0.0.1:", endpoint_.port)
                                     : "unix:" + endpoint_.unix_path;
}

void EchoServer::Accept() {
  while (!stop_) {
    const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    if (endpoint_.unix_path.empty()) NoDelay(c);
    std::thread([this, c] { Serve(c); }).detach();
  }
}

void EchoServer::Serve(int c) {
  const std::unique_ptr<Conn> conn = Wrap(c, ctx_, /*accept=*/true);
  if (conn == nullptr) return;
  std::vector<char> buf(static_cast<size_t>(bytes_));
  while (conn->ReadExact(buf.data(), bytes_)) {
    if (work_.count() > 0) {  // stands for a handler's work: CPU time, not sleep
      const auto until = ThreadCpu() + work_;
      while (ThreadCpu() < until) {
      }
    }
    if (!conn->WriteAll(buf.data(), bytes_)) break;
  }
}

}  // namespace signet::bench
