// PumpLoop: one thread that pumps many established connections at once, waiting on all their
// sockets with one epoll. A connection costs its two buffers, not a thread; and while the loop
// is busy, sockets that become ready meanwhile are taken in the same turn, without a wake-up
// each (a thread per connection is woken for every request).
#ifndef SIGNET_PROXY_PUMP_LOOP_H_
#define SIGNET_PROXY_PUMP_LOOP_H_

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/crypto/ossl.h"
#include "src/proxy/pump.h"

namespace signet::proxy {

using SslPtr = crypto::OsslPtr<SSL, SSL_free>;

class PumpLoop {
 public:
  // Called once a connection has ended (both directions, or one failed), after its SSL was
  // freed and its sockets were taken off the loop; closing the sockets is left to it.
  using Done = absl::AnyInvocable<void(const PumpResult&) &&>;

  static absl::StatusOr<std::unique_ptr<PumpLoop>> Start();
  // Ends the connections still on the loop as failed (their Done runs), then joins the thread.
  ~PumpLoop();
  PumpLoop(const PumpLoop&) = delete;
  PumpLoop& operator=(const PumpLoop&) = delete;

  // Hands over a connection whose handshake is done; both sockets must be non-blocking. `done`
  // runs on the loop's thread, or on the caller's when the loop is stopping.
  void Add(SslPtr ssl, int tls_fd, int plain_fd, Done done) ABSL_LOCKS_EXCLUDED(mu_);

  // False once the loop has stopped (destroyed, or its epoll failed): Add() then only ends
  // what it is given.
  bool running() const ABSL_LOCKS_EXCLUDED(mu_);

  // The connections handed over and not yet ended (for choosing the least busy loop).
  int connections() const { return connections_.load(std::memory_order_relaxed); }

  // How often the loop's thread has returned from epoll_wait (tests: an idle loop sleeps).
  uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

 private:
  struct Conn;
  // What epoll reports: one socket of one connection.
  struct Side {
    Conn* conn;
    bool tls;
  };

  PumpLoop(int epoll_fd, int wake_fd);
  void Run();
  // Puts the connections Add() queued on the loop; false once the loop is stopping.
  bool TakeIncoming() ABSL_LOCKS_EXCLUDED(mu_);
  // Steps `c` and waits for what it wants next, or ends it.
  void Advance(Conn* c);
  // Has epoll report `wanted` (poll events) on `fd`, taking it off the set for none (a socket
  // that has reached EOF would otherwise be reported again and again). False on an epoll error.
  bool Watch(Side* side, int fd, uint32_t* watched, short wanted);
  // Takes `c` off the loop and runs its Done; `cut`: it had not ended by itself.
  void End(Conn* c, bool cut);
  void EndAll();

  const int epoll_fd_;
  const int wake_fd_;  // eventfd: new connections, or stop
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::unique_ptr<Conn>> incoming_ ABSL_GUARDED_BY(mu_);
  // The loop thread's own: the connections being pumped.
  absl::flat_hash_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> busy_;  // those whose last step was kBusy
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PUMP_LOOP_H_
