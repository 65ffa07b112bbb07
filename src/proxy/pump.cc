#include "src/proxy/pump.h"

#include <openssl/err.h>
#include <poll.h>
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

PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd) {
  PumpResult result;
  Buffer to_plain;          // read from the TLS peer
  Buffer to_tls;            // read from the plain side
  bool tls_open = true;     // the TLS peer may still send
  bool plain_open = true;   // the plain side may still send
  bool shut_plain = false;  // the TLS peer ended: shut the plain side's write half once drained
  bool shut_tls = false;    // the plain side ended: send close_notify once drained
  bool read_wants_write = false;
  bool write_wants_read = false;
  auto fail = [&result] {
    result.clean = false;
    return result;
  };
  for (;;) {
    bool progress = false;
    if (tls_open && to_plain.empty() &&
        !TakeRead(ReadTls(ssl, to_plain, &read_wants_write), &tls_open, &shut_plain, &progress)) {
      return fail();
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
    if (plain_open && to_tls.empty() &&
        !TakeRead(ReadPlain(plain_fd, to_tls), &plain_open, &shut_tls, &progress)) {
      return fail();
    }
    if (!to_tls.empty()) {
      const Io io = WriteTls(ssl, to_tls, &write_wants_read, &result.to_tls);
      if (io == Io::kError) return fail();
      progress |= io == Io::kProgress;
    }
    if (shut_tls && to_tls.empty()) {
      ERR_clear_error();
      SSL_shutdown(ssl);  // best effort: the peer sees our end and may still send
      shut_tls = false;
    }
    if (!tls_open && !plain_open && to_plain.empty() && to_tls.empty()) return result;
    if (progress || (tls_open && to_plain.empty() && SSL_pending(ssl) > 0)) continue;

    short tls_events = 0;
    if (tls_open && to_plain.empty()) tls_events |= read_wants_write ? POLLOUT : POLLIN;
    if (!to_tls.empty()) tls_events |= write_wants_read ? POLLIN : POLLOUT;
    short plain_events = 0;
    if (plain_open && to_tls.empty()) plain_events |= POLLIN;
    if (!to_plain.empty()) plain_events |= POLLOUT;
    pollfd fds[2] = {{tls_events != 0 ? tls_fd : -1, tls_events, 0},
                     {plain_events != 0 ? plain_fd : -1, plain_events, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return fail();
    // An error on a socket we only wait to write to would wake poll at once, forever.
    if ((fds[0].revents | fds[1].revents) & (POLLERR | POLLNVAL)) return fail();
  }
}

}  // namespace signet::proxy
