#include "src/server/ca/testing/fake_ca_store.h"

#include "absl/strings/str_cat.h"
#include "src/spiffe/bundle.h"

namespace signet::server::testing {
namespace {

absl::Time WholeSeconds(absl::Time t) {
  return t == absl::InfinitePast() ? t : absl::FromUnixSeconds(absl::ToUnixSeconds(t));
}

}  // namespace

void FakeCaStore::InjectFailure(Op op, absl::Status status, int skip) {
  absl::MutexLock lock(&mu_);
  failures_.push_back({op, std::move(status), skip});
}

absl::Status FakeCaStore::TakeFailure(Op op) {
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (it->op != op) {
      continue;
    }
    if (it->skip > 0) {
      --it->skip;
      return absl::OkStatus();
    }
    absl::Status status = it->status;
    failures_.erase(it);
    return status;
  }
  return absl::OkStatus();
}

std::optional<CaKeyRecord> FakeCaStore::Record(absl::string_view key_id) const {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(key_id);
  if (it == records_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<CaKeyRecord> FakeCaStore::Records() const {
  absl::MutexLock lock(&mu_);
  std::vector<CaKeyRecord> out;
  for (const auto& [id, record] : records_) {
    out.push_back(record);
  }
  return out;
}

void FakeCaStore::PutRecordRaw(const CaKeyRecord& record) {
  absl::MutexLock lock(&mu_);
  records_.insert_or_assign(record.key_id, record);
}

void FakeCaStore::PutBundleRaw(const StoredBundle& bundle) {
  absl::MutexLock lock(&mu_);
  bundles_.insert_or_assign(bundle.trust_domain, bundle);
}

std::optional<StoredBundle> FakeCaStore::Bundle(absl::string_view trust_domain) const {
  absl::MutexLock lock(&mu_);
  auto it = bundles_.find(trust_domain);
  if (it == bundles_.end()) {
    return std::nullopt;
  }
  return it->second;
}

int FakeCaStore::set_bundle_calls() const {
  absl::MutexLock lock(&mu_);
  return set_bundle_calls_;
}

absl::Status FakeCaStore::PutCaKey(const CaKeyRecord& record) {
  absl::MutexLock lock(&mu_);
  if (absl::Status failure = TakeFailure(Op::kPutCaKey); !failure.ok()) {
    return failure;
  }
  CaKeyRecord stored = record;
  stored.not_before = WholeSeconds(stored.not_before);
  stored.not_after = WholeSeconds(stored.not_after);
  stored.updated_at = absl::InfinitePast();
  records_.insert_or_assign(stored.key_id, std::move(stored));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CaKeyRecord>> FakeCaStore::ListCaKeys(CaKeyKind kind) {
  absl::MutexLock lock(&mu_);
  if (absl::Status failure = TakeFailure(Op::kListCaKeys); !failure.ok()) {
    return failure;
  }
  std::vector<CaKeyRecord> out;
  for (const auto& [id, record] : records_) {
    if (record.kind == kind) {
      out.push_back(record);
    }
  }
  return out;
}

absl::Status FakeCaStore::DeleteCaKey(absl::string_view key_id) {
  absl::MutexLock lock(&mu_);
  if (absl::Status failure = TakeFailure(Op::kDeleteCaKey); !failure.ok()) {
    return failure;
  }
  if (records_.erase(std::string(key_id)) == 0) {
    return absl::NotFoundError(absl::StrCat("fake store: no ca key ", key_id));
  }
  return absl::OkStatus();
}

absl::Status FakeCaStore::SetBundle(const StoredBundle& bundle) {
  absl::MutexLock lock(&mu_);
  if (absl::Status failure = TakeFailure(Op::kSetBundle); !failure.ok()) {
    return failure;
  }
  if (absl::Status parsed = spiffe::ParseSpiffeBundle(bundle.spiffe_json).status(); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("fake store: ", parsed.message()));
  }
  ++set_bundle_calls_;
  bundles_.insert_or_assign(bundle.trust_domain, bundle);
  return absl::OkStatus();
}

absl::StatusOr<StoredBundle> FakeCaStore::GetBundle(absl::string_view trust_domain) {
  absl::MutexLock lock(&mu_);
  if (absl::Status failure = TakeFailure(Op::kGetBundle); !failure.ok()) {
    return failure;
  }
  auto it = bundles_.find(trust_domain);
  if (it == bundles_.end()) {
    return absl::NotFoundError(absl::StrCat("fake store: no bundle for ", trust_domain));
  }
  return it->second;
}

absl::StatusOr<std::vector<StoredBundle>> FakeCaStore::ListBundles() {
  absl::MutexLock lock(&mu_);
  std::vector<StoredBundle> out;
  for (const auto& [td, bundle] : bundles_) {
    out.push_back(bundle);
  }
  return out;
}

absl::Status FakeCaStore::DeleteBundle(absl::string_view trust_domain) {
  absl::MutexLock lock(&mu_);
  if (bundles_.erase(std::string(trust_domain)) == 0) {
    return absl::NotFoundError(absl::StrCat("fake store: no bundle for ", trust_domain));
  }
  return absl::OkStatus();
}

}  // namespace signet::server::testing
