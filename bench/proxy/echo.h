// bench/proxy's two ends: the load generator's connections (plain or TLS) and the echo backend.
#ifndef SIGNET_BENCH_PROXY_ECHO_H_
#define SIGNET_BENCH_PROXY_ECHO_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace signet::bench {

// One connection: a socket, with TLS over it when `ssl` is given. Owns both.
class Conn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  bool WriteAll(const char* p, int n);
  bool ReadExact(char* p, int n);

 private:
  int fd_;
  SSL* ssl_;
};

// Where a connection goes: 127.0.0.1:port, or a Unix socket when `unix_path` is set.
struct Endpoint {
  int port = 0;
  std::string unix_path;
};

// A connection to `to`, with a TLS handshake over `ctx` when given; nullptr on failure.
std::unique_ptr<Conn> Dial(const Endpoint& to, SSL_CTX* ctx);

// The backend: answers every `bytes`-byte request with as many bytes, after spending `work_us`
// of CPU on it; TLS when `ctx` is given. A thread per connection. It listens on 127.0.0.1, or
// on the Unix socket `unix_path` when that is set.
class EchoServer {
 public:
  EchoServer(SSL_CTX* ctx, int bytes, int work_us, const std::string& unix_path = "");
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }
  // As --backend takes it.
  std::string address() const;

 private:
  void Accept();
  void Serve(int c);

  SSL_CTX* const ctx_;
  const int bytes_;
  const std::chrono::nanoseconds work_;
  int fd_ = -1;
  Endpoint endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace signet::bench

#endif  // SIGNET_BENCH_PROXY_ECHO_H_
