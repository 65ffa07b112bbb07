// Restarts: reloading the journal and the keys, and validating everything read back.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/common/file_util.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/ca/disk_key_manager.h"
#include "src/server/ca/testing/ca_fixture.h"
#include "tests/testing/test_ca.h"

namespace signet::server {
namespace {

using signet::testing::TestNow;
using testing::AuthorityKeyIdHex;
using testing::FakeCaStore;

constexpr CaKeyKind kX509 = CaKeyKind::kX509;
constexpr CaKeyKind kJwt = CaKeyKind::kJwt;

class CaRestartTest : public testing::CaManagerFixture {
 protected:
  std::unique_ptr<DiskKeyManager> OpenDiskKeys() {
    absl::StatusOr<std::unique_ptr<DiskKeyManager>> keys = DiskKeyManager::Create(tmp_.File("k"));
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *std::move(keys) : nullptr;
  }

  std::string StoredJson() {
    std::optional<server::StoredBundle> stored = store_.Bundle(td_.name());
    return stored.has_value() ? stored->spiffe_json : "";
  }

  absl::StatusCode CreateCode(KeyManager* keys = nullptr) {
    return CaManager::Create(Options(keys)).status().code();
  }

  signet::testing::TempDir tmp_;
};

void ExpectSameSlots(const std::vector<CaSlotInfo>& a, const std::vector<CaSlotInfo>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key_id, b[i].key_id);
    EXPECT_EQ(a[i].state, b[i].state);
    EXPECT_EQ(a[i].not_before, b[i].not_before);
    EXPECT_EQ(a[i].not_after, b[i].not_after);
    EXPECT_EQ(a[i].subject_key_id, b[i].subject_key_id);
    EXPECT_EQ(a[i].can_sign, b[i].can_sign);
  }
}

TEST_F(CaRestartTest, DiskKeysGiveTheIdenticalBundleAtEveryPhase) {
  std::unique_ptr<DiskKeyManager> keys = OpenDiskKeys();
  ASSERT_NE(keys, nullptr);
  std::unique_ptr<CaManager> ca = MustCreate(keys.get());
  ASSERT_NE(ca, nullptr);
  // Fresh, prepared, rotated (with an old key), after the old key expired.
  for (absl::Duration at : {absl::ZeroDuration(), absl::Hours(12), absl::Hours(20), kCaTtl}) {
    TickAt(*ca, at);
    std::string json = StoredJson();
    int writes = store_.set_bundle_calls();
    std::vector<CaSlotInfo> x509 = ca->Show(kX509);
    std::vector<CaSlotInfo> jwt = ca->Show(kJwt);
    absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca, absl::Hours(100));
    ASSERT_TRUE(chain.ok());

    ca.reset();
    keys = OpenDiskKeys();
    ASSERT_NE(keys, nullptr);
    ca = MustCreate(keys.get());
    ASSERT_NE(ca, nullptr);
    EXPECT_EQ(StoredJson(), json) << "at +" << at;
    EXPECT_EQ(store_.set_bundle_calls(), writes) << "restart rewrote the bundle";
    EXPECT_EQ(*spiffe::ToSpiffeBundleJson(*ca->Bundle()), json);
    ExpectSameSlots(ca->Show(kX509), x509);
    ExpectSameSlots(ca->Show(kJwt), jwt);
    // The same key signs, and what was signed before verifies.
    absl::StatusOr<std::vector<crypto::Certificate>> after = SignX509(*ca);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(AuthorityKeyIdHex(after->front()), AuthorityKeyIdHex(chain->front()));
    EXPECT_TRUE(VerifyX509(*chain, *ca->Bundle()).ok());
    absl::StatusOr<std::string> token = SignJwt(*ca);
    ASSERT_TRUE(token.ok());
    EXPECT_TRUE(VerifyJwt(*token, *ca->Bundle()).ok());
  }
}

