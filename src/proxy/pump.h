// Pump: copies bytes both ways between a TLS connection and a plain socket until both
// directions have ended. Both sockets are non-blocking and each direction has its own buffer,
// so a peer that is not reading never stops the other direction (no deadlock when both sides
// write at once). A clean end on one side is passed on as a half-close (close_notify to the TLS
// peer, shutdown(SHUT_WR) to the plain one); an error on either side ends both.
#ifndef SIGNET_PROXY_PUMP_H_
#define SIGNET_PROXY_PUMP_H_

#include <openssl/ssl.h>
#include <signal.h>

#include <cstdint>

namespace signet::proxy {

struct PumpResult {
  uint64_t from_tls = 0;  // bytes read from the TLS peer (written to the plain side)
  uint64_t to_tls = 0;    // bytes written to the TLS peer
  bool clean = true;      // false when it ended on an error rather than two clean ends
};

// `tls_fd` is the socket under `ssl` (handshake done); both sockets must be non-blocking.
// SIGPIPE is blocked on the calling thread meanwhile (ScopedSigpipeBlock).
PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd);

// Blocks SIGPIPE on this thread while it lives. OpenSSL writes to its socket with write(), not
// send(MSG_NOSIGNAL), so a peer that has gone (an alert after an unexpected EOF, a write after a
// reset) would otherwise raise SIGPIPE and end the whole process. A SIGPIPE raised meanwhile is
// discarded when the outermost block ends.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
};

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PUMP_H_
