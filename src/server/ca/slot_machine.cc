#include "src/server/ca/slot_machine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

bool SlotOrder(const CaSlot& a, const CaSlot& b) {
  return std::tie(a.record.not_before, a.record.key_id) <
         std::tie(b.record.not_before, b.record.key_id);
}

absl::Duration Remaining(const CaSlot& slot, absl::Time now) { return slot.record.not_after - now; }

// Whether the slot can be the active signer at `now`.
bool UsableAt(const CaSlot& slot, absl::Time now) {
  return slot.CanSign() && slot.record.not_after > now;
}

// Deletion is idempotent: a key or record that is already gone is what was asked for.
absl::Status IgnoreNotFound(const absl::Status& status) {
  return absl::IsNotFound(status) ? absl::OkStatus() : status;
}

}  // namespace

const CaSlot* SlotMachine::Find(CaSlotState state) const {
  auto it = std::find_if(slots_.begin(), slots_.end(),
                         [state](const CaSlot& slot) { return slot.state() == state; });
  return it == slots_.end() ? nullptr : &*it;
}

CaSlot* SlotMachine::FindMutable(CaSlotState state) {
  return const_cast<CaSlot*>(static_cast<const SlotMachine*>(this)->Find(state));
}

CaSlot* SlotMachine::FindById(absl::string_view key_id) {
  auto it = std::find_if(slots_.begin(), slots_.end(),
                         [key_id](const CaSlot& slot) { return slot.key_id() == key_id; });
  return it == slots_.end() ? nullptr : &*it;
}

std::string SlotMachine::Describe(absl::string_view key_id) const {
  return absl::StrCat(CaKeyKindName(kind_), " key \"", key_id, "\"");
}

