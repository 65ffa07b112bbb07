#include "src/proxy/proxy.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "src/common/host_port.h"
#include "src/common/logging.h"
#include "src/crypto/ossl.h"
#include "src/proxy/endpoint.h"
#include "src/proxy/pump.h"

namespace signet::proxy {
namespace {

// OpenSSL's first queued reason, and an empty queue.
std::string SslFailure(absl::string_view what) {
  return std::string(crypto::OsslError(what).message());
}

// The TLS handshake on non-blocking `fd`, all of it by `deadline`. On failure *error says why
// (our verification's reason, OpenSSL's, or a timeout).
bool Handshake(SSL* ssl, int fd, bool server, absl::Time deadline, std::string* error) {
  for (;;) {
    ERR_clear_error();
    const int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (rc == 1) return true;
    const int err = SSL_get_error(ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;
    if (!WaitFor(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      *error = "the TLS handshake timed out";
      return false;
    }
  }
  *error = PeerError(ssl);
  if (error->empty()) *error = SslFailure("the TLS handshake failed");
  ERR_clear_error();
  return false;
}

}  // namespace

// Two PumpLoops per CPU, from 4 to 16. A loop's thread does the kernel's work for what it
// sends (on loopback, the receiver's side too), so a loop is busy for
// longer than its own code runs; and on a shared machine a proxy with fewer threads than busy
// connections gets less of the CPU than the application's threads. bench/proxy with 4 busy
// connections on 2 CPUs: one loop carried ~60 % of what a thread per connection did, four as
// much (docs/benchmarks.md).
int DefaultPumpThreads() {
  // The CPUs this process may run on (a container's cpuset), not all the host has.
  cpu_set_t set;
  CPU_ZERO(&set);
  const int cpus = sched_getaffinity(0, sizeof(set), &set) == 0
                       ? CPU_COUNT(&set)
                       : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(2 * cpus, 4, 16);
}

absl::StatusOr<std::unique_ptr<Proxy>> Proxy::Start(ProxyOptions options) {
  if (options.source == nullptr) return absl::InvalidArgumentError("proxy: no X509Source");
  if (absl::Status s = CheckAddress(options.target, HostNames::kDial); !s.ok()) return s;
  if (options.pump_threads < 0 || options.pump_threads > 256) {
    return absl::InvalidArgumentError("proxy: pump threads must be from 1 to 256 (0: two per CPU)");
  }
  Authorizer authorize = options.allow.AsAuthorizer();
  absl::StatusOr<SslCtxPtr> ctx = options.mode == Mode::kServer
                                      ? NewMtlsServerContext(options.source, std::move(authorize))
                                      : NewMtlsClientContext(options.source, std::move(authorize));
  if (!ctx.ok()) return ctx.status();
  // An idle connection gives its record buffers back (~8 KB less each, as nginx does); the
  // write modes of non-blocking sockets are PumpState's to set.
  SSL_CTX_set_mode(ctx->get(), SSL_MODE_RELEASE_BUFFERS);
  absl::StatusOr<Listener> listener = ListenOn(options.listen, options.listen_mode);
  if (!listener.ok()) return listener.status();
  auto unlisten = [&listener] {
    RemoveListenSocket(*listener);
    close(listener->fd);
  };
  const int wake = eventfd(0, EFD_CLOEXEC);
  if (wake < 0) {
    const int err = errno;
    unlisten();
    return absl::InternalError(absl::StrCat("proxy: eventfd: ", strerror(err)));
  }
  std::vector<std::unique_ptr<PumpLoop>> loops;
  const int loop_count = options.pump_threads > 0 ? options.pump_threads : DefaultPumpThreads();
  for (int i = loop_count; i > 0; --i) {
    absl::StatusOr<std::unique_ptr<PumpLoop>> loop = PumpLoop::Start();
    if (!loop.ok()) {
      unlisten();
      close(wake);
      return loop.status();
    }
    loops.push_back(*std::move(loop));
  }
  auto proxy = std::unique_ptr<Proxy>(
      new Proxy(std::move(options), *std::move(ctx), *listener, wake, std::move(loops)));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

Proxy::Proxy(ProxyOptions options, SslCtxPtr ctx, Listener listener, int wake_fd,
             std::vector<std::unique_ptr<PumpLoop>> loops)
    : options_(std::move(options)),
      ctx_(std::move(ctx)),
      listener_(std::move(listener)),
      listen_fd_(listener_.fd),
      wake_fd_(wake_fd),
      port_(listener_.port),
      loops_(std::move(loops)) {}

Proxy::~Proxy() {
  Stop(absl::ZeroDuration());
  RemoveListenSocket(listener_);  // before close: the path is still ours
  close(listen_fd_);
  close(wake_fd_);
}

void Proxy::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) {
      LogError("proxy: stopped accepting", {{"error", std::string(strerror(errno))}});
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: the connection stays queued; do not spin on it.
        LogWarn("proxy: cannot accept", {{"error", std::string(strerror(errno))}});
        absl::SleepFor(absl::Milliseconds(100));
      }
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        close(fd);
        return;
      }
      if (static_cast<int>(open_.size()) >= options_.max_connections) {
        ++stats_.failed;
        LogWarn("proxy: connection refused: too many open",
                {{"from", PeerAddress(fd)}, {"max_connections", options_.max_connections}});
        close(fd);
        continue;
      }
      open_[fd] = -1;
      ++stats_.open;
    }
    try {
      std::thread([this, fd] { Handle(fd); }).detach();
    } catch (const std::system_error& e) {
      LogError("proxy: cannot start a connection thread", {{"error", e.what()}});
      Finish(fd);
    }
  }
}