TEST_F(CaRestartTest, MemoryKeysLostOnRestartAreReplacedAndOldCertificatesStay) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  TickAt(*ca, absl::Hours(12));
  CaSlotInfo a = OneSlot(*ca, kX509, CaSlotState::kActive);
  CaSlotInfo b = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  CaSlotInfo a_jwt = OneSlot(*ca, kJwt, CaSlotState::kActive);
  absl::StatusOr<std::vector<crypto::Certificate>> before = SignX509(*ca, absl::Hours(100));
  absl::StatusOr<std::string> token = SignJwt(*ca);
  ASSERT_TRUE(before.ok() && token.ok());
  uint64_t sequence = StoredSequence();
  ca.reset();

  MemoryKeyManager fresh;  // a new process: the keys are gone
  clock_.Advance(absl::Minutes(1));
  ca = MustCreate(&fresh);
  ASSERT_NE(ca, nullptr);
  CaSlotInfo c = OneSlot(*ca, kX509, CaSlotState::kActive);
  EXPECT_NE(c.key_id, a.key_id);
  EXPECT_NE(c.key_id, b.key_id);
  EXPECT_TRUE(c.can_sign && c.published);
  std::vector<CaSlotInfo> old = SlotsIn(*ca, kX509, CaSlotState::kOld);
  ASSERT_EQ(old.size(), 2u);  // A, and B which was prepared but lost its key
  EXPECT_FALSE(old[0].can_sign || old[1].can_sign);
  EXPECT_TRUE(SlotsIn(*ca, kX509, CaSlotState::kPrepared).empty());
  EXPECT_EQ(store_.Record(a.key_id)->state, CaSlotState::kOld);
  EXPECT_EQ(store_.Record(b.key_id)->state, CaSlotState::kOld);
  EXPECT_EQ(store_.Record(a_jwt.key_id)->state, CaSlotState::kOld);
  EXPECT_EQ(StoredSequence(), sequence + 1);
  EXPECT_EQ(ca->Bundle()->x509_authorities().size(), 3u);

  // Old SVIDs keep verifying; new ones come from the new key.
  EXPECT_TRUE(VerifyX509(*before, *ca->Bundle()).ok());
  EXPECT_TRUE(VerifyJwt(*token, *ca->Bundle()).ok());
  absl::StatusOr<std::vector<crypto::Certificate>> after = SignX509(*ca);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(AuthorityKeyIdHex(after->front()), c.subject_key_id);
  EXPECT_TRUE(VerifyX509(*after, *ca->Bundle()).ok());

  // A leaves the bundle when it expires.
  TickAt(*ca, kCaTtl);
  for (const CaSlotInfo& info : ca->Show(kX509)) {
    EXPECT_NE(info.key_id, a.key_id);
  }
  EXPECT_FALSE(store_.Record(a.key_id).has_value());
  EXPECT_FALSE(VerifyX509(*before, *ca->Bundle()).ok());
}

TEST_F(CaRestartTest, PreparedKeyLostOnRestartIsReplacedByANewPreparedKey) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  TickAt(*ca, absl::Hours(12));
  CaSlotInfo a = OneSlot(*ca, kX509, CaSlotState::kActive);
  CaSlotInfo b = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  ca.reset();
  ASSERT_TRUE(memory_keys_.Delete(b.key_id).ok());
  ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  // A still signs; B can never sign and is old; a new key is prepared in its place.
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, a.key_id);
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kOld).key_id, b.key_id);
  EXPECT_EQ(store_.Record(b.key_id)->state, CaSlotState::kOld);
  CaSlotInfo c = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  EXPECT_TRUE(c.can_sign && c.published);
  TickAt(*ca, absl::Hours(20));
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, c.key_id);
}

