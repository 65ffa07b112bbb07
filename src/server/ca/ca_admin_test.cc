// Forced rotation: Show, Prepare, Activate, Taint and Revoke, with every negative case.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/ca/testing/ca_fixture.h"
#include "src/spiffe/jwt_svid.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

using signet::testing::TestNow;
using testing::AuthorityKeyIdHex;
using testing::FakeCaStore;

constexpr CaKeyKind kX509 = CaKeyKind::kX509;
constexpr CaKeyKind kJwt = CaKeyKind::kJwt;

class CaAdminTest : public testing::CaManagerFixture {
 protected:
  void SetUp() override {
    ca_ = MustCreate();
    ASSERT_NE(ca_, nullptr);
  }

  // Prepares and activates a new key of `kind`; returns the key that became old.
  CaSlotInfo Rotate(CaKeyKind kind) {
    CaSlotInfo before = OneSlot(*ca_, kind, CaSlotState::kActive);
    EXPECT_TRUE(ca_->Prepare(kind).ok());
    EXPECT_TRUE(ca_->Activate(kind).ok());
    return before;
  }

  std::unique_ptr<CaManager> ca_;
};

TEST_F(CaAdminTest, ShowListsSlotsInOrder) {
  clock_.Advance(absl::Minutes(1));  // distinct not_before values make the order meaningful
  CaSlotInfo a = Rotate(kX509);
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(ca_->Prepare(kX509).ok());
  std::vector<CaSlotInfo> slots = ca_->Show(kX509);
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0].key_id, a.key_id);
  EXPECT_EQ(slots[0].state, CaSlotState::kOld);
  EXPECT_EQ(slots[1].state, CaSlotState::kActive);
  EXPECT_EQ(slots[2].state, CaSlotState::kPrepared);
  EXPECT_LT(slots[1].not_before, slots[2].not_before);
  for (const CaSlotInfo& slot : slots) {
    EXPECT_EQ(slot.kind, kX509);
    EXPECT_TRUE(slot.published && slot.can_sign);
    EXPECT_EQ(slot.not_after - slot.not_before, kCaTtl + absl::Seconds(10));
  }
  EXPECT_EQ(ca_->Show(kJwt).size(), 1u);
}

TEST_F(CaAdminTest, PrepareCreatesAPublishedKeyOnceAndIsIdempotent) {
  absl::StatusOr<CaSlotInfo> prepared = ca_->Prepare(kX509);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(prepared->state, CaSlotState::kPrepared);
  EXPECT_TRUE(prepared->published);
  EXPECT_EQ(StoredSequence(), 2u);
  EXPECT_EQ(store_.Record(prepared->key_id)->state, CaSlotState::kPrepared);
  EXPECT_EQ(ca_->Bundle()->x509_authorities().size(), 2u);

  absl::StatusOr<CaSlotInfo> again = ca_->Prepare(kX509);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key_id, prepared->key_id);
  EXPECT_EQ(StoredSequence(), 2u);
  EXPECT_EQ(store_.set_bundle_calls(), 2);

  // The prepared key does not sign; the JWT kind is untouched.
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca_);
  ASSERT_TRUE(chain.ok());
  EXPECT_NE(AuthorityKeyIdHex(chain->front()), prepared->subject_key_id);
  EXPECT_TRUE(SlotsIn(*ca_, kJwt, CaSlotState::kPrepared).empty());
}

