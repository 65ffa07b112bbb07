// A reference for bench/proxy: the same client -> server tunnel built from nginx's stream module
// (Debian's nginx with libnginx-mod-stream), run in the same bench beside `signet proxy`.
//   plaintext in -> nginx "client" --mTLS (the bench's SVID files)--> nginx "server" -> backend
// With `tls` false the middle hop is plain TCP too: the cost of the two extra hops alone, which
// no proxy pair can go below.
#ifndef SIGNET_BENCH_PROXY_NGINX_PAIR_H_
#define SIGNET_BENCH_PROXY_NGINX_PAIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/common/bench_support.h"

namespace signet::bench {

struct NginxPairFiles {
  std::string chain_pem;   // the SVID's chain, leaf first; its DNS SAN is "localhost"
  std::string key_pem;     // its private key
  std::string bundle_pem;  // the trust domain's X.509 authorities
};

class NginxPair {
 public:
  // Writes the files and configurations under `dir` (prefixed with `name`), starts both nginx
  // instances with `workers` worker processes each ("auto": one per CPU) and waits until the
  // client side accepts connections.
  static absl::StatusOr<std::unique_ptr<NginxPair>> Start(const TempDir& dir,
                                                          const std::string& name,
                                                          const NginxPairFiles& files,
                                                          int backend_port, bool tls,
                                                          const std::string& workers);
  ~NginxPair();
  NginxPair(const NginxPair&) = delete;
  NginxPair& operator=(const NginxPair&) = delete;

  // Where the load generator connects (127.0.0.1), plaintext.
  int client_port() const { return client_port_; }

 private:
  NginxPair() = default;
  int client_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<ServerProcess> client_;
};

}  // namespace signet::bench

#endif  // SIGNET_BENCH_PROXY_NGINX_PAIR_H_
