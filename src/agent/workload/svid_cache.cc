#include "src/agent/workload/svid_cache.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_join.h"

namespace signet::agent {
namespace {

namespace pb = ::signet::agent::v1;

constexpr size_t kMaxJwts = 10000;

// Whether every selector of `want` is in `have` (both canonical, so sorted).
bool AllPresent(const std::vector<spiffe::Selector>& want,
                const std::vector<spiffe::Selector>& have) {
  for (const spiffe::Selector& s : want) {
    if (!std::binary_search(have.begin(), have.end(), s)) return false;
  }
  return true;
}

double Jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.45, 0.55)(rng);
}

}  // namespace

void SvidCache::SetEntries(const std::map<std::string, pb::Entry>& entries) {
  absl::MutexLock lock(&mu_);
  for (auto it = svids_.begin(); it != svids_.end();) {
    auto e = entries.find(it->first);
    if (e == entries.end() || e->second.revision() != it->second->entry_revision) {
      svids_.erase(it++);
    } else {
      ++it;
    }
  }
  entries_.clear();
  for (const auto& [id, entry] : entries) entries_[id] = std::make_shared<const pb::Entry>(entry);
  absl::erase_if(last_used_, [&](const auto& kv) { return !entries.contains(kv.first); });
  absl::erase_if(wanted_, [&](const std::string& id) { return !entries.contains(id); });
  selectors_.clear();
  by_first_selector_.clear();
  for (const auto& [id, shared] : entries_) {
    const pb::Entry& entry = *shared;
    std::vector<spiffe::Selector> parsed;
    bool ok = !entry.selectors().empty();
    for (const pb::Selector& s : entry.selectors()) {
      absl::StatusOr<spiffe::Selector> one = spiffe::Selector::Make(s.type(), s.value());
      ok = ok && one.ok();
      if (one.ok()) parsed.push_back(*std::move(one));
    }
    if (!ok) continue;  // an entry without (valid) selectors matches nobody
    spiffe::CanonicalizeSelectors(parsed);
    by_first_selector_[parsed.front().ToString()].push_back(id);
    selectors_[id] = std::move(parsed);
  }
  synced_ = true;
  Bump();
}

void SvidCache::SetBundle(std::shared_ptr<const spiffe::Bundle> bundle) {
  absl::MutexLock lock(&mu_);
  bundle_ = std::move(bundle);
  Bump();
}

std::vector<pb::Entry> SvidCache::Due(absl::Time now, size_t limit, absl::Time* next) {
  absl::MutexLock lock(&mu_);
  std::vector<pb::Entry> due;
  *next = absl::InfiniteFuture();
  // New entries are pre-signed while there is room; past it, only those a caller asked for.
  size_t room = svids_.size() < max_svids_ ? max_svids_ - svids_.size() : 0;
  for (const auto& [id, entry] : entries_) {
    auto it = svids_.find(id);
    if (it != svids_.end()) {
      if (it->second->renew_at <= now) {
        if (due.size() < limit) due.push_back(*entry);
      } else {
        *next = std::min(*next, it->second->renew_at);
      }
    } else if (wanted_.contains(id) || room > 0) {
      if (room > 0) --room;
      if (due.size() < limit) due.push_back(*entry);
    }
  }
  return due;
}

void SvidCache::Put(const pb::Entry& entry, std::vector<std::string> chain, std::string key_der,
                    absl::Time not_before, absl::Time not_after) {
  if (chain.empty()) return;
  auto record = std::make_shared<X509SvidRecord>();
  record->entry_id = entry.id();
  record->entry_revision = entry.revision();
  record->spiffe_id = entry.spiffe_id();
  record->hint = entry.hint();
  record->leaf_der = std::move(chain[0]);
  std::string rest;
  for (size_t i = 1; i < chain.size(); ++i) rest += chain[i];
  record->key_der = std::move(key_der);
  record->not_before = not_before;
  record->not_after = not_after;
  record->renew_at = not_before + (not_after - not_before) * Jitter();
  absl::MutexLock lock(&mu_);
  auto e = entries_.find(entry.id());
  if (e == entries_.end() || e->second->revision() != entry.revision()) return;
  std::shared_ptr<const std::string>& shared = chains_[rest];
  if (shared == nullptr) shared = std::make_shared<const std::string>(rest);
  record->intermediates_der = shared;
  svids_[entry.id()] = std::move(record);
  wanted_.erase(entry.id());
  if (svids_.size() > max_svids_) EvictLocked(clock_.Now());
  Bump();
}

