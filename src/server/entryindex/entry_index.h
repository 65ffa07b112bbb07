// EntryIndex: every registration entry of the trust domain in memory, indexed by id and by
// parent_id, loaded once from the datastore and then kept current from its change log. It is
// what answers "which entries is this agent authorized for" (the agent sync, DESIGN §5): a memory
// lookup, never a SQL scan per agent, and never a periodic full reload.
//
// Consistency: Load() records the change-log head, pages through all entries, then applies every
// change committed after that head, so entries written while it scanned are neither lost nor
// left stale. CatchUp() applies what was committed since. Each change carries the entry as of
// that change and its revision; a change older than what the index already holds is skipped,
// which makes applying a change twice harmless.
//
// Entries are immutable once indexed (shared_ptr<const>), so readers keep what they got after
// the index moves on. Thread-safe: any number of readers; CatchUp calls are serialized inside.
#ifndef SIGNET_SERVER_ENTRYINDEX_ENTRY_INDEX_H_
#define SIGNET_SERVER_ENTRYINDEX_ENTRY_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/server/datastore/datastore.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server {

using EntryPtr = std::shared_ptr<const RegistrationEntry>;

class EntryIndex {
 public:
  // Loads every entry of `entries`, then catches up with `log`. Both must outlive the index
  // (they are normally the same DataStore). Fails with the store's error (Unavailable,
  // DataLoss for a row that fails validation); nothing is half-loaded then.
  static absl::StatusOr<std::unique_ptr<EntryIndex>> Load(EntryStore& entries, ChangeLog& log);

  EntryIndex(const EntryIndex&) = delete;
  EntryIndex& operator=(const EntryIndex&) = delete;

  // Applies the changes committed since the last Load/CatchUp, in revision order, and returns
  // the entry changes applied (for whoever pushes deltas). On a store error nothing of the
  // failed page is applied and the next call retries from the same revision.
  absl::StatusOr<std::vector<Change>> CatchUp() ABSL_LOCKS_EXCLUDED(catch_up_mu_);

  // The entries whose parent_id is `parent_id`, ordered by id.
  std::vector<EntryPtr> ByParent(absl::string_view parent_id) const ABSL_LOCKS_EXCLUDED(mu_);

  // The entries an agent with these node selectors is authorized for, ordered by id: those
  // whose parent is the agent, and those whose parent is a node entry (an entry parented by
  // spiffe://<td>/signet/server) whose selectors are all among `node_selectors` (canonical).
  std::vector<EntryPtr> AuthorizedFor(const spiffe::SpiffeId& agent,
                                      const std::vector<Selector>& node_selectors) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The parent IDs whose entries AuthorizedFor returns: the agent's own and those of the node
  // entries it matches. An entry is authorized for the agent when its parent_id is among them.
  std::vector<std::string> AuthorizedParents(const spiffe::SpiffeId& agent,
                                             const std::vector<Selector>& node_selectors) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until revision() > `after` or `deadline` (wall time) passes; returns revision().
  int64_t WaitForRevision(int64_t after, absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);
  // The revision of the last change to the attested node `node_id` that this index applied
  // (0 when none since it was loaded): a stream that serves the node re-reads its record when
  // this moves (a ban, an eviction, new node selectors).
  int64_t NodeRevision(absl::string_view node_id) const ABSL_LOCKS_EXCLUDED(mu_);
  // The entry with this id, or null.
  EntryPtr Get(absl::string_view id) const ABSL_LOCKS_EXCLUDED(mu_);

  // The change-log revision the index reflects: every change up to it is applied.
  int64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Entries of one parent, keyed by id. Keys are views into the entry each key maps to, so an
  // entry is replaced by erasing and re-inserting, never by assigning the value alone.
  using Children = absl::btree_map<absl::string_view, EntryPtr>;

  EntryIndex(EntryStore& entries, ChangeLog& log) : entries_(entries), log_(log) {}

  // Reads every entry, a shard per thread.
  absl::Status Scan() ABSL_LOCKS_EXCLUDED(mu_);
  // Reads one shard; stops early once `failed` (another shard failed: the load fails anyway).
  absl::Status ScanShard(EntryShard shard, const std::atomic<bool>& failed)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Indexes `entry` unless the index holds the same id at a newer revision.
  void Upsert(EntryPtr entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the entry with this id unless the index holds it at a revision newer than `revision`.
  void Remove(absl::string_view id, int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unlink(const EntryPtr& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The SPIFFE IDs of the node entries (children of the trust domain's server ID) whose
  // selectors are all among `node_selectors`.
  std::vector<std::string> AliasesOf(const spiffe::SpiffeId& agent,
                                     const std::vector<Selector>& node_selectors) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  EntryStore& entries_;
  ChangeLog& log_;
  absl::Mutex catch_up_mu_;  // One CatchUp at a time; held while reading the log.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<absl::string_view, EntryPtr> by_id_ ABSL_GUARDED_BY(mu_);  // Keys as above.
  absl::flat_hash_map<std::string, Children> by_parent_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t> node_revisions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace signet::server

#endif  // SIGNET_SERVER_ENTRYINDEX_ENTRY_INDEX_H_
