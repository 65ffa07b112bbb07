// ServerSvid: the server's own X509-SVID, spiffe://<trust domain>/signet/server, presented on the
// TCP listener (the admin API over mTLS, and the agent API).
//
// The SVID is signed by the CaManager for a fresh EC P-256 key. Tick() renews it once half of its
// lifetime has passed, when the CA that signed it has been tainted, or when it no longer verifies
// against the trust domain's bundle (its CA was revoked); and it rewrites the bundle when the
// bundle's sequence changes. gRPC reads the files through FileWatcherCertificateProvider
// (MtlsServerCredentials below), so a new SVID or bundle reaches new TLS handshakes within the
// provider's refresh interval without restarting the listener.
//
// Files under `dir` (created 0700; the server's alone):
//
//   svid.pem   -> current/svid.pem     the chain, leaf first (the root is in the bundle)
//   key.pem    -> current/key.pem      PKCS#8, mode 0600
//   bundle.pem -> current/bundle.pem   the trust domain's X.509 authorities
//   current    -> g<N>                 the generation in use
//   g<N>/                              one complete set of the three files
//
// gRPC reads the key and the chain as two files and asks for them to be replaced together. Every
// change therefore writes a whole new generation directory (each file fsynced), then points
// `current` at it with one rename(2): a reader that resolves the stable paths sees either the old
// or the new set, never a key with another SVID. The previous generation stays on disk until the
// next change (a reader may still be opening it); older ones are removed.
//
// Threading: every method may be called from any thread; Tick() calls are serialized.
// Ownership: the CaManager and the Clock are borrowed and must outlive the ServerSvid.
#ifndef SIGNET_SERVER_SERVER_SVID_H_
#define SIGNET_SERVER_SERVER_SVID_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace grpc {
class ServerCredentials;
}  // namespace grpc

namespace signet::server {

class CaManager;

// The DNS name every server SVID carries, so that TLS clients that check host names (rather than
// the SPIFFE ID in the URI SAN) can use it as their target name override.
inline constexpr char kServerSvidDnsName[] = "signet-server";

// spiffe://<td>/signet/server.
spiffe::SpiffeId ServerSpiffeId(const spiffe::TrustDomain& td);

struct ServerSvidOptions {
  CaManager& ca;
  Clock& clock;
  std::string dir;  // e.g. "<data_dir>/server-svid"; its parent must exist
  // DNS SANs besides kServerSvidDnsName (e.g. the listener's host name).
  std::vector<std::string> dns_names;
  absl::Duration ttl = absl::ZeroDuration();  // zero: the CA's default X509-SVID TTL
};

class ServerSvid {
 public:
  // Creates `dir` if needed, removes generations left by an earlier run, mints an SVID and writes
  // the files. Fails with the CA's error when it cannot sign, or with the file system's.
  static absl::StatusOr<std::unique_ptr<ServerSvid>> Create(const ServerSvidOptions& options);

  ServerSvid(const ServerSvid&) = delete;
  ServerSvid& operator=(const ServerSvid&) = delete;

  // Renews the SVID if it is due (see the file comment) and rewrites the bundle if it changed, at
  // the clock's time. Call it periodically (every few seconds). On failure the files keep the
  // last good SVID and bundle and the next Tick retries.
  absl::Status Tick();

  // The SVID the files hold; never null.
  std::shared_ptr<const spiffe::X509Svid> svid() const;
  // When Tick() renews the current SVID at the latest.
  absl::Time renew_at() const;

  // Stable paths (symbolic links into the current generation).
  std::string svid_path() const { return options_.dir + "/svid.pem"; }
  std::string key_path() const { return options_.dir + "/key.pem"; }
  std::string bundle_path() const { return options_.dir + "/bundle.pem"; }

 private:
  explicit ServerSvid(const ServerSvidOptions& options) : options_(options) {}
  absl::Status Init() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  // Why the current SVID must be replaced now; "" when it need not be.
  std::string RenewalReason(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);
  absl::StatusOr<std::shared_ptr<const spiffe::X509Svid>> Mint(absl::Time now) const;
  // Writes a new generation with `svid` and the CA's current bundle and makes it current.
  absl::Status Publish(std::shared_ptr<const spiffe::X509Svid> svid, absl::Time issued_at)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tick_mu_);

  const ServerSvidOptions options_;

  absl::Mutex tick_mu_;  // serializes Init and Tick, and owns the files
  uint64_t next_generation_ ABSL_GUARDED_BY(tick_mu_) = 1;
  std::string previous_generation_ ABSL_GUARDED_BY(tick_mu_);
  std::optional<uint64_t> written_bundle_sequence_ ABSL_GUARDED_BY(tick_mu_);

  mutable absl::Mutex mu_;  // guards the published state read by other threads
  std::shared_ptr<const spiffe::X509Svid> svid_ ABSL_GUARDED_BY(mu_);
  absl::Time renew_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// TLS server credentials for a listener that presents the server SVID and asks every client for
// a certificate chain: one that does not verify against bundle.pem fails the handshake; none at
// all is allowed (an agent about to attest has none). Both files are re-read from `svid` every
// `refresh_seconds`. Who may call what, and which methods work without a certificate, is decided
// per call by an AuthMetadataProcessor set on the result (SvidAuthProcessor).
std::shared_ptr<grpc::ServerCredentials> MtlsServerCredentials(const ServerSvid& svid,
                                                               unsigned int refresh_seconds = 1);

}  // namespace signet::server

#endif  // SIGNET_SERVER_SERVER_SVID_H_