TEST_F(CaRestartTest, RestartAfterEveryKeyExpired) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  CaSlotInfo a = OneSlot(*ca, kX509, CaSlotState::kActive);
  ca.reset();
  clock_.Set(TestNow() + absl::Hours(50));
  ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  ASSERT_EQ(ca->Show(kX509).size(), 1u);
  ASSERT_EQ(ca->Show(kJwt).size(), 1u);
  EXPECT_NE(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, a.key_id);
  EXPECT_FALSE(store_.Record(a.key_id).has_value());
  EXPECT_EQ(ca->Bundle()->x509_authorities().size(), 1u);
  EXPECT_EQ(StoredSequence(), 2u);
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyX509(*chain, *ca->Bundle()).ok());
}

TEST_F(CaRestartTest, KeyThatDoesNotMatchItsJournalRecordIsDataLoss) {
  for (CaKeyKind kind : {kX509, kJwt}) {
    for (CaSlotState state : {CaSlotState::kActive, CaSlotState::kOld}) {
      MemoryKeyManager keys;
      std::unique_ptr<CaManager> ca = MustCreate(&keys);
      ASSERT_NE(ca, nullptr);
      ASSERT_TRUE(ca->Prepare(kind).ok());
      ASSERT_TRUE(ca->Activate(kind).ok());
      std::string key_id = OneSlot(*ca, kind, state).key_id;
      ca.reset();
      ASSERT_TRUE(keys.Generate(key_id, crypto::KeyType::kEcP256).ok());  // a different key
      absl::StatusOr<std::unique_ptr<CaManager>> restarted = CaManager::Create(Options(&keys));
      EXPECT_EQ(restarted.status().code(), absl::StatusCode::kDataLoss) << restarted.status();
      for (const CaKeyRecord& record : store_.Records()) {
        ASSERT_TRUE(store_.DeleteCaKey(record.key_id).ok());
      }
    }
  }
}

TEST_F(CaRestartTest, CorruptedKeyFileIsDataLoss) {
  std::unique_ptr<DiskKeyManager> keys = OpenDiskKeys();
  ASSERT_NE(keys, nullptr);
  std::unique_ptr<CaManager> ca = MustCreate(keys.get());
  ASSERT_NE(ca, nullptr);
  std::string key_id = OneSlot(*ca, kJwt, CaSlotState::kActive).key_id;
  ca.reset();
  ASSERT_TRUE(WriteFileAtomic(keys->KeyPath(key_id), "-----BEGIN PRIVATE KEY-----\n", 0600).ok());
  EXPECT_EQ(CreateCode(keys.get()), absl::StatusCode::kDataLoss);
}

TEST_F(CaRestartTest, MalformedJournalRecordsAreDataLoss) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  const CaKeyRecord x509 = *store_.Record(OneSlot(*ca, kX509, CaSlotState::kActive).key_id);
  const CaKeyRecord jwt = *store_.Record(OneSlot(*ca, kJwt, CaSlotState::kActive).key_id);
  ca.reset();
  signet::testing::TestCa other("other.org");
  spiffe::X509Svid leaf = signet::testing::TestCa("example.org").MintSvid("/w");

  struct Case {
    std::string name;
    std::function<void(CaKeyRecord&)> mutate;
    bool jwt = false;
    bool extra = false;        // put the mutated copy beside the original instead of replacing it
    std::string message = "";  // expected in the error message
  };
  const std::vector<Case> cases = {
      {"garbage certificate", [](CaKeyRecord& r) { r.public_der = "garbage"; }},
      {"other trust domain",
       [&](CaKeyRecord& r) {
         r.public_der = other.root().ToDer();
         r.not_before = other.root().NotBefore();
         r.not_after = other.root().NotAfter();
       }},
      {"not a ca",
       [&](CaKeyRecord& r) {
         r.public_der = leaf.leaf().ToDer();
         r.not_before = leaf.leaf().NotBefore();
         r.not_after = leaf.leaf().NotAfter();
       }},
      {"validity differs", [](CaKeyRecord& r) { r.not_after += absl::Hours(1); }},
      {"key type differs", [](CaKeyRecord& r) { r.key_type = "ec-p384"; }},
      {"unknown key type", [](CaKeyRecord& r) { r.key_type = "dsa-1024"; }},
      {"bad key id", [](CaKeyRecord& r) { r.key_id = "../x"; }, false, true, "key id"},
      // The copies have no private key, which alone is no error: the state rule rejects them.
      {"second active key", [](CaKeyRecord& r) { r.key_id = "copy"; }, false, true,
       "2 active x509 keys"},
      {"garbage jwt key", [](CaKeyRecord& r) { r.public_der = "garbage"; }, true},
      {"jwt not_before after not_after",
       [](CaKeyRecord& r) { r.not_before = r.not_after + absl::Seconds(1); }, true},
      {"jwt key type differs", [](CaKeyRecord& r) { r.key_type = "rsa-2048"; }, true},
  };
  for (const Case& c : cases) {
    CaKeyRecord record = c.jwt ? jwt : x509;
    c.mutate(record);
    store_.PutRecordRaw(record);
    absl::Status status = CaManager::Create(Options()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << c.name << ": " << status;
    EXPECT_TRUE(absl::StrContains(status.message(), c.message)) << c.name << ": " << status;
    // Restore the journal.
    if (c.extra) {
      ASSERT_TRUE(store_.DeleteCaKey(record.key_id).ok());
    }
    store_.PutRecordRaw(x509);
    store_.PutRecordRaw(jwt);
  }
  // The untouched journal still loads.
  EXPECT_EQ(CreateCode(), absl::StatusCode::kOk);
}