void SvidCache::EvictLocked(absl::Time now) {
  constexpr absl::Duration kLive = absl::Seconds(10);
  std::vector<std::pair<absl::Time, std::string>> idle;
  for (const auto& [id, svid] : svids_) {
    auto used = last_used_.find(id);
    const absl::Time at = used == last_used_.end() ? absl::InfinitePast() : used->second;
    if (now - at > kLive) idle.emplace_back(at, id);
  }
  std::sort(idle.begin(), idle.end());
  for (size_t i = 0; i < idle.size() && svids_.size() > max_svids_; ++i) {
    svids_.erase(idle[i].second);
    last_used_.erase(idle[i].second);
  }
  // Intermediates no SVID shares any more.
  absl::erase_if(chains_, [](const auto& kv) { return kv.second.use_count() == 1; });
}

WorkloadView SvidCache::For(const std::vector<spiffe::Selector>& selectors) const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  WorkloadView view;
  view.ready = synced_ && bundle_ != nullptr;
  view.bundle = bundle_;
  for (const spiffe::Selector& have : selectors) {
    auto candidates = by_first_selector_.find(have.ToString());
    if (candidates == by_first_selector_.end()) continue;
    for (const std::string& id : candidates->second) {
      const std::shared_ptr<const pb::Entry>& entry = entries_.at(id);
      if (entry->expires_at() != 0 && absl::FromUnixSeconds(entry->expires_at()) <= now) continue;
      if (AllPresent(selectors_.at(id), selectors)) view.entries.push_back(entry);
    }
  }
  std::sort(view.entries.begin(), view.entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a->spiffe_id(), a->id()) < std::tie(b->spiffe_id(), b->id());
  });
  view.entitled = static_cast<int>(view.entries.size());
  bool asked = false;
  for (const auto& entry : view.entries) {
    auto it = svids_.find(entry->id());
    if (it != svids_.end() && it->second->not_after > now) {
      view.svids.push_back(it->second);
      last_used_[entry->id()] = now;
    } else if (wanted_.insert(entry->id()).second) {
      asked = true;  // evicted or never signed: the signing loop picks it up
    }
  }
  if (asked) ++version_;  // wakes the signing loop (mutable: For is logically const)
  return view;
}

std::string SvidCache::JwtKey(const std::string& spiffe_id, std::vector<std::string> audience) {
  std::sort(audience.begin(), audience.end());
  audience.erase(std::unique(audience.begin(), audience.end()), audience.end());
  return absl::StrCat(spiffe_id, "\n", absl::StrJoin(audience, "\n"));
}

std::optional<std::string> SvidCache::GetJwt(const std::string& spiffe_id,
                                             const std::vector<std::string>& audience) const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto it = jwts_.find(JwtKey(spiffe_id, audience));
  if (it == jwts_.end() || now >= it->second.refresh_at || now >= it->second.expires_at) {
    return std::nullopt;
  }
  return it->second.token;
}

void SvidCache::PutJwt(const std::string& spiffe_id, const std::vector<std::string>& audience,
                       std::string token, absl::Time issued_at, absl::Time expires_at) {
  absl::MutexLock lock(&mu_);
  if (jwts_.size() >= kMaxJwts) jwts_.clear();  // bounded; they are cheap to mint again
  jwts_[JwtKey(spiffe_id, audience)] = {std::move(token), issued_at + (expires_at - issued_at) / 2,
                                        expires_at};
}

void SvidCache::Export(pb::WorkloadCache* out) const {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : entries_) *out->add_entries() = *entry;
  for (const auto& [id, svid] : svids_) {
    if (svid->not_after <= now) continue;
    pb::CachedX509Svid* s = out->add_svids();
    s->set_entry_id(svid->entry_id);
    s->set_entry_revision(svid->entry_revision);
    s->set_chain_der(svid->ChainDer());
    s->set_key_der(svid->key_der);
    s->set_not_before(absl::ToUnixSeconds(svid->not_before));
    s->set_not_after(absl::ToUnixSeconds(svid->not_after));
  }
}

uint64_t SvidCache::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

uint64_t SvidCache::WaitForChange(uint64_t seen, absl::Time deadline,
                                  std::optional<uint64_t> epoch) const {
  absl::MutexLock lock(&mu_);
  const uint64_t wakes = epoch.value_or(wakes_);
  auto changed = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return version_ != seen || wakes_ != wakes;
  };
  mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
  return version_;
}

void SvidCache::WakeWaiters() const {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

uint64_t SvidCache::wake_epoch() const {
  absl::MutexLock lock(&mu_);
  return wakes_;
}

size_t SvidCache::svid_count() const {
  absl::MutexLock lock(&mu_);
  return svids_.size();
}

}  // namespace signet::agent
