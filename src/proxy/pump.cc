#include "src/proxy/pump.h"

#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace signet::proxy {
namespace {

constexpr size_t kBufferSize = 16 * 1024;  // one TLS record

// Bytes waiting to be written, read from the other side.
struct Buffer {
  char data[kBufferSize];
  size_t len = 0;
  size_t off = 0;
  bool empty() const { return off == len; }
  void Fill(size_t n) {
    len = n;
    off = 0;
  }
};

// The outcome of one read or write step.
enum class Io { kProgress, kWouldBlock, kEnd, kError };

Io ReadTls(SSL* ssl, Buffer& b, bool* wants_write) {
  ERR_clear_error();
  const int n = SSL_read(ssl, b.data, sizeof(b.data));
  if (n > 0) {
    b.Fill(static_cast<size_t>(n));
    return Io::kProgress;
  }
  switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
      *wants_write = false;
      return Io::kWouldBlock;
    case SSL_ERROR_WANT_WRITE:
      *wants_write = true;
      return Io::kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEnd;
    default:
      return Io::kError;
  }
}

Io WriteTls(SSL* ssl, Buffer& b, bool* wants_read, uint64_t* count) {
  ERR_clear_error();
  const int n = SSL_write(ssl, b.data + b.off, static_cast<int>(b.len - b.off));
  if (n > 0) {
    b.off += static_cast<size_t>(n);
    *count += static_cast<uint64_t>(n);
    return Io::kProgress;
  }
  switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
      *wants_read = false;
      return Io::kWouldBlock;
    case SSL_ERROR_WANT_READ:
      *wants_read = true;
      return Io::kWouldBlock;
    default:
      return Io::kError;
  }
}

Io ReadPlain(int fd, Buffer& b) {
  const ssize_t n = recv(fd, b.data, sizeof(b.data), 0);
  if (n > 0) {
    b.Fill(static_cast<size_t>(n));
    return Io::kProgress;
  }
  if (n == 0) return Io::kEnd;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Io::kWouldBlock : Io::kError;
}

Io WritePlain(int fd, Buffer& b, uint64_t* count) {
  const ssize_t n = send(fd, b.data + b.off, b.len - b.off, MSG_NOSIGNAL);
  if (n > 0) {
    b.off += static_cast<size_t>(n);
    *count += static_cast<uint64_t>(n);
    return Io::kProgress;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Io::kWouldBlock : Io::kError;
}

// Folds one read's outcome into a direction's state: data (progress), the end of the stream
// (that side is done and the other gets a shutdown once drained), or nothing yet. False on an
// error.
bool TakeRead(Io io, bool* open, bool* shut_other, bool* progress) {
  switch (io) {
    case Io::kProgress:
      *progress = true;
      return true;
    case Io::kEnd:
      *open = false;
      *shut_other = true;
      *progress = true;
      return true;
    case Io::kError:
      return false;
    case Io::kWouldBlock:
      return true;
  }
  return true;
}

}  // namespace

