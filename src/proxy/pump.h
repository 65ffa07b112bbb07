// Pump: copies bytes both ways between a TLS connection and a plain socket until both
// directions have ended. A clean end on one side is passed on as a half-close (close_notify to
// the TLS peer, shutdown(SHUT_WR) to the plain one); an error on either side ends both.
#ifndef SIGNET_PROXY_PUMP_H_
#define SIGNET_PROXY_PUMP_H_

#include <openssl/ssl.h>

#include <cstdint>

namespace signet::proxy {

struct PumpResult {
  uint64_t from_tls = 0;  // bytes read from the TLS peer (written to the plain side)
  uint64_t to_tls = 0;    // bytes written to the TLS peer
};

// `tls_fd` is the socket under `ssl` (blocking, handshake done); SSL_MODE_AUTO_RETRY must be
// off so that a read that only processed a non-application record returns to poll().
PumpResult Pump(SSL* ssl, int tls_fd, int plain_fd);

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_PUMP_H_
