// Pump: copies bytes both ways between a TLS connection and a plain socket until both
// directions have ended. Both sockets are non-blocking and each direction has its own buffer,
// so a peer that is not reading never stops the other direction (no deadlock when both sides
// write at once). A clean end on one side is passed on as a half-close (close_notify to the TLS
// peer, shutdown(SHUT_WR) to the plain one); an error on either side ends both.
#ifndef SIGNET_PROXY_PUMP_H_
#define SIGNET_PROXY_PUMP_H_

#include <openssl/ssl.h>

#include <cstdint>

namespace signet::proxy {

struct PumpResult {
  uint64_t from_tls = 0;  // bytes read from the TLS peer (written to the plain side)
  uint64_t to_tls = 0;    // bytes written to the TLS peer
  bool clean = true;      // false when it ended on an error rather than two clean ends
};

// `tls_fd` is the socket under `ssl` (handshake done); both sockets must be non-blocking.
PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd);

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PUMP_H_
