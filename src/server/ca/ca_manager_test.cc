#include "src/server/ca/ca_manager.h"

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "src/server/ca/disk_key_manager.h"
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

class CaManagerTest : public testing::CaManagerFixture {};

// The bundle's document without its sequence: what changes when the authorities change.
std::string ContentJson(const spiffe::Bundle& bundle) {
  spiffe::Bundle copy = bundle;
  copy.set_sequence(0);
  return *spiffe::ToSpiffeBundleJson(copy);
}

int64_t JwtExp(const std::string& token) {
  return spiffe::DecodeJwtUnverified(token)->claims["exp"].get<int64_t>();
}

TEST_F(CaManagerTest, FirstStartActivatesOneKeyOfEachKindAndPublishesThem) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  CaSlotInfo x509 = OneSlot(*ca, kX509, CaSlotState::kActive);
  CaSlotInfo jwt = OneSlot(*ca, kJwt, CaSlotState::kActive);
  EXPECT_EQ(ca->Show(kX509).size(), 1u);
  EXPECT_EQ(ca->Show(kJwt).size(), 1u);
  EXPECT_TRUE(x509.can_sign && x509.published && jwt.can_sign && jwt.published);
  EXPECT_EQ(x509.key_type, "ec-p256");
  EXPECT_EQ(x509.not_before, TestNow() - absl::Seconds(10));
  EXPECT_EQ(x509.not_after, TestNow() + kCaTtl);
  EXPECT_EQ(jwt.not_before, TestNow());
  EXPECT_EQ(jwt.not_after, TestNow() + kCaTtl);
  EXPECT_EQ(jwt.key_id.size(), 32u);
  EXPECT_TRUE(ValidateKeyId(jwt.key_id).ok());
  EXPECT_EQ(x509.subject_key_id.size(), 40u);

  // The published bundle: one CA certificate and one JWT key, sequence 1, stored once.
  std::shared_ptr<const spiffe::Bundle> bundle = ca->Bundle();
  ASSERT_EQ(bundle->x509_authorities().size(), 1u);
  ASSERT_EQ(bundle->jwt_authorities().size(), 1u);
  EXPECT_EQ(bundle->jwt_authorities()[0].key_id, jwt.key_id);
  EXPECT_EQ(bundle->sequence(), 1u);
  EXPECT_EQ(bundle->refresh_hint_seconds(), 300u);
  EXPECT_EQ(store_.set_bundle_calls(), 1);
  EXPECT_EQ(store_.Bundle(td_.name())->spiffe_json, *spiffe::ToSpiffeBundleJson(*bundle));

  const crypto::Certificate& root = bundle->x509_authorities()[0];
  EXPECT_EQ(root.BasicConstraintsCa(), true);
  EXPECT_TRUE(root.SelfIssued());
  EXPECT_EQ(root.UriSans(), std::vector<std::string>{"spiffe://example.org"});
  EXPECT_EQ(root.Subject(), "CN=example.org CA,O=Signet Test");

  // The journal records both keys as active, with the certificate and the public key.
  std::optional<CaKeyRecord> x509_record = store_.Record(x509.key_id);
  std::optional<CaKeyRecord> jwt_record = store_.Record(jwt.key_id);
  ASSERT_TRUE(x509_record.has_value() && jwt_record.has_value());
  EXPECT_EQ(x509_record->state, CaSlotState::kActive);
  EXPECT_EQ(x509_record->public_der, root.ToDer());
  EXPECT_EQ(jwt_record->state, CaSlotState::kActive);
  EXPECT_EQ(jwt_record->public_der, bundle->jwt_authorities()[0].key.ToDer());
  EXPECT_TRUE(memory_keys_.Get(x509.key_id).ok());
  EXPECT_TRUE(memory_keys_.Get(jwt.key_id).ok());
}

TEST_F(CaManagerTest, SignedSvidsVerifyAgainstTheBundle) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok()) << chain.status();
  ASSERT_EQ(chain->size(), 1u);
  EXPECT_TRUE(VerifyX509(*chain, *ca->Bundle()).ok());
  EXPECT_EQ(AuthorityKeyIdHex(chain->front()),
            OneSlot(*ca, kX509, CaSlotState::kActive).subject_key_id);
  EXPECT_EQ(chain->front().UriSans(), std::vector<std::string>{"spiffe://example.org/workload"});

  absl::StatusOr<std::string> token = SignJwt(*ca);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_TRUE(VerifyJwt(*token, *ca->Bundle()).ok());
  // Verification fails against another trust domain's bundle: the test can fail.
  signet::testing::TestCa other("example.org");
  EXPECT_FALSE(VerifyX509(*chain, other.bundle()).ok());
  EXPECT_FALSE(VerifyJwt(*token, other.bundle()).ok());
}