absl::Status SlotMachine::CheckUnique() const {
  for (CaSlotState state : {CaSlotState::kActive, CaSlotState::kPrepared}) {
    auto count = std::count_if(slots_.begin(), slots_.end(),
                               [state](const CaSlot& slot) { return slot.state() == state; });
    if (count > 1) {
      return absl::DataLossError(absl::StrCat("ca: journal has ", count, " ",
                                              CaSlotStateName(state), " ", CaKeyKindName(kind_),
                                              " keys; at most one allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status SlotMachine::Load(const spiffe::TrustDomain& td) {
  slots_.clear();
  SIGNET_ASSIGN_OR_RETURN(std::vector<CaKeyRecord> records, journal_.ListCaKeys(kind_));
  for (const CaKeyRecord& record : records) {
    if (record.state == CaSlotState::kRevoked) {
      // Never written by this code; whatever wrote it wanted the key gone.
      SIGNET_RETURN_IF_ERROR(Remove(record.key_id));
      continue;
    }
    SIGNET_ASSIGN_OR_RETURN(CaSlot slot, LoadSlot(record, kind_, td, keys_));
    slots_.push_back(std::move(slot));
  }
  std::sort(slots_.begin(), slots_.end(), SlotOrder);
  SIGNET_RETURN_IF_ERROR(CheckUnique());
  for (CaSlot& slot : slots_) {
    bool signer = slot.state() == CaSlotState::kActive || slot.state() == CaSlotState::kPrepared;
    if (signer && !slot.CanSign()) {
      SIGNET_RETURN_IF_ERROR(SetState(slot, CaSlotState::kOld));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CaSlot*> SlotMachine::Mint(CaSlotState state, absl::Time now) {
  SIGNET_ASSIGN_OR_RETURN(std::string key_id, RandomKeyId());
  absl::StatusOr<crypto::PrivateKey> key = keys_.Generate(key_id, key_type_);
  absl::StatusOr<CaSlot> slot = key.ok() ? mint_(key_id, state, *key, now) : key.status();
  absl::Status status = slot.ok() ? journal_.PutCaKey(slot->record) : slot.status();
  if (!status.ok()) {
    // Best effort, also after a failed Generate (a key may have been stored all the same): no
    // journal record refers to the key.
    (void)keys_.Delete(key_id);
    return Annotate(status, absl::StrCat("ca: create ", Describe(key_id)));
  }
  auto it = std::upper_bound(slots_.begin(), slots_.end(), *slot, SlotOrder);
  return &*slots_.insert(it, *std::move(slot));
}

absl::Status SlotMachine::SetState(CaSlot& slot, CaSlotState state) {
  CaKeyRecord record = slot.record;
  record.state = state;
  SIGNET_RETURN_IF_ERROR(
      Annotate(journal_.PutCaKey(record), absl::StrCat("ca: update ", Describe(slot.key_id()))));
  slot.record.state = state;
  return absl::OkStatus();
}

absl::Status SlotMachine::Remove(absl::string_view key_id) {
  std::string what = Describe(key_id);
  // The private key goes first: if the journal write then fails, a retry finds the record
  // again, and a record without its key can never sign.
  SIGNET_RETURN_IF_ERROR(
      Annotate(IgnoreNotFound(keys_.Delete(key_id)), absl::StrCat("ca: delete ", what)));
  CaSlot* slot = FindById(key_id);
  if (slot != nullptr) {
    slot->private_key.reset();
    slot->jwt_signer.reset();
  }
  SIGNET_RETURN_IF_ERROR(
      Annotate(IgnoreNotFound(journal_.DeleteCaKey(key_id)), absl::StrCat("ca: delete ", what)));
  std::erase_if(slots_, [key_id](const CaSlot& s) { return s.key_id() == key_id; });
  return absl::OkStatus();
}

// Demotes first, then promotes: a failure in between leaves no active key and one prepared key,
// which the next Rotate (or a restart) activates, never two active keys.
absl::Status SlotMachine::Promote(CaSlot& prepared) {
  if (CaSlot* active = FindMutable(CaSlotState::kActive); active != nullptr) {
    SIGNET_RETURN_IF_ERROR(SetState(*active, CaSlotState::kOld));
  }
  return SetState(prepared, CaSlotState::kActive);
}

absl::Status SlotMachine::EnsureActive(absl::Time now) {
  CaSlot* active = FindMutable(CaSlotState::kActive);
  if (active != nullptr && UsableAt(*active, now)) {
    return absl::OkStatus();
  }
  if (active != nullptr) {
    SIGNET_RETURN_IF_ERROR(SetState(*active, CaSlotState::kOld));
  }
  CaSlot* prepared = FindMutable(CaSlotState::kPrepared);
  if (prepared != nullptr && UsableAt(*prepared, now)) {
    return SetState(*prepared, CaSlotState::kActive);
  }
  if (prepared != nullptr) {
    SIGNET_RETURN_IF_ERROR(SetState(*prepared, CaSlotState::kOld));
  }
  return Mint(CaSlotState::kActive, now).status();
}

absl::Status SlotMachine::ActivateIfDue(absl::Time now, const spiffe::Bundle& published) {
  const CaSlot* active = Find(CaSlotState::kActive);
  CaSlot* prepared = FindMutable(CaSlotState::kPrepared);
  if (active == nullptr || prepared == nullptr || !UsableAt(*prepared, now)) {
    return absl::OkStatus();
  }
  if (Remaining(*active, now) > active->Lifetime() / 6) {
    return absl::OkStatus();
  }
  // A key signs only after agents could have fetched it: wait for the next tick otherwise.
  if (!BundleHasAuthority(published, *prepared)) {
    return absl::OkStatus();
  }
  return Promote(*prepared);
}

absl::Status SlotMachine::PrepareIfDue(absl::Time now) {
  const CaSlot* active = Find(CaSlotState::kActive);
  if (active == nullptr || Find(CaSlotState::kPrepared) != nullptr) {
    return absl::OkStatus();
  }
  if (Remaining(*active, now) > active->Lifetime() / 2) {
    return absl::OkStatus();
  }
  return Mint(CaSlotState::kPrepared, now).status();
}

absl::Status SlotMachine::PruneExpired(absl::Time now) {
  std::vector<std::string> expired;
  for (const CaSlot& slot : slots_) {
    if (slot.state() != CaSlotState::kActive && slot.record.not_after <= now) {
      expired.push_back(slot.key_id());
    }
  }
  for (const std::string& key_id : expired) {
    SIGNET_RETURN_IF_ERROR(Remove(key_id));
  }
  return absl::OkStatus();
}

absl::Status SlotMachine::Rotate(absl::Time now, const spiffe::Bundle& published) {
  SIGNET_RETURN_IF_ERROR(EnsureActive(now));
  SIGNET_RETURN_IF_ERROR(ActivateIfDue(now, published));
  SIGNET_RETURN_IF_ERROR(PrepareIfDue(now));
  return PruneExpired(now);
}

absl::StatusOr<CaSlot> SlotMachine::Prepare(absl::Time now) {
  if (const CaSlot* prepared = Find(CaSlotState::kPrepared); prepared != nullptr) {
    return *prepared;
  }
  SIGNET_ASSIGN_OR_RETURN(CaSlot * slot, Mint(CaSlotState::kPrepared, now));
  return *slot;
}

absl::StatusOr<CaSlot> SlotMachine::Activate(const spiffe::Bundle& published) {
  CaSlot* prepared = FindMutable(CaSlotState::kPrepared);
  if (prepared == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("ca: no prepared ", CaKeyKindName(kind_),
                                                      " key to activate; prepare one first"));
  }
  if (!BundleHasAuthority(published, *prepared)) {
    return absl::FailedPreconditionError(absl::StrCat("ca: prepared ", Describe(prepared->key_id()),
                                                      " is not in the published bundle yet"));
  }
  SIGNET_RETURN_IF_ERROR(Promote(*prepared));
  return *prepared;
}

absl::Status SlotMachine::Taint(absl::string_view key_id) {
  CaSlot* slot = FindById(key_id);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("ca: no ", Describe(key_id)));
  }
  switch (slot->state()) {
    case CaSlotState::kOld:
      return SetState(*slot, CaSlotState::kTainted);
    case CaSlotState::kActive:
      return absl::FailedPreconditionError(
          absl::StrCat("ca: ", Describe(key_id),
                       " is active; prepare and activate a new key before tainting it"));
    case CaSlotState::kTainted:
      return absl::FailedPreconditionError(
          absl::StrCat("ca: ", Describe(key_id), " is already tainted"));
    default:
      return absl::FailedPreconditionError(absl::StrCat("ca: ", Describe(key_id), " is ",
                                                        CaSlotStateName(slot->state()),
                                                        "; only an old key can be tainted"));
  }
}

absl::Status SlotMachine::Revoke(absl::string_view key_id) {
  CaSlot* slot = FindById(key_id);
  if (slot == nullptr) {
    return absl::NotFoundError(absl::StrCat("ca: no ", Describe(key_id)));
  }
  if (slot->state() != CaSlotState::kTainted) {
    return absl::FailedPreconditionError(absl::StrCat("ca: ", Describe(key_id), " is ",
                                                      CaSlotStateName(slot->state()),
                                                      "; only a tainted key can be revoked"));
  }
  return Remove(key_id);
}

}  // namespace signet::server
