// SvidCache: what the agent can hand to workloads. It holds the entries the server says this
// node may serve (from the entry sync), the X509-SVID the agent pre-signed for each (rotated at
// half-life with jitter by the agent's signing loop, which asks Due() what to sign), the trust
// bundle, and JWT-SVIDs per (SPIFFE ID, audience set) until half their lifetime.
//
// An expired SVID is never returned. Every change bumps version(); Workload API streams wait on
// it (WaitForChange) and send a new snapshot when what their caller sees differs. Thread-safe.
#ifndef SIGNET_AGENT_WORKLOAD_SVID_CACHE_H_
#define SIGNET_AGENT_WORKLOAD_SVID_CACHE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "signet/agent/v1/agent.pb.h"
#include "signet/agent/v1/agent_state.pb.h"
#include "src/common/clock.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/selector.h"

namespace signet::agent {

// One entry's current X509-SVID. Immutable once cached.
struct X509SvidRecord {
  std::string entry_id;
  int64_t entry_revision = 0;
  std::string spiffe_id;
  std::string hint;
  std::string leaf_der;
  // The CA certificates after the leaf, concatenated DER: one copy shared by every SVID of the
  // same chain.
  std::shared_ptr<const std::string> intermediates_der;
  std::string key_der;  // PKCS#8
  absl::Time not_before;
  absl::Time not_after;
  absl::Time renew_at;

  // The chain as the Workload API carries it: concatenated DER, leaf first.
  std::string ChainDer() const { return leaf_der + *intermediates_der; }
};

// What one caller (by its selectors) may have right now.
struct WorkloadView {
  bool ready = false;  // the agent has synced entries and holds a bundle
  int entitled = 0;    // entries whose selectors the caller has (signed or not yet)
  std::vector<std::shared_ptr<const X509SvidRecord>> svids;  // unexpired, default first
  // The entitled entries, sorted the same way (shared with the cache, immutable).
  std::vector<std::shared_ptr<const ::signet::agent::v1::Entry>> entries;
  std::shared_ptr<const spiffe::Bundle> bundle;
};

class SvidCache {
 public:
  // At most `max_svids` X509-SVIDs are kept, least recently used dropped first, except those a
  // caller asked for in the last 10 s (open streams ask every second).
  explicit SvidCache(const Clock& clock, size_t max_svids = 10000)
      : clock_(clock), max_svids_(max_svids) {}

  // Replaces the entries (after each sync message). SVIDs of entries that went, or whose
  // revision changed, are dropped.
  void SetEntries(const std::map<std::string, ::signet::agent::v1::Entry>& entries);
  void SetBundle(std::shared_ptr<const spiffe::Bundle> bundle);

  // Entries that need an SVID at `now` (none yet while under max_svids or since a caller asked
  // for it, or past their renew time), at most `limit`;
  // `*next` receives the earliest renew time of the others (InfiniteFuture when none).
  std::vector<::signet::agent::v1::Entry> Due(absl::Time now, size_t limit, absl::Time* next);
  // Caches a newly signed SVID for the entry at `revision`; ignored if the entry went or changed
  // meanwhile. The renew time is a random point between 45% and 55% of its lifetime, counted
  // from `not_before`.
  // `chain` is DER certificates, leaf first (at least one). Past `max_svids` cached SVIDs, the
  // least recently used ones that no caller asked for in the last 10 s are dropped (they are
  // signed again when asked for).
  void Put(const ::signet::agent::v1::Entry& entry, std::vector<std::string> chain,
           std::string key_der, absl::Time not_before, absl::Time not_after);

  // The entries a caller with `selectors` (canonical) is entitled to: every selector of the
  // entry among the caller's (entries without selectors match nobody). Ordered by SPIFFE ID,
  // then entry id; the first is the default identity.
  WorkloadView For(const std::vector<spiffe::Selector>& selectors) const;

  // JWT-SVIDs: one per (SPIFFE ID, audience set), kept until half their lifetime has passed.
  std::optional<std::string> GetJwt(const std::string& spiffe_id,
                                    const std::vector<std::string>& audience) const;
  void PutJwt(const std::string& spiffe_id, const std::vector<std::string>& audience,
              std::string token, absl::Time issued_at, absl::Time expires_at);

  // Every entry and every unexpired SVID, for the agent to keep in data_dir.
  void Export(::signet::agent::v1::WorkloadCache* out) const;

  uint64_t version() const;
  // Blocks until version() != `seen`, `deadline` (wall time), or a WakeWaiters() since
  // wake_epoch() returned `epoch` (by default: since this call began); returns version().
  uint64_t WaitForChange(uint64_t seen, absl::Time deadline,
                         std::optional<uint64_t> epoch = std::nullopt) const;
  // Ends every WaitForChange in progress. A waiter with a stop flag reads wake_epoch() before
  // its flag and passes it on, so that a stop between the two is not missed.
  void WakeWaiters() const;
  uint64_t wake_epoch() const;
  size_t svid_count() const;

 private:
  static std::string JwtKey(const std::string& spiffe_id, std::vector<std::string> audience);
  void Bump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++version_; }

  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const size_t max_svids_;
  mutable absl::Mutex mu_;
  // When a caller last saw each entry's SVID, and the entries asked for without one.
  mutable absl::flat_hash_map<std::string, absl::Time> last_used_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_set<std::string> wanted_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<const std::string>> chains_
      ABSL_GUARDED_BY(mu_);  // interned intermediates
  std::map<std::string, std::shared_ptr<const ::signet::agent::v1::Entry>> entries_
      ABSL_GUARDED_BY(mu_);
  // Each entry's selectors, parsed and canonical, and the entries by their first selector (as
  // "type:value"): a caller's selectors find its candidate entries without a scan of them all.
  absl::flat_hash_map<std::string, std::vector<spiffe::Selector>> selectors_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<std::string>> by_first_selector_
      ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::shared_ptr<const X509SvidRecord>> svids_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const spiffe::Bundle> bundle_ ABSL_GUARDED_BY(mu_);
  struct CachedJwt {
    std::string token;
    absl::Time refresh_at;
    absl::Time expires_at;
  };
  absl::flat_hash_map<std::string, CachedJwt> jwts_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;  // WakeWaiters calls
};

}  // namespace signet::agent

#endif  // SIGNET_AGENT_WORKLOAD_SVID_CACHE_H_
