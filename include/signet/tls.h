// libsignet-client TLS helpers: OpenSSL SSL_CTXs for mutual TLS between SPIFFE workloads.
//
//   auto source = signet::X509Source::Create({}).value();
//   auto ctx = signet::NewMtlsServerContext(
//       source, signet::AuthorizeMemberOf("example.org")).value();
//   SSL* ssl = SSL_new(ctx.get()); ...                      // plain OpenSSL from here on
//   std::string peer = signet::PeerSpiffeId(ssl);            // after the handshake
//
// Each handshake presents the source's current X509-SVID, so rotated SVIDs are used by new
// connections without a restart while open ones carry on. The peer's chain is verified against
// the bundle of the peer's own trust domain (SPIFFE X509-SVID rules: exactly one SPIFFE ID URI
// SAN, a leaf that is not a CA), then the authorizer decides. TLS 1.2 at least.
#ifndef SIGNET_TLS_H_
#define SIGNET_TLS_H_

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "signet/workload.h"

namespace signet {

// Decides whether a verified peer (its SPIFFE ID) may talk to us: OK or PermissionDenied with
// the reason.
using Authorizer = std::function<absl::Status(const std::string& peer_id)>;

Authorizer AuthorizeAny();
Authorizer AuthorizeId(std::string spiffe_id);
Authorizer AuthorizeOneOf(std::vector<std::string> spiffe_ids);
// Any SPIFFE ID of `trust_domain` ("example.org").
Authorizer AuthorizeMemberOf(std::string trust_domain);
// A custom rule: `allowed(peer_id)` true lets the peer in.
Authorizer AuthorizeIf(std::function<bool(const std::string& peer_id)> allowed);

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

struct TlsOptions {
  // The time peer certificates are checked at (tests inject one).
  std::function<SystemTime()> now = [] { return std::chrono::system_clock::now(); };
};

// A server context: presents the current SVID, requires and verifies a client SVID.
absl::StatusOr<SslCtxPtr> NewMtlsServerContext(std::shared_ptr<X509Source> source,
                                               Authorizer authorize,
                                               const TlsOptions& options = {});
// A client context: presents the current SVID, verifies the server's SVID.
absl::StatusOr<SslCtxPtr> NewMtlsClientContext(std::shared_ptr<X509Source> source,
                                               Authorizer authorize,
                                               const TlsOptions& options = {});

// The verified peer's SPIFFE ID once the handshake is done; empty before or when it failed.
std::string PeerSpiffeId(const SSL* ssl);
// Why the peer was refused (verification or authorization), when it was; else empty.
std::string PeerError(const SSL* ssl);
// The SPIFFE ID of a peer whose SVID verified but whom the authorizer refused; else empty.
std::string RefusedPeerId(const SSL* ssl);

}  // namespace signet

#endif  // SIGNET_TLS_H_
