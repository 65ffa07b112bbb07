// CaManager: the server's signing authorities for its own trust domain. It holds two sets of
// slots (X.509 root CAs and JWT signing keys), rotates them on Tick() along a fixed timeline,
// publishes every change of the set of authorities as the trust domain's bundle, and signs
// X509-SVIDs and JWT-SVIDs with the active keys. See docs/ca.md for the states and the timeline.
//
// Durability: the CA journal (CaJournalStore) is the record of which keys exist and in which
// state; the key manager holds the private keys; the bundle (BundleStore) is derived from the
// journal and rewritten, with spiffe_sequence + 1, whenever the set of authorities changes. Every
// change is written to the journal first, then to the bundle. A key signs only once it is in the
// published bundle.
//
// Ownership: the clock, key manager, journal and bundle store passed in the options are borrowed
// and must outlive the CaManager.
//
// Threading: every method may be called from any thread. Changes (Tick and the admin operations)
// are serialized by one mutex and may block on key generation and the datastore; the signing and
// read methods only copy a snapshot pointer under a second mutex and never wait for a change.
#ifndef SIGNET_SERVER_CA_CA_MANAGER_H_
#define SIGNET_SERVER_CA_CA_MANAGER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/clock.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/server/ca/key_manager.h"
#include "src/server/ca/slot_machine.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

// The subject of the CA certificates. Values may not contain ',' or '='; at least one is set.
struct CaSubject {
  std::string country;                  // "C"
  std::string organization = "Signet";  // "O"
  std::string common_name;              // "CN"
};

struct CaManagerOptions {
  spiffe::TrustDomain trust_domain;
  Clock& clock;
  KeyManager& key_manager;
  CaJournalStore& journal;
  BundleStore& bundle_store;
  crypto::KeyType ca_key_type = crypto::KeyType::kEcP256;
  absl::Duration ca_ttl = absl::Hours(24);  // at least one minute
  CaSubject ca_subject;
  crypto::KeyType jwt_key_type = crypto::KeyType::kEcP256;
  absl::Duration jwt_key_ttl = absl::ZeroDuration();       // zero: ca_ttl
  absl::Duration default_x509_svid_ttl = absl::Hours(1);   // for requests with ttl zero
  absl::Duration default_jwt_svid_ttl = absl::Minutes(5);  // for requests with ttl zero
  absl::Duration bundle_refresh_hint = absl::Minutes(5);   // spiffe_refresh_hint, whole seconds
};

struct X509SvidRequest {
  spiffe::SpiffeId spiffe_id;  // in the trust domain, with a path
  crypto::PublicKey public_key;
  absl::Duration ttl = absl::ZeroDuration();  // zero: the default
  std::vector<std::string> dns_names;
};

struct JwtSvidRequest {
  spiffe::SpiffeId spiffe_id;                 // in the trust domain, with a path
  std::vector<std::string> audience;          // at least one
  absl::Duration ttl = absl::ZeroDuration();  // zero: the default
};

// One slot as the admin API shows it.
struct CaSlotInfo {
  std::string key_id;  // the key manager's id; for JWT keys also the kid
  CaKeyKind kind = CaKeyKind::kX509;
  CaSlotState state = CaSlotState::kPrepared;
  std::string key_type;  // "ec-p256", ...
  absl::Time not_before;
  absl::Time not_after;
  std::string subject_key_id;  // X.509: lowercase hex SKI of the CA certificate; JWT: ""
  bool can_sign = false;       // the key manager holds the private key
  bool published = false;      // the authority is in the published bundle
};

class CaManager {
 public:
  // Create validates `options`, loads the journal and the keys, publishes the bundle if it
  // differs from the stored one, and on first start (no active key) generates and activates
  // keys. InvalidArgument for bad options; DataLoss when the journal, a key or the stored
  // bundle fails validation; the datastore's or key manager's error otherwise.
  static absl::StatusOr<std::unique_ptr<CaManager>> Create(const CaManagerOptions& options);

  CaManager(const CaManager&) = delete;
  CaManager& operator=(const CaManager&) = delete;
  ~CaManager();

  const spiffe::TrustDomain& trust_domain() const { return options_.trust_domain; }

  // Tick applies the rotation timeline at the clock's time (see docs/ca.md) and republishes the
  // bundle if an earlier write failed. Call it periodically (every few seconds). Returns the
  // first error; the state stays consistent with the journal and a later Tick retries.
  absl::Status Tick();

  // SignX509Svid issues a leaf X509-SVID with the active CA. Returns the chain, leaf first (the
  // root is not included: it is in the bundle). The validity ends at now + ttl or at the CA's
  // NotAfter, whichever is earlier. InvalidArgument for a bad request; Unavailable when no
  // published key can sign.
  absl::StatusOr<std::vector<crypto::Certificate>> SignX509Svid(
      const X509SvidRequest& request) const;
  // SignJwtSvid mints a JWT-SVID with the active JWT key; exp is capped at the key's not_after.
  absl::StatusOr<std::string> SignJwtSvid(const JwtSvidRequest& request) const;

  // The published bundle of the trust domain (what BundleStore holds), never null.
  std::shared_ptr<const spiffe::Bundle> Bundle() const;

  // Admin operations on one kind of key. Each writes the journal first, then the bundle.
  // Show lists the slots ordered by not_before.
  std::vector<CaSlotInfo> Show(CaKeyKind kind) const;
  // Prepare generates a prepared key (published in the bundle at once) unless one exists, and
  // returns the prepared slot.
  absl::StatusOr<CaSlotInfo> Prepare(CaKeyKind kind);
  // Activate makes the prepared key active and the active one old; returns the new active slot.
  // FailedPrecondition when nothing is prepared.
  absl::StatusOr<CaSlotInfo> Activate(CaKeyKind kind);
  // Taint marks an old key tainted: it stays in the bundle, but SVIDs it signed must be
  // re-signed. NotFound for an unknown key id; FailedPrecondition unless the key is old.
  absl::Status Taint(CaKeyKind kind, absl::string_view key_id);
  // Revoke removes a tainted key from the bundle, the journal and the key manager. NotFound for
  // an unknown key id; FailedPrecondition unless the key is tainted.
  absl::Status Revoke(CaKeyKind kind, absl::string_view key_id);

  // Whether `authority_id` names a tainted authority: the hex Subject Key Identifier of an X.509
  // CA (as found in an SVID's Authority Key Identifier; any case) or the kid of a JWT key.
  bool IsTainted(absl::string_view authority_id) const;
  // Lowercase hex SKIs of the tainted X.509 CAs.
  std::vector<std::string> TaintedX509AuthorityKeyIds() const;
  // Kids of the tainted JWT keys.
  std::vector<std::string> TaintedJwtKeyIds() const;

 private:
  struct Snapshot;

  CaManager(const CaManagerOptions& options, std::string subject);
  absl::Status Start() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status LoadPublishedBundle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RotateAll(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes the bundle if its authorities changed, then refreshes the snapshot.
  absl::Status Commit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  spiffe::Bundle BuildBundle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RefreshSnapshot() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SlotMachine& Machine(CaKeyKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const Snapshot> snapshot() const;

  const CaManagerOptions options_;
  const std::string subject_;  // "C=..,O=..,CN=.."

  absl::Mutex mu_;  // serializes changes
  SlotMachine x509_ ABSL_GUARDED_BY(mu_);
  SlotMachine jwt_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const spiffe::Bundle> published_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex snapshot_mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_CA_MANAGER_H_
