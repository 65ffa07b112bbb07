#include "src/server/ca/testing/ca_fixture.h"

#include <openssl/x509v3.h>

#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"
#include "tests/testing/test_ca.h"

namespace signet::server::testing {
namespace {

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    ADD_FAILURE() << value.status();
    std::abort();
  }
  return *std::move(value);
}

spiffe::BundleSet SetOf(const spiffe::TrustDomain& td, const spiffe::Bundle& bundle) {
  spiffe::BundleSet set;
  set.Put(td, bundle);
  return set;
}

}  // namespace

std::string AuthorityKeyIdHex(const crypto::Certificate& cert) {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
  if (aki == nullptr) {
    return "";
  }
  return crypto::HexEncode(
      absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                        static_cast<size_t>(ASN1_STRING_length(aki))));
}

CaManagerFixture::CaManagerFixture()
    : clock_(signet::testing::TestNow()),
      td_(OrDie(spiffe::TrustDomain::Parse("example.org"))),
      workload_id_(OrDie(spiffe::SpiffeId::Parse("spiffe://example.org/workload"))),
      workload_key_(signet::testing::MustGenerate()) {}

CaManagerOptions CaManagerFixture::Options(KeyManager* keys) {
  return {.trust_domain = td_,
          .clock = clock_,
          .key_manager = keys != nullptr ? *keys : memory_keys_,
          .journal = store_,
          .bundle_store = store_,
          .ca_ttl = kCaTtl,
          .ca_subject = {.organization = "Signet Test", .common_name = "example.org CA"}};
}

std::unique_ptr<CaManager> CaManagerFixture::MustCreate(KeyManager* keys) {
  return MustCreate(Options(keys));
}

std::unique_ptr<CaManager> CaManagerFixture::MustCreate(const CaManagerOptions& options) {
  absl::StatusOr<std::unique_ptr<CaManager>> ca = CaManager::Create(options);
  EXPECT_TRUE(ca.ok()) << ca.status();
  return ca.ok() ? *std::move(ca) : nullptr;
}

void CaManagerFixture::TickAt(CaManager& ca, absl::Duration offset) {
  clock_.Set(signet::testing::TestNow() + offset);
  absl::Status status = ca.Tick();
  EXPECT_TRUE(status.ok()) << "tick at +" << offset << ": " << status;
}

absl::StatusOr<std::vector<crypto::Certificate>> CaManagerFixture::SignX509(const CaManager& ca,
                                                                            absl::Duration ttl) {
  return ca.SignX509Svid(
      {.spiffe_id = workload_id_, .public_key = workload_key_.public_key(), .ttl = ttl});
}

absl::StatusOr<std::string> CaManagerFixture::SignJwt(const CaManager& ca, absl::Duration ttl) {
  return ca.SignJwtSvid({.spiffe_id = workload_id_, .audience = {"aud"}, .ttl = ttl});
}

absl::Status CaManagerFixture::VerifyX509(const std::vector<crypto::Certificate>& chain,
                                          const spiffe::Bundle& bundle,
                                          std::optional<absl::Time> now) {
  spiffe::BundleSet set = SetOf(td_, bundle);
  return spiffe::VerifyX509Svid(chain, set, now.value_or(clock_.Now())).status();
}

absl::Status CaManagerFixture::VerifyJwt(const std::string& token, const spiffe::Bundle& bundle,
                                         std::optional<absl::Time> now) {
  spiffe::BundleSet set = SetOf(td_, bundle);
  return spiffe::ValidateJwtSvid(token, set, {.audience = "aud", .now = now.value_or(clock_.Now())})
      .status();
}

spiffe::Bundle CaManagerFixture::StoredBundle() {
  std::optional<server::StoredBundle> stored = store_.Bundle(td_.name());
  if (!stored.has_value()) {
    return spiffe::Bundle();
  }
  return OrDie(spiffe::ParseSpiffeBundle(stored->spiffe_json));
}

uint64_t CaManagerFixture::StoredSequence() { return StoredBundle().sequence().value_or(0); }

std::vector<CaSlotInfo> CaManagerFixture::SlotsIn(const CaManager& ca, CaKeyKind kind,
                                                  CaSlotState state) {
  std::vector<CaSlotInfo> out;
  for (const CaSlotInfo& info : ca.Show(kind)) {
    if (info.state == state) {
      out.push_back(info);
    }
  }
  return out;
}

CaSlotInfo CaManagerFixture::OneSlot(const CaManager& ca, CaKeyKind kind, CaSlotState state) {
  std::vector<CaSlotInfo> slots = SlotsIn(ca, kind, state);
  EXPECT_EQ(slots.size(), 1u) << "kind " << static_cast<int>(kind) << " state "
                              << static_cast<int>(state);
  return slots.empty() ? CaSlotInfo() : slots.front();
}

}  // namespace signet::server::testing
