// SlotMachine: the slots of one kind of signing key (X.509 CA or JWT) and the rules that move
// them between states, each move written to the CA journal before it is applied in memory:
//
//   (new) -> prepared -> active -> old -> tainted -> (revoked: deleted)
//                                    \-> (expired: deleted)
//
// At most one slot is prepared and at most one active. The in-memory slots always equal what the
// journal holds, also when a step fails halfway (each journal write is applied as it succeeds).
//
// Internal to src/server/ca. Not thread-safe: the CaManager serializes every call with its
// mutation mutex. The key manager and journal must outlive the SlotMachine.
#ifndef SIGNET_SERVER_CA_SLOT_MACHINE_H_
#define SIGNET_SERVER_CA_SLOT_MACHINE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/crypto/key.h"
#include "src/server/ca/ca_slot.h"
#include "src/server/ca/key_manager.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/bundle.h"

namespace signet::server {

class SlotMachine {
 public:
  // Builds the slot for a freshly generated key (issues the CA certificate, or sets the JWT
  // key's validity).
  using MintFn = std::function<absl::StatusOr<CaSlot>(
      const std::string& key_id, CaSlotState state, const crypto::PrivateKey& key, absl::Time now)>;

  SlotMachine(CaKeyKind kind, crypto::KeyType key_type, MintFn mint, KeyManager& keys,
              CaJournalStore& journal)
      : kind_(kind), key_type_(key_type), mint_(std::move(mint)), keys_(keys), journal_(journal) {}

  // Load replaces the slots with the journal's records of this kind, validated against `td` and
  // the key manager (DataLoss for a bad record, a key that does not match its record, or two
  // active or two prepared keys). A prepared or active key the key manager no longer has is
  // demoted to old: it stays in the bundle until it expires, but never signs again.
  absl::Status Load(const spiffe::TrustDomain& td);

  // Rotate applies the timeline at `now`: makes sure an active key that can sign exists
  // (activating the prepared key, or generating a key when there is none); activates the
  // prepared key once at most 1/6 of the active key's lifetime is left, provided the prepared key
  // is already in `published`; prepares a key once at most 1/2 is left; deletes old, tainted and
  // prepared keys that have expired.
  absl::Status Rotate(absl::Time now, const spiffe::Bundle& published);

  // Prepare returns the prepared slot, generating one first when there is none.
  absl::StatusOr<CaSlot> Prepare(absl::Time now);
  // Activate makes the prepared slot active and the active one old. FailedPrecondition when no
  // key is prepared or the prepared key is not yet in `published`.
  absl::StatusOr<CaSlot> Activate(const spiffe::Bundle& published);
  // Taint marks an old key tainted. NotFound for an unknown id; FailedPrecondition for a key in
  // any other state.
  absl::Status Taint(absl::string_view key_id);
  // Revoke deletes a tainted key (private key, then journal record). NotFound for an unknown id;
  // FailedPrecondition for a key that is not tainted.
  absl::Status Revoke(absl::string_view key_id);

  // Ordered by not_before, then key id.
  const std::vector<CaSlot>& slots() const { return slots_; }
  // The slot in `state` (prepared or active), or nullptr.
  const CaSlot* Find(CaSlotState state) const;

 private:
  CaSlot* FindMutable(CaSlotState state);
  CaSlot* FindById(absl::string_view key_id);
  absl::Status CheckUnique() const;
  absl::StatusOr<CaSlot*> Mint(CaSlotState state, absl::Time now);
  absl::Status SetState(CaSlot& slot, CaSlotState state);
  absl::Status Remove(absl::string_view key_id);
  absl::Status Promote(CaSlot& prepared);
  absl::Status EnsureActive(absl::Time now);
  absl::Status ActivateIfDue(absl::Time now, const spiffe::Bundle& published);
  absl::Status PrepareIfDue(absl::Time now);
  absl::Status PruneExpired(absl::Time now);
  std::string Describe(absl::string_view key_id) const;

  const CaKeyKind kind_;
  const crypto::KeyType key_type_;
  const MintFn mint_;
  KeyManager& keys_;
  CaJournalStore& journal_;
  std::vector<CaSlot> slots_;
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_CA_SLOT_MACHINE_H_
