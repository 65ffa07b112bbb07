// What every admin API service needs: the datastore, the server's settings, the clock, and a way
// to name the caller and write the audit log. Also who may call over the TCP listener
// (SvidAuthProcessor) and the admin rule it applies there (ApiContext::AuthorizeAdmin).
#ifndef SIGNET_SERVER_API_API_CONTEXT_H_
#define SIGNET_SERVER_API_API_CONTEXT_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/crypto/certificate.h"
#include "src/rpc/uds_listener.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

class CaManager;

struct ApiSettings {
  spiffe::TrustDomain trust_domain;
  absl::Duration default_x509_svid_ttl = absl::Hours(1);
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);
  absl::Time started_at = absl::InfinitePast();
  // Callers allowed on the TCP listener besides the SPIFFE IDs of entries with admin: true.
  std::vector<spiffe::SpiffeId> admin_ids;
};

class ApiContext {
 public:
  ApiContext(ApiSettings settings, DataStore* store, CaManager* ca, const Clock* clock,
             const rpc::PeerRegistry* peers)
      : settings_(std::move(settings)), store_(store), ca_(ca), clock_(clock), peers_(peers) {}

  const ApiSettings& settings() const { return settings_; }
  DataStore& store() const { return *store_; }
  CaManager& ca() const { return *ca_; }
  absl::Time Now() const { return clock_->Now(); }

  // "uid:1000" for a caller on the admin socket; the SPIFFE ID of the client X509-SVID
  // ("spiffe://example.org/ops") for a caller on the TCP listener (which SvidAuthProcessor has
  // verified before the call reached a service); "unknown" otherwise.
  std::string CallerName(const grpc::ServerContext& ctx) const;

  // The admin rule of the TCP listener: OK when `caller` is in admin_ids or is the SPIFFE ID of a
  // registration entry with admin: true that has not expired. PermissionDenied otherwise;
  // Unavailable when the datastore cannot tell.
  absl::Status AuthorizeAdmin(const spiffe::SpiffeId& caller) const;

  // Appends an audit event. A failure to write it is logged (the action has already happened and
  // its result must still reach the caller).
  void Audit(const grpc::ServerContext& ctx, absl::string_view action, absl::string_view target,
             const absl::Status& result, absl::string_view detail = "") const;

 private:
  ApiSettings settings_;
  DataStore* store_;
  CaManager* ca_;
  const Clock* clock_;
  const rpc::PeerRegistry* peers_;
};

// The certificate chain a TLS peer presented, leaf first, from the "x509_pem_cert" (the leaf) and
// "x509_pem_cert_chain" properties of its AuthContext (on the server side the latter may or may
// not repeat the leaf). Unauthenticated when there is no certificate or it cannot be parsed.
absl::StatusOr<std::vector<crypto::Certificate>> PeerCertificateChain(
    const grpc::AuthContext& auth);

// Decides whether a verified caller may call a method; OK to allow, PermissionDenied (or another
// error) with the reason to refuse.
using SvidPolicy = std::function<absl::Status(const spiffe::SpiffeId& caller)>;

// One authorization rule: the policy for every method whose full name ("/package.Service/Method")
// starts with `method_prefix`.
struct SvidRule {
  std::string method_prefix;  // e.g. "/signet.admin.v1."
  SvidPolicy policy;          // unused when anonymous
  // The method needs no client certificate (agent attestation): the call goes through whether
  // or not the caller presented one, and the service decides.
  bool anonymous = false;
};

// Per-call authentication and authorization on the TCP listener, installed with
// ServerCredentials::SetAuthMetadataProcessor. The TLS handshake has already required a client
// certificate that chains to the bundle file; for every call this processor
//   1. takes the peer's chain from the connection's AuthContext,
//   2. verifies it as an X509-SVID (spiffe::VerifyX509Svid) against the trust domain's current
//      bundle (CaManager::Bundle) at the clock's time, so that an SVID that expires, or whose CA
//      is revoked, stops working on a connection opened before,
//   3. applies the policy of the first rule whose prefix matches the call's ":path"; a method
//      that no rule covers is refused. A rule marked anonymous skips 1–3 (the listener asks for
//      a client certificate but does not require one; only those methods work without).
// Unauthenticated for a missing or invalid SVID (the caller gets a terse message, the log the
// problems); the policy's error (PermissionDenied) for a refused caller.
//
// It never changes the AuthContext: gRPC shares one AuthContext between the concurrent calls of
// a connection, so a property added here would race. ApiContext::CallerName reads the SPIFFE ID
// from the verified leaf instead.
//
// Thread-safe; `api` is borrowed and must outlive the processor (and the server using it).
class SvidAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  SvidAuthProcessor(const ApiContext* api, std::vector<SvidRule> rules)
      : api_(api), rules_(std::move(rules)) {}

  // The checks above for a call of `method` on a connection with `auth`; returns the caller.
  absl::StatusOr<spiffe::SpiffeId> Authorize(absl::string_view method,
                                             const grpc::AuthContext& auth) const;
  // Whether the first rule for `method` is anonymous.
  bool IsAnonymous(absl::string_view method) const;

  // grpc::AuthMetadataProcessor:
  // Blocking: the policy may read the datastore, so gRPC runs Process on its own thread pool.
  bool IsBlocking() const override { return true; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const ApiContext* api_;
  const std::vector<SvidRule> rules_;
};

// absl -> gRPC status (the codes map 1:1).
grpc::Status ToGrpc(const absl::Status& status);

// "ok", "invalid_argument", ... for audit records.
std::string ResultName(const absl::Status& status);

}  // namespace signet::server

#endif  // SIGNET_SERVER_API_API_CONTEXT_H_
