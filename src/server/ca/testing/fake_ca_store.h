// FakeCaStore: an in-memory CaJournalStore + BundleStore for tests, with the datastore's observable
// behaviour (times kept as whole seconds, bundles validated on write, records listed by key id)
// and failure injection.
//
// Thread-safe.
#ifndef SIGNET_SERVER_CA_TESTING_FAKE_CA_STORE_H_
#define SIGNET_SERVER_CA_TESTING_FAKE_CA_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "src/server/datastore/datastore.h"

namespace signet::server::testing {

class FakeCaStore final : public CaJournalStore, public BundleStore {
 public:
  enum class Op { kPutCaKey, kListCaKeys, kDeleteCaKey, kSetBundle, kGetBundle };

  // The `skip + 1`-th call of `op` from now fails with `status` (and changes nothing); calls
  // before and after it behave normally.
  void InjectFailure(Op op, absl::Status status, int skip = 0);

  // Direct access for tests, bypassing failure injection.
  std::optional<CaKeyRecord> Record(absl::string_view key_id) const;
  std::vector<CaKeyRecord> Records() const;
  void PutRecordRaw(const CaKeyRecord& record);
  void PutBundleRaw(const StoredBundle& bundle);
  std::optional<StoredBundle> Bundle(absl::string_view trust_domain) const;
  int set_bundle_calls() const;

  // CaJournalStore:
  absl::Status PutCaKey(const CaKeyRecord& record) override;
  absl::StatusOr<std::vector<CaKeyRecord>> ListCaKeys(CaKeyKind kind) override;
  absl::Status DeleteCaKey(absl::string_view key_id) override;

  // BundleStore:
  absl::Status SetBundle(const StoredBundle& bundle) override;
  absl::StatusOr<StoredBundle> GetBundle(absl::string_view trust_domain) override;
  absl::StatusOr<std::vector<StoredBundle>> ListBundles() override;
  absl::Status DeleteBundle(absl::string_view trust_domain) override;

 private:
  struct Failure {
    Op op;
    absl::Status status;
    int skip;
  };
  // Consumes the failure due for `op` at this call, if any.
  absl::Status TakeFailure(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, CaKeyRecord, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, StoredBundle, std::less<>> bundles_ ABSL_GUARDED_BY(mu_);
  std::vector<Failure> failures_ ABSL_GUARDED_BY(mu_);
  int set_bundle_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace signet::server::testing

#endif  // SIGNET_SERVER_CA_TESTING_FAKE_CA_STORE_H_