TEST_F(CaManagerTest, DnsNamesAndDefaultTtls) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      ca->SignX509Svid({.spiffe_id = workload_id_,
                        .public_key = workload_key_.public_key(),
                        .dns_names = {"db.example.org"}});
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->front().DnsSans(), std::vector<std::string>{"db.example.org"});
  EXPECT_EQ(chain->front().NotAfter(), TestNow() + absl::Hours(1));

  absl::StatusOr<std::string> token =
      ca->SignJwtSvid({.spiffe_id = workload_id_, .audience = {"aud"}});
  ASSERT_TRUE(token.ok()) << token.status();
  absl::StatusOr<spiffe::UnverifiedJwt> jwt = spiffe::DecodeJwtUnverified(*token);
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["exp"].get<int64_t>(), absl::ToUnixSeconds(TestNow() + absl::Minutes(5)));
}

TEST_F(CaManagerTest, RotationTimeline) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  const CaSlotInfo a = OneSlot(*ca, kX509, CaSlotState::kActive);
  const CaSlotInfo a_jwt = OneSlot(*ca, kJwt, CaSlotState::kActive);

  // More than half of the lifetime left: nothing happens, nothing is written.
  TickAt(*ca, absl::Hours(11) + absl::Minutes(59));
  EXPECT_TRUE(SlotsIn(*ca, kX509, CaSlotState::kPrepared).empty());
  EXPECT_TRUE(SlotsIn(*ca, kJwt, CaSlotState::kPrepared).empty());
  EXPECT_EQ(store_.set_bundle_calls(), 1);

  // Half left: the next keys are prepared and published at once, in one bundle change.
  TickAt(*ca, absl::Hours(12));
  const CaSlotInfo b = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  const CaSlotInfo b_jwt = OneSlot(*ca, kJwt, CaSlotState::kPrepared);
  EXPECT_TRUE(b.published && b_jwt.published);
  EXPECT_EQ(ca->Bundle()->x509_authorities().size(), 2u);
  EXPECT_EQ(ca->Bundle()->jwt_authorities().size(), 2u);
  EXPECT_EQ(ca->Bundle()->sequence(), 2u);
  EXPECT_EQ(StoredSequence(), 2u);
  EXPECT_EQ(store_.set_bundle_calls(), 2);
  EXPECT_EQ(store_.Record(b.key_id)->state, CaSlotState::kPrepared);
  // The prepared keys do not sign yet.
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(AuthorityKeyIdHex(chain->front()), a.subject_key_id);

  // A second tick at the same time changes nothing.
  TickAt(*ca, absl::Hours(12));
  EXPECT_EQ(store_.set_bundle_calls(), 2);

  // More than a sixth left: still signing with A.
  TickAt(*ca, absl::Hours(19) + absl::Minutes(58));
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, a.key_id);

  // A sixth left: B becomes active, A old. The set of authorities is unchanged: no new sequence.
  TickAt(*ca, absl::Hours(20));
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, b.key_id);
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kOld).key_id, a.key_id);
  EXPECT_EQ(OneSlot(*ca, kJwt, CaSlotState::kActive).key_id, b_jwt.key_id);
  EXPECT_EQ(OneSlot(*ca, kJwt, CaSlotState::kOld).key_id, a_jwt.key_id);
  EXPECT_EQ(store_.Record(a.key_id)->state, CaSlotState::kOld);
  EXPECT_EQ(store_.Record(b.key_id)->state, CaSlotState::kActive);
  EXPECT_EQ(StoredSequence(), 2u);
  EXPECT_EQ(store_.set_bundle_calls(), 2);
  chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(AuthorityKeyIdHex(chain->front()), b.subject_key_id);
  absl::StatusOr<std::string> token = SignJwt(*ca);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(spiffe::DecodeJwtUnverified(*token)->header["kid"], b_jwt.key_id);

  // A stays in the bundle until it expires, then leaves the bundle, journal and key manager.
  TickAt(*ca, absl::Hours(23) + absl::Minutes(59));
  EXPECT_EQ(ca->Bundle()->x509_authorities().size(), 2u);
  EXPECT_EQ(StoredSequence(), 2u);
  TickAt(*ca, absl::Hours(24));
  for (CaKeyKind kind : {kX509, kJwt}) {
    for (const CaSlotInfo& info : ca->Show(kind)) {
      EXPECT_NE(info.key_id, kind == kX509 ? a.key_id : a_jwt.key_id);
    }
  }
  EXPECT_FALSE(store_.Record(a.key_id).has_value());
  EXPECT_FALSE(store_.Record(a_jwt.key_id).has_value());
  EXPECT_EQ(memory_keys_.Get(a.key_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ca->Bundle()->jwt_authorities().size(), 2u);  // B and the next prepared key
  EXPECT_EQ(ca->Bundle()->FindJwtAuthority(a_jwt.key_id), nullptr);
  EXPECT_EQ(StoredSequence(), 3u);
}