void Proxy::Handle(int fd) {
  const ScopedSigpipeBlock no_sigpipe;  // the handshake writes too (alerts)
  const std::string from = PeerAddress(fd);
  const bool server = options_.mode == Mode::kServer;
  const absl::Time deadline = absl::Now() + options_.handshake_timeout;
  if (listener_.unix_path.empty()) TuneSocket(fd);
  std::string error;
  bool denied = false;
  // Server mode: TLS on the accepted socket, plaintext to the backend. Client mode: the other
  // way round. Connecting and the handshake share one deadline.
  int tls_fd = fd;
  int plain_fd = -1;
  if (!server) {
    tls_fd = ConnectTo(options_.target, deadline, &error);
    plain_fd = fd;
    Pair(fd, tls_fd);
  }
  SslPtr ssl;
  if (tls_fd >= 0) {
    ssl.reset(SSL_new(ctx_.get()));
    if (ssl == nullptr || SSL_set_fd(ssl.get(), tls_fd) != 1) {
      error = SslFailure("cannot create a TLS connection");
    } else if (!Handshake(ssl.get(), tls_fd, server, deadline, &error)) {
      denied = true;  // refused by our checks (verification, allow list), by TLS, or too slow
    }
  }
  const std::string peer = ssl != nullptr ? PeerSpiffeId(ssl.get()) : "";
  if (error.empty() && server) {
    plain_fd = ConnectTo(options_.target, deadline + options_.handshake_timeout, &error);
    Pair(fd, plain_fd);
  }
  PumpLoop* loop = error.empty() ? PickLoop() : nullptr;
  if (error.empty() && loop == nullptr) error = "no pump loop is running";
  if (error.empty() && tls_fd >= 0 && plain_fd >= 0) {
    LogInfo("proxy: connection accepted", {{"peer_id", peer}, {"from", from}});
    {
      absl::MutexLock lock(&mu_);
      ++stats_.accepted;
    }
    const int other = server ? plain_fd : tls_fd;
    loop->Add(std::move(ssl), tls_fd, plain_fd,
              [this, fd, other, peer, from](const PumpResult& bytes) {
                Closed(fd, other, peer, from, bytes);
              });
    return;
  }
  if (error.empty()) error = "no connection";
  const std::string who = !peer.empty() ? peer : ssl != nullptr ? RefusedPeerId(ssl.get()) : "";
  Log(denied ? LogLevel::kWarn : LogLevel::kError,
      denied ? "proxy: connection denied" : "proxy: connection failed",
      {{"peer_id", who}, {"from", from}, {"target", options_.target}, {"error", error}});
  {
    absl::MutexLock lock(&mu_);
    ++(denied ? stats_.denied : stats_.failed);
  }
  ssl.reset();
  Pair(fd, -1);  // before the second socket's number can be reused
  if (tls_fd >= 0 && tls_fd != fd) close(tls_fd);
  if (plain_fd >= 0 && plain_fd != fd) close(plain_fd);
  Finish(fd);
}

void Proxy::Closed(int fd, int other, const std::string& peer, const std::string& from,
                   const PumpResult& bytes) {
  LogInfo("proxy: connection closed", {{"peer_id", peer},
                                       {"from", from},
                                       {"bytes_from_peer", bytes.from_tls},
                                       {"bytes_to_peer", bytes.to_tls},
                                       {"clean", bytes.clean}});
  Pair(fd, -1);  // before the second socket's number can be reused
  close(other);
  Finish(fd);
}

PumpLoop* Proxy::PickLoop() {
  // The running loop with the fewest connections, looking from a round-robin start so that
  // ties spread out.
  const size_t start = next_loop_.fetch_add(1, std::memory_order_relaxed);
  PumpLoop* best = nullptr;
  for (size_t i = 0; i < loops_.size(); ++i) {
    PumpLoop* loop = loops_[(start + i) % loops_.size()].get();
    if (loop->running() && (best == nullptr || loop->connections() < best->connections())) {
      best = loop;
    }
  }
  return best;
}

void Proxy::Pair(int fd, int other) {
  absl::MutexLock lock(&mu_);
  open_[fd] = other;
}

void Proxy::Finish(int fd) {
  absl::MutexLock lock(&mu_);
  open_.erase(fd);
  --stats_.open;
  close(fd);
}

void Proxy::Stop(absl::Duration grace) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      const uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof(one));
    }
  }
  if (acceptor_.joinable()) acceptor_.join();
  absl::MutexLock lock(&mu_);
  auto none_open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&none_open), grace)) {
    // Cut what is left: the handshake threads and the pump loops see EOF or errors and end
    // each connection by themselves.
    for (const auto& [fd, other] : open_) {
      shutdown(fd, SHUT_RDWR);
      if (other >= 0) shutdown(other, SHUT_RDWR);
    }
    mu_.Await(absl::Condition(&none_open));
  }
}

ProxyStats Proxy::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace signet::proxy