namespace {

sigset_t OnlySigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

}  // namespace

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  const sigset_t pipe = OnlySigpipe();
  pthread_sigmask(SIG_BLOCK, &pipe, &old_);
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (sigismember(&old_, SIGPIPE) == 1) return;  // an outer block is still on
  const sigset_t pipe = OnlySigpipe();
  const timespec now{};
  for (;;) {  // until none is pending (EAGAIN); EINTR is another try, not the end
    const int taken = sigtimedwait(&pipe, nullptr, &now);
    if (taken != SIGPIPE && !(taken < 0 && errno == EINTR)) break;
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd) {
  const ScopedSigpipeBlock no_sigpipe;
  // One recv takes a whole TLS record, or several, instead of a header then a body; what it
  // read beyond one record waits in OpenSSL's buffer (SSL_has_pending).
  SSL_set_read_ahead(ssl, 1);
  PumpResult result;
  Buffer to_plain;          // read from the TLS peer
  Buffer to_tls;            // read from the plain side
  bool tls_open = true;     // the TLS peer may still send
  bool plain_open = true;   // the plain side may still send
  bool shut_plain = false;  // the TLS peer ended: shut the plain side's write half once drained
  bool shut_tls = false;    // the plain side ended: send close_notify once drained
  bool read_wants_write = false;
  bool write_wants_read = false;
  // Whether a read may find something: after poll said so, or a read that may have left more
  // (a full buffer, or records OpenSSL holds). A read that would only say EAGAIN is not made:
  // poll is level-triggered, so nothing that arrives meanwhile is missed.
  bool tls_readable = true;
  bool plain_readable = true;
  auto fail = [&result] {
    result.clean = false;
    return result;
  };
  for (;;) {
    bool progress = false;
    if (tls_open && to_plain.empty() && tls_readable) {
      const Io io = ReadTls(ssl, to_plain, &read_wants_write);
      if (!TakeRead(io, &tls_open, &shut_plain, &progress)) return fail();
      tls_readable = io == Io::kProgress && SSL_has_pending(ssl) == 1;
    }
    if (!to_plain.empty()) {
      const Io io = WritePlain(plain_fd, to_plain, &result.from_tls);
      if (io == Io::kError) return fail();
      progress |= io == Io::kProgress;
    }
    if (shut_plain && to_plain.empty()) {
      shutdown(plain_fd, SHUT_WR);
      shut_plain = false;
    }
    if (plain_open && to_tls.empty() && plain_readable) {
      const Io io = ReadPlain(plain_fd, to_tls);
      if (!TakeRead(io, &plain_open, &shut_tls, &progress)) return fail();
      plain_readable = io == Io::kProgress && to_tls.len == kBufferSize;
    }
    if (!to_tls.empty()) {
      const Io io = WriteTls(ssl, to_tls, &write_wants_read, &result.to_tls);
      if (io == Io::kError) return fail();
      progress |= io == Io::kProgress;
    }
    if (shut_tls && to_tls.empty()) {
      // close_notify: the peer sees our end and may still send. WANT_WRITE: it waits behind
      // a full socket, and goes out when poll says there is room.
      ERR_clear_error();
      const int rc = SSL_shutdown(ssl);
      shut_tls = rc < 0 && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_WRITE;
    }
    if (!tls_open && !plain_open && to_plain.empty() && to_tls.empty() && !shut_tls) {
      return result;
    }
    // Another turn while something moved and there may be more to read, or more to write.
    const bool can_read = (tls_open && to_plain.empty() && tls_readable) ||
                          (plain_open && to_tls.empty() && plain_readable);
    if (progress && can_read) continue;

    short tls_events = 0;
    if (tls_open && to_plain.empty()) tls_events |= read_wants_write ? POLLOUT : POLLIN;
    if (!to_tls.empty()) tls_events |= write_wants_read ? POLLIN : POLLOUT;
    if (shut_tls && to_tls.empty()) tls_events |= POLLOUT;
    short plain_events = 0;
    if (plain_open && to_tls.empty()) plain_events |= POLLIN;
    if (!to_plain.empty()) plain_events |= POLLOUT;
    pollfd fds[2] = {{tls_events != 0 ? tls_fd : -1, tls_events, 0},
                     {plain_events != 0 ? plain_fd : -1, plain_events, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return fail();
    // An error on a socket we only wait to write to would wake poll at once, forever.
    if ((fds[0].revents | fds[1].revents) & (POLLERR | POLLNVAL)) return fail();
    // The TLS read runs again when its socket is ready for it (or hung up), or when OpenSSL
    // holds bytes that poll cannot see (a record read ahead with the one before it). A record
    // held only in part costs one read that finds nothing more, never a busy loop: poll has
    // blocked first.
    const short tls_ready = (read_wants_write ? POLLOUT : POLLIN) | POLLHUP;
    tls_readable = SSL_has_pending(ssl) == 1 || (fds[0].revents & tls_ready) != 0;
    plain_readable = (fds[1].revents & (POLLIN | POLLHUP)) != 0;
  }
}

}  // namespace signet::proxy