// Walks three CA lifetimes in 30-minute steps. At every step: one active key of each kind, every
// slot published, the sequence bumped exactly when the authorities changed, every key signing
// only after a step in which it was already published, and every SVID issued so far that has not
// expired still verifying against the current bundle.
TEST_F(CaManagerTest, EverySvidVerifiesAtEveryMomentOfTheTimeline) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  struct Issued {
    std::vector<crypto::Certificate> chain;
    std::string token;
    absl::Time x509_expiry;
    absl::Time jwt_expiry;
  };
  std::vector<Issued> issued;
  std::map<std::string, int> first_published;  // authority -> step
  std::shared_ptr<const spiffe::Bundle> previous = ca->Bundle();
  for (int step = 0; step <= 3 * 48; ++step) {
    if (step > 0) {
      TickAt(*ca, absl::Minutes(30) * step);
    }
    std::shared_ptr<const spiffe::Bundle> bundle = ca->Bundle();
    bool changed = ContentJson(*bundle) != ContentJson(*previous);
    uint64_t expected_sequence = previous->sequence().value_or(0) + (changed ? 1 : 0);
    if (step > 0) {
      EXPECT_EQ(bundle->sequence(), expected_sequence) << "step " << step;
    }
    EXPECT_EQ(StoredSequence(), bundle->sequence().value_or(0));
    EXPECT_EQ(static_cast<uint64_t>(store_.set_bundle_calls()), bundle->sequence().value_or(0));
    previous = bundle;
    for (CaKeyKind kind : {kX509, kJwt}) {
      ASSERT_EQ(SlotsIn(*ca, kind, CaSlotState::kActive).size(), 1u) << "step " << step;
      EXPECT_LE(SlotsIn(*ca, kind, CaSlotState::kPrepared).size(), 1u);
      for (const CaSlotInfo& info : ca->Show(kind)) {
        EXPECT_TRUE(info.published) << info.key_id;
        std::string authority = kind == kX509 ? info.subject_key_id : info.key_id;
        first_published.try_emplace(authority, step);
      }
    }
    EXPECT_EQ(bundle->x509_authorities().size(), ca->Show(kX509).size());
    EXPECT_EQ(bundle->jwt_authorities().size(), ca->Show(kJwt).size());

    // A long ttl is capped by the CA, so such an SVID tests "old keys stay until they expire".
    absl::StatusOr<std::vector<crypto::Certificate>> chain =
        SignX509(*ca, step % 2 == 0 ? absl::Hours(1) : absl::Hours(100));
    absl::StatusOr<std::string> token = SignJwt(*ca, absl::Hours(100));
    ASSERT_TRUE(chain.ok() && token.ok()) << "step " << step;
    std::string x509_signer = AuthorityKeyIdHex(chain->front());
    std::string jwt_signer = spiffe::DecodeJwtUnverified(*token)->header["kid"];
    for (const std::string& signer : {x509_signer, jwt_signer}) {
      ASSERT_TRUE(first_published.contains(signer));
      if (first_published[signer] != 0) {
        EXPECT_LT(first_published[signer], step) << "key signed in the step it was published";
      }
    }
    issued.push_back(
        {*chain, *token, chain->front().NotAfter(), absl::FromUnixSeconds(JwtExp(*token))});
    // Against an unchanged bundle only the new SVIDs need checking: the others passed already.
    int verified = 0;
    for (size_t i = changed ? 0 : issued.size() - 1; i < issued.size(); ++i) {
      const Issued& svid = issued[i];
      if (svid.x509_expiry > clock_.Now()) {
        EXPECT_TRUE(VerifyX509(svid.chain, *bundle).ok()) << "step " << step;
        ++verified;
      }
      if (svid.jwt_expiry > clock_.Now()) {
        EXPECT_TRUE(VerifyJwt(svid.token, *bundle).ok()) << "step " << step;
        ++verified;
      }
    }
    EXPECT_GE(verified, changed ? 4 : 2) << "step " << step;
  }
  EXPECT_GE(StoredSequence(), 6u);  // prepared and expired keys over three lifetimes
}