TEST_F(CaRestartTest, TwoPreparedKeysAreDataLoss) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  CaSlotInfo prepared = *ca->Prepare(kJwt);
  ca.reset();
  CaKeyRecord copy = *store_.Record(prepared.key_id);
  copy.key_id = "second";
  store_.PutRecordRaw(copy);
  absl::Status status = CaManager::Create(Options()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(status.message(), "2 prepared jwt keys")) << status;
}

TEST_F(CaRestartTest, InvalidStoredBundleIsDataLoss) {
  store_.PutBundleRaw({.trust_domain = "example.org", .spiffe_json = "{not json"});
  EXPECT_EQ(CreateCode(), absl::StatusCode::kDataLoss);
}

TEST_F(CaRestartTest, StoredBundleThatDiffersIsRewrittenWithTheNextSequence) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  std::string json = StoredJson();
  ca.reset();
  store_.PutBundleRaw(
      {.trust_domain = "example.org", .spiffe_json = R"({"keys": [], "spiffe_sequence": 7})"});
  ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(StoredSequence(), 8u);
  spiffe::Bundle expected = *spiffe::ParseSpiffeBundle(json);
  expected.set_sequence(8);
  EXPECT_EQ(StoredJson(), *spiffe::ToSpiffeBundleJson(expected));
}

TEST_F(CaRestartTest, RevokedRecordInTheJournalIsDropped) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  ASSERT_TRUE(ca->Prepare(kX509).ok());
  ASSERT_TRUE(ca->Activate(kX509).ok());
  CaSlotInfo old = OneSlot(*ca, kX509, CaSlotState::kOld);
  ca.reset();
  CaKeyRecord record = *store_.Record(old.key_id);
  record.state = CaSlotState::kRevoked;
  store_.PutRecordRaw(record);
  ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  EXPECT_FALSE(store_.Record(old.key_id).has_value());
  EXPECT_EQ(ca->Show(kX509).size(), 1u);
  EXPECT_EQ(ca->Bundle()->x509_authorities().size(), 1u);
  EXPECT_EQ(memory_keys_.Get(old.key_id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CaRestartTest, DatastoreErrorsAtStartAreReturned) {
  store_.InjectFailure(FakeCaStore::Op::kListCaKeys, absl::UnavailableError("db down"));
  EXPECT_EQ(CreateCode(), absl::StatusCode::kUnavailable);
  store_.InjectFailure(FakeCaStore::Op::kGetBundle, absl::UnavailableError("db down"));
  EXPECT_EQ(CreateCode(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CreateCode(), absl::StatusCode::kOk);
}

}  // namespace
}  // namespace signet::server
