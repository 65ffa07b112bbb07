// CaSlot: one signing key of the CA manager (an X.509 CA or a JWT key) as the journal records it,
// with the material loaded for it. Helpers create slots for new keys, rebuild slots from journal
// records (validating everything read back), and turn slots into bundle authorities.
//
// Internal to src/server/ca. CaSlot is a value type; copies share the underlying key objects.
#ifndef SIGNET_SERVER_CA_CA_SLOT_H_
#define SIGNET_SERVER_CA_CA_SLOT_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/server/ca/key_manager.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace signet::server {

struct CaSlot {
  CaKeyRecord record;
  std::optional<crypto::Certificate> certificate;       // kX509: the self-signed CA certificate
  std::optional<crypto::PublicKey> public_key;          // always set
  std::optional<crypto::PrivateKey> private_key;        // nullopt when the key manager lost the key
  std::shared_ptr<const spiffe::JwtSigner> jwt_signer;  // kJwt, when the private key is present
  std::string subject_key_id;  // kX509: lowercase hex Subject Key Identifier

  const std::string& key_id() const { return record.key_id; }
  CaSlotState state() const { return record.state; }
  bool CanSign() const { return private_key.has_value(); }
  absl::Duration Lifetime() const { return record.not_after - record.not_before; }
};

// 32 characters of base64url from 24 random bytes: a valid key id and a JWT kid.
absl::StatusOr<std::string> RandomKeyId();

// Whether `info` describes a key of `type`.
bool KeyMatchesType(const crypto::KeyInfo& info, crypto::KeyType type);

// A slot for a freshly generated X.509 CA key: issues the self-signed CA certificate.
absl::StatusOr<CaSlot> NewX509Slot(const std::string& key_id, CaSlotState state,
                                   crypto::KeyType type, const crypto::PrivateKey& key,
                                   const spiffe::CaParams& params, absl::Time now);
// A slot for a freshly generated JWT key, valid from `now` (whole seconds) for `ttl`.
absl::StatusOr<CaSlot> NewJwtSlot(const std::string& key_id, CaSlotState state,
                                  crypto::KeyType type, const crypto::PrivateKey& key,
                                  absl::Duration ttl, absl::Time now);

// Rebuilds a slot from a journal record of kind `kind` and fetches its private key from `keys`.
// DataLoss when the record is malformed, its certificate is not a CA of `td`, or the stored key
// does not match the record's public key. A key the key manager does not have (NotFound) leaves
// `private_key` empty; other key manager errors are returned.
absl::StatusOr<CaSlot> LoadSlot(const CaKeyRecord& record, CaKeyKind kind,
                                const spiffe::TrustDomain& td, KeyManager& keys);

// Adds the slot's authority (the CA certificate, or the JWT key under its kid) to `bundle`.
absl::Status AddAuthority(const CaSlot& slot, spiffe::Bundle& bundle);
// Whether `bundle` holds the slot's authority.
bool BundleHasAuthority(const spiffe::Bundle& bundle, const CaSlot& slot);
// Whether two bundles hold the same authorities and refresh hint; order and sequence are ignored.
bool SameContent(const spiffe::Bundle& a, const spiffe::Bundle& b);

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_CA_SLOT_H_
