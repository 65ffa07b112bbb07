// `signet proxy`: mutual TLS between SPIFFE workloads for software that speaks plain TCP (the
// ghostunnel use case).
//
//   server mode: accepts mTLS from peers on the allow list, forwards plaintext to `target` (the
//                local backend);
//   client mode: accepts plaintext locally, opens mTLS to `target` with the workload's SVID and
//                lets the bytes through only if the server's SPIFFE ID is on the allow list.
//
// Each new connection gets a thread for its connect and TLS handshake; once established it is
// handed to one of a few PumpLoops (epoll, pump_loop.h), which carry the bytes of all
// connections. The handshake presents the source's current SVID, so rotated SVIDs serve new
// connections while open ones carry on. Every accepted and denied
// connection is logged with the peer's SPIFFE ID (or why it had none).
#ifndef SIGNET_PROXY_PROXY_H_
#define SIGNET_PROXY_PROXY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "signet/tls.h"
#include "signet/workload.h"
#include "src/proxy/allow_list.h"
#include "src/proxy/endpoint.h"
#include "src/proxy/pump_loop.h"

namespace signet::proxy {

enum class Mode { kServer, kClient };

// The PumpLoops a proxy starts unless told (ProxyOptions::pump_threads): two per CPU this
// process may run on, from 4 to 16.
int DefaultPumpThreads();

struct ProxyOptions {
  Mode mode = Mode::kServer;
  std::string listen;           // host:port (port 0 picks one: see Proxy::port()) or unix:/path
  unsigned listen_mode = 0600;  // of a unix: listen socket's file
  std::string target;  // host:port: the backend (server mode) or the mTLS server (client mode)
  AllowList allow;
  std::shared_ptr<X509Source> source;
  int max_connections = 1024;  // more are closed at once (and logged)
  int pump_threads = 0;        // PumpLoops for established connections; 0: 2 per CPU, 4 to 16
  absl::Duration handshake_timeout = absl::Seconds(10);
};

struct ProxyStats {
  uint64_t accepted = 0;  // connections that got through
  uint64_t denied = 0;    // refused by verification or the allow list
  uint64_t failed = 0;    // other failures (target unreachable, too many connections)
  int open = 0;
};

class Proxy {
 public:
  static absl::StatusOr<std::unique_ptr<Proxy>> Start(ProxyOptions options);
  ~Proxy();  // Stop(absl::ZeroDuration())

  int port() const { return port_; }
  // Stops accepting; waits up to `grace` for open connections to end, then cuts them. Idempotent.
  void Stop(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);
  ProxyStats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Proxy(ProxyOptions options, SslCtxPtr ctx, Listener listener, int wake_fd,
        std::vector<std::unique_ptr<PumpLoop>> loops);
  void AcceptLoop();
  void Handle(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  // Records the connection's second socket, so that Stop() can cut both.
  void Pair(int fd, int other) ABSL_LOCKS_EXCLUDED(mu_);
  void Finish(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  // The running loop with the fewest connections; nullptr if none is running.
  PumpLoop* PickLoop();
  // After the connection on accepted socket `fd` has ended: logs it, closes its second socket
  // and Finish()es.
  void Closed(int fd, int other, const std::string& peer, const std::string& from,
              const PumpResult& bytes) ABSL_LOCKS_EXCLUDED(mu_);

  const ProxyOptions options_;
  const SslCtxPtr ctx_;
  const Listener listener_;
  const int listen_fd_;
  const int wake_fd_;  // eventfd: wakes the accept loop for Stop()
  const int port_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The accepted sockets being served, each with its second socket (-1 until connected).
  absl::flat_hash_map<int, int> open_ ABSL_GUARDED_BY(mu_);
  ProxyStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
  // Last: destroyed first, while what their connections' Done calls is still there.
  const std::vector<std::unique_ptr<PumpLoop>> loops_;
  std::atomic<size_t> next_loop_{0};
};

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PROXY_H_