TEST_F(CaManagerTest, TtlIsCappedByTheSigningKeysLifetime) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  CaSlotInfo x509 = OneSlot(*ca, kX509, CaSlotState::kActive);
  CaSlotInfo jwt = OneSlot(*ca, kJwt, CaSlotState::kActive);
  TickAt(*ca, absl::Hours(19) + absl::Minutes(58));  // about four hours left, not yet rotated
  ASSERT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, x509.key_id);

  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca, absl::Hours(10));
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->front().NotAfter(), x509.not_after);
  absl::StatusOr<std::string> token = SignJwt(*ca, absl::Hours(10));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(JwtExp(*token), absl::ToUnixSeconds(jwt.not_after));

  // Below the cap the requested ttl is used.
  chain = SignX509(*ca, absl::Hours(2));
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain->front().NotAfter(), clock_.Now() + absl::Hours(2));
}

TEST_F(CaManagerTest, BadRequestsAreRejected) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  auto x509 = [&](absl::string_view id, absl::Duration ttl, std::vector<std::string> dns) {
    return ca
        ->SignX509Svid({.spiffe_id = *spiffe::SpiffeId::Parse(id),
                        .public_key = workload_key_.public_key(),
                        .ttl = ttl,
                        .dns_names = std::move(dns)})
        .status()
        .code();
  };
  EXPECT_EQ(x509("spiffe://other.org/w", absl::Hours(1), {}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(x509("spiffe://example.org", absl::Hours(1), {}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(x509("spiffe://example.org/w", -absl::Hours(1), {}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(x509("spiffe://example.org/w", absl::Hours(1), {"bad name"}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(x509("spiffe://example.org/w", absl::Hours(1), {}), absl::StatusCode::kOk);

  auto jwt = [&](absl::string_view id, std::vector<std::string> aud, absl::Duration ttl) {
    return ca
        ->SignJwtSvid(
            {.spiffe_id = *spiffe::SpiffeId::Parse(id), .audience = std::move(aud), .ttl = ttl})
        .status()
        .code();
  };
  EXPECT_EQ(jwt("spiffe://other.org/w", {"a"}, absl::Minutes(1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt("spiffe://example.org", {"a"}, absl::Minutes(1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt("spiffe://example.org/w", {}, absl::Minutes(1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt("spiffe://example.org/w", {"a"}, -absl::Minutes(1)),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt("spiffe://example.org/w", {"a"}, absl::Minutes(1)), absl::StatusCode::kOk);
}

TEST_F(CaManagerTest, BadOptionsAreRejected) {
  auto code = [&](auto mutate) {
    CaManagerOptions options = Options();
    mutate(options);
    return CaManager::Create(options).status().code();
  };
  EXPECT_EQ(code([](CaManagerOptions& o) { o.ca_ttl = absl::Seconds(59); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.jwt_key_ttl = absl::Seconds(30); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.ca_subject = {.organization = ""}; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.ca_subject.common_name = "a,b"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.ca_subject.country = "C=US"; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.default_x509_svid_ttl = absl::ZeroDuration(); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code([](CaManagerOptions& o) { o.bundle_refresh_hint = absl::ZeroDuration(); }),
            absl::StatusCode::kInvalidArgument);
  // Nothing was written for any of them.
  EXPECT_TRUE(store_.Records().empty());
  EXPECT_EQ(store_.set_bundle_calls(), 0);
}

TEST_F(CaManagerTest, ConfiguredKeyTypesSubjectAndJwtTtl) {
  CaManagerOptions options = Options();
  options.ca_key_type = crypto::KeyType::kRsa2048;
  options.jwt_key_type = crypto::KeyType::kEcP384;
  options.jwt_key_ttl = absl::Hours(6);
  options.ca_subject = {.country = "DE", .organization = "Acme", .common_name = "Acme CA"};
  std::unique_ptr<CaManager> ca = MustCreate(options);
  ASSERT_NE(ca, nullptr);
  CaSlotInfo x509 = OneSlot(*ca, kX509, CaSlotState::kActive);
  CaSlotInfo jwt = OneSlot(*ca, kJwt, CaSlotState::kActive);
  EXPECT_EQ(x509.key_type, "rsa-2048");
  EXPECT_EQ(jwt.key_type, "ec-p384");
  EXPECT_EQ(jwt.not_after - jwt.not_before, absl::Hours(6));
  EXPECT_EQ(ca->Bundle()->x509_authorities()[0].Subject(), "CN=Acme CA,O=Acme,C=DE");
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyX509(*chain, *ca->Bundle()).ok());
  absl::StatusOr<std::string> token = SignJwt(*ca);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(spiffe::DecodeJwtUnverified(*token)->header["alg"], "ES384");
  EXPECT_TRUE(VerifyJwt(*token, *ca->Bundle()).ok());

  // The JWT key rotates on its own timeline: prepared after 3 h, active after 5 h.
  TickAt(*ca, absl::Hours(3));
  EXPECT_EQ(SlotsIn(*ca, kJwt, CaSlotState::kPrepared).size(), 1u);
  EXPECT_TRUE(SlotsIn(*ca, kX509, CaSlotState::kPrepared).empty());
  TickAt(*ca, absl::Hours(5));
  EXPECT_NE(OneSlot(*ca, kJwt, CaSlotState::kActive).key_id, jwt.key_id);
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, x509.key_id);
}

TEST_F(CaManagerTest, KeySignsOnlyAfterItsBundleWasWritten) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  CaSlotInfo a = OneSlot(*ca, kX509, CaSlotState::kActive);
  store_.InjectFailure(FakeCaStore::Op::kSetBundle, absl::UnavailableError("db down"));
  clock_.Set(TestNow() + absl::Hours(12));
  EXPECT_EQ(ca->Tick().code(), absl::StatusCode::kUnavailable);
  CaSlotInfo b = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  EXPECT_FALSE(b.published);
  EXPECT_EQ(ca->Bundle()->sequence(), 1u);
  EXPECT_EQ(StoredSequence(), 1u);

  // B cannot be activated by hand before it is published either.
  store_.InjectFailure(FakeCaStore::Op::kSetBundle, absl::UnavailableError("db down"));
  EXPECT_EQ(ca->Activate(kX509).status().code(), absl::StatusCode::kFailedPrecondition);

  // Even when the activation time has come, B is not activated before it is published.
  clock_.Set(TestNow() + absl::Hours(21));
  store_.InjectFailure(FakeCaStore::Op::kSetBundle, absl::UnavailableError("db down"));
  EXPECT_FALSE(ca->Tick().ok());
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, a.key_id);
  EXPECT_EQ(StoredSequence(), 1u);

  TickAt(*ca, absl::Hours(21));  // publishes B (sequence 2), A still active
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, a.key_id);
  EXPECT_EQ(StoredSequence(), 2u);
  TickAt(*ca, absl::Hours(21));  // now B activates
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, b.key_id);
  absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
  ASSERT_TRUE(chain.ok());
  EXPECT_TRUE(VerifyX509(*chain, StoredBundle()).ok());
}

TEST_F(CaManagerTest, JournalFailureHalfwayThroughActivationRecoversOnTheNextTick) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  TickAt(*ca, absl::Hours(12));
  CaSlotInfo b = OneSlot(*ca, kX509, CaSlotState::kPrepared);
  // The second journal write of the activation (promoting B) fails; A is already old.
  store_.InjectFailure(FakeCaStore::Op::kPutCaKey, absl::UnavailableError("db down"), 1);
  clock_.Set(TestNow() + absl::Hours(20));
  EXPECT_EQ(ca->Tick().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(SlotsIn(*ca, kX509, CaSlotState::kActive).empty());
  EXPECT_EQ(SignX509(*ca).status().code(), absl::StatusCode::kUnavailable);
  // The in-memory state matches the journal.
  for (const CaSlotInfo& info : ca->Show(kX509)) {
    EXPECT_EQ(store_.Record(info.key_id)->state, info.state);
  }
  // The JWT kind was not held back by the X.509 failure.
  EXPECT_EQ(SlotsIn(*ca, kJwt, CaSlotState::kOld).size(), 1u);

  TickAt(*ca, absl::Hours(20));
  EXPECT_EQ(OneSlot(*ca, kX509, CaSlotState::kActive).key_id, b.key_id);
  EXPECT_TRUE(SignX509(*ca).ok());
}

TEST_F(CaManagerTest, FirstStartFailsWhenTheBundleCannotBeWrittenAndRetrySucceeds) {
  store_.InjectFailure(FakeCaStore::Op::kSetBundle, absl::UnavailableError("db down"));
  EXPECT_EQ(CaManager::Create(Options()).status().code(), absl::StatusCode::kUnavailable);
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(StoredSequence(), 1u);
  // The keys generated by the failed attempt were kept, not generated again.
  EXPECT_EQ(store_.Records().size(), 2u);
  EXPECT_TRUE(SignX509(*ca).ok());
}

TEST_F(CaManagerTest, FailedJournalWriteOfANewKeyLeavesNoKeyBehind) {
  signet::testing::TempDir tmp;
  absl::StatusOr<std::unique_ptr<DiskKeyManager>> keys = DiskKeyManager::Create(tmp.File("keys"));
  ASSERT_TRUE(keys.ok());
  auto key_files = [&] {
    return std::distance(std::filesystem::directory_iterator(tmp.File("keys")),
                         std::filesystem::directory_iterator());
  };
  store_.InjectFailure(FakeCaStore::Op::kPutCaKey, absl::UnavailableError("db down"));
  EXPECT_EQ(CaManager::Create(Options(keys->get())).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(key_files(), 1);  // the JWT key, recorded in the journal
  std::unique_ptr<CaManager> ca = MustCreate(keys->get());
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(key_files(), 2);
  store_.InjectFailure(FakeCaStore::Op::kPutCaKey, absl::UnavailableError("db down"));
  EXPECT_EQ(ca->Prepare(kX509).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(SlotsIn(*ca, kX509, CaSlotState::kPrepared).empty());
  EXPECT_EQ(store_.Records().size(), 2u);
  EXPECT_EQ(key_files(), 2);
  EXPECT_EQ(StoredSequence(), 1u);
}

TEST_F(CaManagerTest, ConcurrentSigningWhileRotating) {
  std::unique_ptr<CaManager> ca = MustCreate();
  ASSERT_NE(ca, nullptr);
  constexpr int kTicks = 150;
  std::vector<std::shared_ptr<const spiffe::Bundle>> bundles = {ca->Bundle()};
  std::atomic<bool> done = false;
  std::thread ticker([&] {
    for (int i = 1; i <= kTicks; ++i) {
      clock_.Set(TestNow() + absl::Minutes(30) * i);
      EXPECT_TRUE(ca->Tick().ok());
      bundles.push_back(ca->Bundle());
    }
    done = true;
  });
  constexpr size_t kMaxPerThread = 200;
  std::vector<std::vector<crypto::Certificate>> chains[2];
  std::vector<std::thread> signers;
  for (int t = 0; t < 2; ++t) {
    signers.emplace_back([&, t] {
      do {  // at least once, however fast the ticker is
        absl::StatusOr<std::vector<crypto::Certificate>> chain = SignX509(*ca);
        absl::StatusOr<std::string> token = SignJwt(*ca);
        EXPECT_TRUE(chain.ok() && token.ok());
        if (chain.ok()) {
          chains[t].push_back(*chain);
        }
      } while (!done && chains[t].size() < kMaxPerThread);
    });
  }
  ticker.join();
  for (std::thread& signer : signers) {
    signer.join();
  }
  // Every leaf was signed by a CA that had been published, and verifies at its issuing time.
  spiffe::Bundle all;
  for (const auto& bundle : bundles) {
    for (const crypto::Certificate& cert : bundle->x509_authorities()) {
      all.AddX509Authority(cert);
    }
  }
  EXPECT_GT(all.x509_authorities().size(), 3u);
  for (const auto& list : chains) {
    EXPECT_FALSE(list.empty());
    for (const auto& chain : list) {
      absl::Time issued = chain.front().NotBefore() + spiffe::kX509Backdate;
      EXPECT_TRUE(VerifyX509(chain, all, issued).ok());
    }
  }
}

}  // namespace
}  // namespace signet::server
