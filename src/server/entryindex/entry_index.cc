#include "src/server/entryindex/entry_index.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"

namespace signet::server {
namespace {

// Changes read per ChangesSince call while catching up.
constexpr int kChangesPerPage = 1000;

}  // namespace

absl::StatusOr<std::unique_ptr<EntryIndex>> EntryIndex::Load(EntryStore& entries, ChangeLog& log) {
  std::unique_ptr<EntryIndex> index(new EntryIndex(entries, log));
  // The head first: whatever commits during the scan is after it, so CatchUp sees it.
  SIGNET_ASSIGN_OR_RETURN(int64_t head, log.CurrentRevision());
  {
    absl::MutexLock lock(&index->mu_);
    index->revision_ = head;
  }
  SIGNET_RETURN_IF_ERROR(index->Scan());
  SIGNET_RETURN_IF_ERROR(index->CatchUp().status());
  return index;
}

absl::Status EntryIndex::Scan() {
  // Reading and validating rows is most of a load; shards let each core take a part.
  const int shards = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  std::vector<absl::Status> results(static_cast<size_t>(shards));
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < shards; ++i) {
    threads.emplace_back([this, i, shards, &results, &failed] {
      absl::Status status = ScanShard({.index = i, .count = shards}, failed);
      if (!status.ok()) {
        failed = true;
      }
      results[static_cast<size_t>(i)] = std::move(status);
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (absl::Status& status : results) {
    SIGNET_RETURN_IF_ERROR(status);
  }
  return absl::OkStatus();
}

absl::Status EntryIndex::ScanShard(EntryShard shard, const std::atomic<bool>& failed) {
  std::string token;
  do {
    SIGNET_ASSIGN_OR_RETURN(EntryPage page,
                            entries_.ListEntries({.shard = shard}, token, kMaxPageSize));
    std::vector<EntryPtr> built;
    built.reserve(page.entries.size());
    for (RegistrationEntry& entry : page.entries) {
      built.push_back(std::make_shared<const RegistrationEntry>(std::move(entry)));
    }
    absl::MutexLock lock(&mu_);
    for (EntryPtr& entry : built) {
      Upsert(std::move(entry));
    }
    token = std::move(page.next_page_token);
  } while (!token.empty() && !failed);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Change>> EntryIndex::CatchUp() {
  absl::MutexLock serial(&catch_up_mu_);
  std::vector<Change> applied;
  while (true) {
    const int64_t after = revision();
    SIGNET_ASSIGN_OR_RETURN(std::vector<Change> changes, log_.ChangesSince(after, kChangesPerPage));
    if (changes.empty()) {
      return applied;
    }
    absl::MutexLock lock(&mu_);
    for (Change& change : changes) {
      revision_ = std::max(revision_, change.revision);
      if (change.kind == ChangeKind::kNode) {
        node_revisions_[change.object_id] = change.revision;
      }
      if (change.kind != ChangeKind::kEntry || !change.entry.has_value()) {
        continue;
      }
      if (change.op == ChangeOp::kDelete) {
        Remove(change.object_id, change.revision);
      } else {
        Upsert(std::make_shared<const RegistrationEntry>(*change.entry));
      }
      applied.push_back(std::move(change));
    }
    if (changes.size() < static_cast<size_t>(kChangesPerPage)) {
      return applied;
    }
  }
}

void EntryIndex::Upsert(EntryPtr entry) {
  auto it = by_id_.find(entry->id);
  if (it != by_id_.end()) {
    if (it->second->revision > entry->revision) {
      return;  // already newer (read by the scan after this change)
    }
    EntryPtr old = it->second;
    by_id_.erase(it);
    Unlink(old);
  }
  by_parent_[entry->parent_id].emplace(entry->id, entry);
  by_id_.emplace(entry->id, std::move(entry));
}

void EntryIndex::Remove(absl::string_view id, int64_t revision) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second->revision > revision) {
    return;  // gone already, or re-created (same id) after this deletion
  }
  EntryPtr old = it->second;
  by_id_.erase(it);
  Unlink(old);
}

void EntryIndex::Unlink(const EntryPtr& entry) {
  auto parent = by_parent_.find(entry->parent_id);
  if (parent == by_parent_.end()) {
    return;
  }
  parent->second.erase(entry->id);
  if (parent->second.empty()) {
    by_parent_.erase(parent);
  }
}

std::vector<EntryPtr> EntryIndex::ByParent(absl::string_view parent_id) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<EntryPtr> out;
  auto it = by_parent_.find(parent_id);
  if (it == by_parent_.end()) {
    return out;
  }
  out.reserve(it->second.size());
  for (const auto& [id, entry] : it->second) {
    out.push_back(entry);
  }
  return out;
}

std::vector<std::string> EntryIndex::AliasesOf(const spiffe::SpiffeId& agent,
                                               const std::vector<Selector>& node_selectors) const {
  std::vector<std::string> aliases;
  if (node_selectors.empty()) {
    return aliases;  // node entries always have selectors
  }
  auto server = by_parent_.find(absl::StrCat(agent.trust_domain().IdString(), "/signet/server"));
  if (server == by_parent_.end()) {
    return aliases;
  }
  for (const auto& [id, node_entry] : server->second) {
    const std::vector<Selector>& wanted = node_entry->selectors;
    if (std::includes(node_selectors.begin(), node_selectors.end(), wanted.begin(), wanted.end())) {
      aliases.push_back(node_entry->spiffe_id);
    }
  }
  return aliases;
}

std::vector<EntryPtr> EntryIndex::AuthorizedFor(const spiffe::SpiffeId& agent,
                                                const std::vector<Selector>& node_selectors) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> parents = AliasesOf(agent, node_selectors);
  parents.push_back(agent.String());
  std::vector<EntryPtr> out;
  for (const std::string& parent : parents) {
    auto it = by_parent_.find(parent);
    if (it == by_parent_.end()) {
      continue;
    }
    for (const auto& [id, entry] : it->second) {
      out.push_back(entry);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const EntryPtr& a, const EntryPtr& b) { return a->id < b->id; });
  out.erase(std::unique(out.begin(), out.end()), out.end());  // two aliases, same node entry id
  return out;
}

std::vector<std::string> EntryIndex::AuthorizedParents(
    const spiffe::SpiffeId& agent, const std::vector<Selector>& node_selectors) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> parents = AliasesOf(agent, node_selectors);
  parents.push_back(agent.String());
  return parents;
}

int64_t EntryIndex::WaitForRevision(int64_t after, absl::Time deadline) const {
  absl::ReaderMutexLock lock(&mu_);
  auto moved = [this, after]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return revision_ > after; };
  mu_.AwaitWithDeadline(absl::Condition(&moved), deadline);
  return revision_;
}

int64_t EntryIndex::NodeRevision(absl::string_view node_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = node_revisions_.find(node_id);
  return it == node_revisions_.end() ? 0 : it->second;
}

EntryPtr EntryIndex::Get(absl::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

int64_t EntryIndex::revision() const {
  absl::ReaderMutexLock lock(&mu_);
  return revision_;
}

size_t EntryIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_id_.size();
}

}  // namespace signet::server
