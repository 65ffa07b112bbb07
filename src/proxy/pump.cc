#include "src/proxy/pump.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace signet::proxy {
namespace {

constexpr int kBufferSize = 16 * 1024;  // one TLS record

bool WritePlain(int fd, const char* data, int size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<int>(n);
  }
  return true;
}

bool WriteTls(SSL* ssl, const char* data, int size) {
  while (size > 0) {
    const int n = SSL_write(ssl, data, size);
    if (n <= 0) {
      const int err = SSL_get_error(ssl, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
      return false;
    }
    data += n;
    size -= n;
  }
  return true;
}

}  // namespace

PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd) {
  PumpResult result;
  char buf[kBufferSize];
  bool tls_open = true;    // still reading from the TLS peer
  bool plain_open = true;  // still reading from the plain side
  while (tls_open || plain_open) {
    pollfd fds[2] = {{tls_open ? tls_fd : -1, POLLIN, 0}, {plain_open ? plain_fd : -1, POLLIN, 0}};
    const bool buffered = tls_open && SSL_pending(ssl) > 0;
    if (!buffered && poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (buffered || (tls_open && fds[0].revents != 0)) {
      const int n = SSL_read(ssl, buf, sizeof(buf));
      if (n > 0) {
        if (!WritePlain(plain_fd, buf, n)) break;
        result.from_tls += static_cast<uint64_t>(n);
      } else {
        const int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
        if (err != SSL_ERROR_ZERO_RETURN) break;  // not a clean close_notify: end both ways
        tls_open = false;
        shutdown(plain_fd, SHUT_WR);
      }
    }
    if (plain_open && fds[1].revents != 0) {
      ssize_t n;
      do {
        n = read(plain_fd, buf, sizeof(buf));
      } while (n < 0 && errno == EINTR);
      if (n > 0) {
        if (!WriteTls(ssl, buf, static_cast<int>(n))) break;
        result.to_tls += static_cast<uint64_t>(n);
      } else {
        plain_open = false;
        if (n < 0) break;
        SSL_shutdown(ssl);  // close_notify: the TLS peer sees our end, may still send
      }
    }
  }
  return result;
}

}  // namespace signet::proxy
