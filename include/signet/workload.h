// libsignet-client: SPIFFE identities for a C++ service, from the Workload API of the local
// Signet agent (or any SPIFFE Workload API).
//
//   auto source = signet::X509Source::Create({});          // $SPIFFE_ENDPOINT_SOCKET
//   if (!source.ok()) ...;
//   signet::X509Svid svid = (*source)->Svid().value();      // always the current one
//
// X509Source and JwtSource keep a Workload API stream open in a background thread, reconnect
// with exponential backoff when it breaks, and keep the last good SVIDs and bundles meanwhile
// (an SVID past its expiry is never handed out). All methods are thread-safe.
#ifndef SIGNET_WORKLOAD_H_
#define SIGNET_WORKLOAD_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace signet {

using SystemTime = std::chrono::system_clock::time_point;

// Where and how a source talks to the Workload API.
struct SourceOptions {
  // unix:///path, a bare absolute path, or tcp://IP:port. Empty:
  // $SPIFFE_ENDPOINT_SOCKET, else unix:///run/signet/agent.sock.
  std::string address;
  // How long Create() waits for the first update before it fails.
  std::chrono::milliseconds first_update_timeout{10000};
  // Reconnect backoff: doubles from `min_backoff` up to `max_backoff`, with jitter.
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // The time used for expiry and validation checks (tests inject one).
  std::function<SystemTime()> now = [] { return std::chrono::system_clock::now(); };
};

// One X509-SVID: the SPIFFE ID, the chain (leaf first) and its private key.
struct X509Svid {
  std::string spiffe_id;
  std::vector<std::string> chain_der;  // DER certificates, leaf first
  std::string private_key_der;         // PKCS#8; key material, never log it
  std::string hint;
  SystemTime expires_at;
  // PEM forms, for files or libraries that want them.
  std::string ChainPem() const;
  std::string PrivateKeyPem() const;
};

// The X.509 authorities of each trust domain the workload trusts (its own and federated ones).
using X509Bundles = std::map<std::string, std::vector<std::string>>;  // trust domain -> DER certs

struct X509Update {
  std::vector<X509Svid> svids;  // the default identity first
  X509Bundles bundles;
};

class X509Source {
 public:
  // Connects and waits for the first X509-SVID (options.first_update_timeout).
  static absl::StatusOr<std::shared_ptr<X509Source>> Create(SourceOptions options);
  virtual ~X509Source() = default;

  // The default X509-SVID (the first), or the one with `spiffe_id`. FailedPrecondition when it
  // has expired (the agent is unreachable for too long), NotFound for an unknown ID.
  virtual absl::StatusOr<X509Svid> Svid(const std::string& spiffe_id = "") const = 0;
  virtual std::vector<X509Svid> Svids() const = 0;
  virtual X509Bundles Bundles() const = 0;
  // The authorities of `trust_domain` ("example.org"); NotFound when it has none.
  virtual absl::StatusOr<std::vector<std::string>> BundleFor(
      const std::string& trust_domain) const = 0;
  // Calls `callback` once at once with the current state (on the calling thread), then after
  // every update (on the source's thread). Returns a handle for Unsubscribe. A callback must
  // not (un)subscribe, nor drop the last reference to the source.
  virtual int Subscribe(std::function<void(const X509Update&)> callback) = 0;
  virtual void Unsubscribe(int handle) = 0;
  // How many updates have arrived (rotations, bundle changes); for tests and status pages.
  virtual uint64_t updates() const = 0;
};

// What a validated JWT-SVID says.
struct JwtSvidClaims {
  std::string spiffe_id;
  std::vector<std::string> audience;
  SystemTime expires_at;
};

class JwtSource {
 public:
  // Connects and waits for the first JWT bundles (options.first_update_timeout).
  static absl::StatusOr<std::shared_ptr<JwtSource>> Create(SourceOptions options);
  virtual ~JwtSource() = default;

  // A JWT-SVID for `audience`, of the default identity or of `spiffe_id`.
  virtual absl::StatusOr<std::string> FetchToken(const std::string& audience,
                                                 const std::string& spiffe_id = "") const = 0;
  // Validates `token` locally against the watched JWT bundles: signature, expiry, and that its
  // audience contains `audience`. Unauthenticated with the reason otherwise.
  virtual absl::StatusOr<JwtSvidClaims> ValidateJwt(const std::string& token,
                                                    const std::string& audience) const = 0;
  // The JWT bundles, as JWK Set JSON per trust domain.
  virtual std::map<std::string, std::string> Bundles() const = 0;
  // Calls `callback` once at once with the current bundles (on the calling thread), then after
  // every bundle update (on the source's thread). Returns a handle for Unsubscribe. A callback
  // must not (un)subscribe, nor drop the last reference to the source.
  virtual int Subscribe(
      std::function<void(const std::map<std::string, std::string>&)> callback) = 0;
  virtual void Unsubscribe(int handle) = 0;
  virtual uint64_t updates() const = 0;
};

// Validates `token` against JWK Sets (trust domain -> JWK Set JSON) at time `now`.
absl::StatusOr<JwtSvidClaims> ValidateJwt(const std::string& token, const std::string& audience,
                                          const std::map<std::string, std::string>& jwks,
                                          SystemTime now = std::chrono::system_clock::now());

}  // namespace signet

#endif  // SIGNET_WORKLOAD_H_
