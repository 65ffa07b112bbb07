// A gtest fixture for CaManager tests: a FakeClock at TestNow(), a memory key manager, a
// FakeCaStore, the trust domain example.org, and helpers to sign and verify SVIDs.
#ifndef SIGNET_SERVER_CA_TESTING_CA_FIXTURE_H_
#define SIGNET_SERVER_CA_TESTING_CA_FIXTURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/ca/key_manager.h"
#include "src/server/ca/testing/fake_ca_store.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server::testing {

// Lowercase hex of the certificate's Authority Key Identifier ("" when absent).
std::string AuthorityKeyIdHex(const crypto::Certificate& cert);

class CaManagerFixture : public ::testing::Test {
 protected:
  static constexpr absl::Duration kCaTtl = absl::Hours(24);

  CaManagerFixture();

  // Options over the fixture's clock and store and `keys` (the memory key manager by default).
  CaManagerOptions Options(KeyManager* keys = nullptr);
  // Creates a manager, failing the test (and returning nullptr) on error.
  std::unique_ptr<CaManager> MustCreate(KeyManager* keys = nullptr);
  std::unique_ptr<CaManager> MustCreate(const CaManagerOptions& options);

  // Advances the clock to TestNow() + `offset` and ticks, failing the test on error.
  void TickAt(CaManager& ca, absl::Duration offset);

  absl::StatusOr<std::vector<crypto::Certificate>> SignX509(const CaManager& ca,
                                                            absl::Duration ttl = absl::Hours(1));
  absl::StatusOr<std::string> SignJwt(const CaManager& ca, absl::Duration ttl = absl::Minutes(5));
  // Verifies against `bundle` (the manager's current bundle by default) at `now` (the clock's
  // time by default).
  absl::Status VerifyX509(const std::vector<crypto::Certificate>& chain,
                          const spiffe::Bundle& bundle, std::optional<absl::Time> now = {});
  absl::Status VerifyJwt(const std::string& token, const spiffe::Bundle& bundle,
                         std::optional<absl::Time> now = {});

  // The bundle the store holds for the trust domain (an empty one with no sequence if none).
  spiffe::Bundle StoredBundle();
  // The stored bundle's sequence (0 when there is no stored bundle).
  uint64_t StoredSequence();

  // The slots of `kind` in `state`.
  static std::vector<CaSlotInfo> SlotsIn(const CaManager& ca, CaKeyKind kind, CaSlotState state);
  // The single slot of `kind` in `state`; fails the test when there is not exactly one.
  static CaSlotInfo OneSlot(const CaManager& ca, CaKeyKind kind, CaSlotState state);

  FakeClock clock_;
  MemoryKeyManager memory_keys_;
  FakeCaStore store_;
  spiffe::TrustDomain td_;
  spiffe::SpiffeId workload_id_;
  crypto::PrivateKey workload_key_;
};

}  // namespace signet::server::testing

#endif  // SIGNET_SERVER_CA_TESTING_CA_FIXTURE_H_