TEST_F(CaAdminTest, ActivateWithoutPreparedKeyFails) {
  for (CaKeyKind kind : {kX509, kJwt}) {
    absl::StatusOr<CaSlotInfo> activated = ca_->Activate(kind);
    EXPECT_EQ(activated.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(store_.set_bundle_calls(), 1);
}

TEST_F(CaAdminTest, ActivateSwapsActiveAndOldWithoutChangingTheBundle) {
  for (CaKeyKind kind : {kX509, kJwt}) {
    CaSlotInfo a = OneSlot(*ca_, kind, CaSlotState::kActive);
    absl::StatusOr<CaSlotInfo> b = ca_->Prepare(kind);
    ASSERT_TRUE(b.ok());
    uint64_t sequence = StoredSequence();
    absl::StatusOr<CaSlotInfo> activated = ca_->Activate(kind);
    ASSERT_TRUE(activated.ok()) << activated.status();
    EXPECT_EQ(activated->key_id, b->key_id);
    EXPECT_EQ(activated->state, CaSlotState::kActive);
    EXPECT_EQ(OneSlot(*ca_, kind, CaSlotState::kOld).key_id, a.key_id);
    EXPECT_EQ(store_.Record(a.key_id)->state, CaSlotState::kOld);
    EXPECT_EQ(store_.Record(b->key_id)->state, CaSlotState::kActive);
    EXPECT_EQ(StoredSequence(), sequence);
    // A second Activate has nothing prepared.
    EXPECT_EQ(ca_->Activate(kind).status().code(), absl::StatusCode::kFailedPrecondition);
  }
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca_);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(AuthorityKeyIdHex(chain->front()),
            OneSlot(*ca_, kX509, CaSlotState::kActive).subject_key_id);
  EXPECT_TRUE(VerifyX509(*chain, *ca_->Bundle()).ok());
  absl::StatusOr<std::string> token = SignJwt(*ca_);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(spiffe::DecodeJwtUnverified(*token)->header["kid"],
            OneSlot(*ca_, kJwt, CaSlotState::kActive).key_id);
  EXPECT_TRUE(VerifyJwt(*token, *ca_->Bundle()).ok());
}

TEST_F(CaAdminTest, TaintRejectsUnknownActivePreparedAndTaintedKeys) {
  CaSlotInfo old = Rotate(kX509);
  CaSlotInfo active = OneSlot(*ca_, kX509, CaSlotState::kActive);
  CaSlotInfo prepared = *ca_->Prepare(kX509);
  CaSlotInfo jwt = OneSlot(*ca_, kJwt, CaSlotState::kActive);
  EXPECT_EQ(ca_->Taint(kX509, "no-such-key").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Taint(kX509, "../x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Taint(kJwt, old.key_id).code(), absl::StatusCode::kNotFound);  // wrong kind
  EXPECT_EQ(ca_->Taint(kX509, jwt.key_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Taint(kX509, active.key_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca_->Taint(kX509, prepared.key_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca_->Taint(kJwt, jwt.key_id).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  EXPECT_EQ(ca_->Taint(kX509, old.key_id).code(), absl::StatusCode::kFailedPrecondition);
  // Nothing but the old key changed state.
  EXPECT_EQ(OneSlot(*ca_, kX509, CaSlotState::kActive).key_id, active.key_id);
  EXPECT_EQ(OneSlot(*ca_, kX509, CaSlotState::kPrepared).key_id, prepared.key_id);
  EXPECT_EQ(OneSlot(*ca_, kX509, CaSlotState::kTainted).key_id, old.key_id);
}

TEST_F(CaAdminTest, TaintedKeysStayInTheBundleAndAreReported) {
  CaSlotInfo old = Rotate(kX509);
  CaSlotInfo old_jwt = Rotate(kJwt);
  // An SVID signed by the old key before it was rotated away.
  clock_.Advance(absl::Minutes(1));
  uint64_t sequence = StoredSequence();
  EXPECT_FALSE(ca_->IsTainted(old.subject_key_id));
  EXPECT_FALSE(ca_->IsTainted(old_jwt.key_id));

  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  ASSERT_TRUE(ca_->Taint(kJwt, old_jwt.key_id).ok());
  EXPECT_EQ(store_.Record(old.key_id)->state, CaSlotState::kTainted);
  EXPECT_EQ(store_.Record(old_jwt.key_id)->state, CaSlotState::kTainted);
  EXPECT_EQ(StoredSequence(), sequence);  // the set of authorities did not change
  EXPECT_EQ(ca_->Bundle()->x509_authorities().size(), 2u);
  EXPECT_NE(ca_->Bundle()->FindJwtAuthority(old_jwt.key_id), nullptr);

  EXPECT_TRUE(ca_->IsTainted(old.subject_key_id));
  EXPECT_TRUE(ca_->IsTainted(absl::AsciiStrToUpper(old.subject_key_id)));
  EXPECT_TRUE(ca_->IsTainted(old_jwt.key_id));
  EXPECT_FALSE(ca_->IsTainted(OneSlot(*ca_, kX509, CaSlotState::kActive).subject_key_id));
  EXPECT_FALSE(ca_->IsTainted(OneSlot(*ca_, kJwt, CaSlotState::kActive).key_id));
  EXPECT_FALSE(ca_->IsTainted(""));
  EXPECT_EQ(ca_->TaintedX509AuthorityKeyIds(), std::vector<std::string>{old.subject_key_id});
  EXPECT_EQ(ca_->TaintedJwtKeyIds(), std::vector<std::string>{old_jwt.key_id});
}

TEST_F(CaAdminTest, SvidsOfATaintedKeyVerifyUntilItIsRevoked) {
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca_);
  absl::StatusOr<std::string> token = SignJwt(*ca_);
  ASSERT_TRUE(chain.ok() && token.ok());
  CaSlotInfo old = Rotate(kX509);
  CaSlotInfo old_jwt = Rotate(kJwt);
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  ASSERT_TRUE(ca_->Taint(kJwt, old_jwt.key_id).ok());
  EXPECT_TRUE(ca_->IsTainted(AuthorityKeyIdHex(chain->front())));
  EXPECT_TRUE(VerifyX509(*chain, *ca_->Bundle()).ok());
  EXPECT_TRUE(VerifyJwt(*token, *ca_->Bundle()).ok());

  uint64_t sequence = StoredSequence();
  ASSERT_TRUE(ca_->Revoke(kX509, old.key_id).ok());
  EXPECT_EQ(StoredSequence(), sequence + 1);
  ASSERT_TRUE(ca_->Revoke(kJwt, old_jwt.key_id).ok());
  EXPECT_EQ(StoredSequence(), sequence + 2);
  EXPECT_FALSE(VerifyX509(*chain, *ca_->Bundle()).ok());
  EXPECT_FALSE(VerifyJwt(*token, *ca_->Bundle()).ok());
  EXPECT_FALSE(VerifyX509(*chain, StoredBundle()).ok());
  // Gone from the journal, the key manager, the slots and the tainted list.
  EXPECT_FALSE(store_.Record(old.key_id).has_value());
  EXPECT_FALSE(store_.Record(old_jwt.key_id).has_value());
  EXPECT_EQ(memory_keys_.Get(old.key_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(memory_keys_.Get(old_jwt.key_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Show(kX509).size(), 1u);
  EXPECT_FALSE(ca_->IsTainted(old.subject_key_id));
  EXPECT_TRUE(ca_->TaintedJwtKeyIds().empty());
  // New SVIDs keep working.
  chain = SignX509(*ca_);
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyX509(*chain, *ca_->Bundle()).ok());
}

TEST_F(CaAdminTest, RevokeRejectsEverythingButTaintedKeys) {
  CaSlotInfo old = Rotate(kX509);
  CaSlotInfo active = OneSlot(*ca_, kX509, CaSlotState::kActive);
  CaSlotInfo prepared = *ca_->Prepare(kX509);
  uint64_t sequence = StoredSequence();
  EXPECT_EQ(ca_->Revoke(kX509, "no-such-key").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Revoke(kJwt, old.key_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca_->Revoke(kX509, active.key_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca_->Revoke(kX509, prepared.key_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ca_->Revoke(kX509, old.key_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredSequence(), sequence);
  EXPECT_EQ(ca_->Show(kX509).size(), 3u);
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  ASSERT_TRUE(ca_->Revoke(kX509, old.key_id).ok());
  EXPECT_EQ(ca_->Revoke(kX509, old.key_id).code(), absl::StatusCode::kNotFound);
}

TEST_F(CaAdminTest, TaintWritesTheJournalFirst) {
  CaSlotInfo old = Rotate(kX509);
  store_.InjectFailure(FakeCaStore::Op::kPutCaKey, absl::UnavailableError("db down"));
  EXPECT_EQ(ca_->Taint(kX509, old.key_id).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(OneSlot(*ca_, kX509, CaSlotState::kOld).key_id, old.key_id);
  EXPECT_EQ(store_.Record(old.key_id)->state, CaSlotState::kOld);
  EXPECT_FALSE(ca_->IsTainted(old.subject_key_id));
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
}

TEST_F(CaAdminTest, RevokeWhoseBundleWriteFailsIsCompletedByTheNextTick) {
  CaSlotInfo old = Rotate(kX509);
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  uint64_t sequence = StoredSequence();
  store_.InjectFailure(FakeCaStore::Op::kSetBundle, absl::UnavailableError("db down"));
  EXPECT_EQ(ca_->Revoke(kX509, old.key_id).code(), absl::StatusCode::kUnavailable);
  // The journal no longer has the key; the published bundle still does until it is rewritten.
  EXPECT_FALSE(store_.Record(old.key_id).has_value());
  EXPECT_EQ(ca_->Bundle()->x509_authorities().size(), 2u);
  EXPECT_EQ(StoredSequence(), sequence);
  EXPECT_EQ(ca_->Revoke(kX509, old.key_id).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(ca_->Tick().ok());
  EXPECT_EQ(ca_->Bundle()->x509_authorities().size(), 1u);
  EXPECT_EQ(StoredSequence(), sequence + 1);
}

TEST_F(CaAdminTest, RevokeWhoseJournalDeleteFailsCanBeRetried) {
  CaSlotInfo old = Rotate(kJwt);
  ASSERT_TRUE(ca_->Taint(kJwt, old.key_id).ok());
  store_.InjectFailure(FakeCaStore::Op::kDeleteCaKey, absl::UnavailableError("db down"));
  EXPECT_EQ(ca_->Revoke(kJwt, old.key_id).code(), absl::StatusCode::kUnavailable);
  // The private key is already gone; the key is still tainted and published.
  EXPECT_EQ(memory_keys_.Get(old.key_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(OneSlot(*ca_, kJwt, CaSlotState::kTainted).key_id, old.key_id);
  EXPECT_NE(ca_->Bundle()->FindJwtAuthority(old.key_id), nullptr);
  ASSERT_TRUE(ca_->Revoke(kJwt, old.key_id).ok());
  EXPECT_EQ(ca_->Bundle()->FindJwtAuthority(old.key_id), nullptr);
  EXPECT_FALSE(store_.Record(old.key_id).has_value());
}

TEST_F(CaAdminTest, TaintedKeysLeaveWhenTheyExpire) {
  CaSlotInfo old = Rotate(kX509);
  ASSERT_TRUE(ca_->Taint(kX509, old.key_id).ok());
  TickAt(*ca_, absl::Hours(23));
  EXPECT_TRUE(ca_->IsTainted(old.subject_key_id));
  TickAt(*ca_, kCaTtl);
  EXPECT_FALSE(ca_->IsTainted(old.subject_key_id));
  EXPECT_FALSE(store_.Record(old.key_id).has_value());
  for (const CaSlotInfo& info : ca_->Show(kX509)) {
    EXPECT_NE(info.key_id, old.key_id);
  }
}

TEST_F(CaAdminTest, ForcedRotationThenTimelineContinuesFromTheNewKey) {
  clock_.Advance(absl::Hours(2));
  CaSlotInfo a = Rotate(kX509);
  CaSlotInfo b = OneSlot(*ca_, kX509, CaSlotState::kActive);
  EXPECT_EQ(b.not_after, TestNow() + absl::Hours(2) + kCaTtl);
  // The timeline now follows B: no preparation at A's half-life.
  TickAt(*ca_, absl::Hours(13));
  EXPECT_TRUE(SlotsIn(*ca_, kX509, CaSlotState::kPrepared).empty());
  TickAt(*ca_, absl::Hours(14));
  EXPECT_EQ(SlotsIn(*ca_, kX509, CaSlotState::kPrepared).size(), 1u);
  // A expired on its own schedule.
  TickAt(*ca_, kCaTtl);
  for (const CaSlotInfo& info : ca_->Show(kX509)) {
    EXPECT_NE(info.key_id, a.key_id);
  }
}

}  // namespace
}  // namespace signet::server
