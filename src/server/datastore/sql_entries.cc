// SqlDataStore: the EntryStore methods.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/entry_query.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/sql_datastore.h"
#include "src/server/datastore/validation.h"

namespace signet::server::internal {
namespace {

constexpr char kEntryColumns[] =
    "e.id, e.spiffe_id, e.parent_id, e.selectors, e.x509_svid_ttl_seconds, "
    "e.jwt_svid_ttl_seconds, e.dns_names, e.hint, e.admin, e.downstream, e.federates_with, "
    "e.expires_at, e.revision, e.created_at";

constexpr char kInsertEntry[] =
    "INSERT INTO entries (spiffe_id, parent_id, selectors, selector_hash, selector_count, "
    "x509_svid_ttl_seconds, jwt_svid_ttl_seconds, dns_names, hint, admin, downstream, "
    "federates_with, expires_at, revision, created_at, id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING RETURNING seq";

constexpr char kUpdateEntry[] =
    "UPDATE entries SET spiffe_id = ?, parent_id = ?, selectors = ?, selector_hash = ?, "
    "selector_count = ?, x509_svid_ttl_seconds = ?, jwt_svid_ttl_seconds = ?, dns_names = ?, "
    "hint = ?, admin = ?, downstream = ?, federates_with = ?, expires_at = ?, revision = ? "
    "WHERE id = ?";

// The column values of an entry, in the order of kInsertEntry / kUpdateEntry. Holds the encoded
// strings the parameters borrow.
class EncodedEntry {
 public:
  explicit EncodedEntry(const RegistrationEntry& e)
      : entry_(e),
        selectors_(SelectorsToText(e.selectors)),
        selector_hash_(SelectorHash(selectors_)),
        dns_names_(JoinList(e.dns_names)),
        federates_with_(JoinList(e.federates_with)) {}

  // Every column but created_at and id.
  std::vector<sql::Param> MutableColumns() const {
    return {absl::string_view(entry_.spiffe_id),
            absl::string_view(entry_.parent_id),
            absl::string_view(selectors_),
            absl::string_view(selector_hash_),
            static_cast<int64_t>(entry_.selectors.size()),
            int64_t{entry_.x509_svid_ttl_seconds},
            int64_t{entry_.jwt_svid_ttl_seconds},
            absl::string_view(dns_names_),
            absl::string_view(entry_.hint),
            int64_t{entry_.admin ? 1 : 0},
            int64_t{entry_.downstream ? 1 : 0},
            absl::string_view(federates_with_),
            TimeParam(entry_.expires_at),
            entry_.revision};
  }

 private:
  const RegistrationEntry& entry_;
  std::string selectors_;
  std::string selector_hash_;
  std::string dns_names_;
  std::string federates_with_;
};

constexpr size_t kSelectorRowsPerInsert = 8;

// "INSERT INTO entry_selectors ... VALUES (?, ?, ?), ..." with `rows` rows.
// REQUIRES: 1 <= rows <= kSelectorRowsPerInsert.
const std::string& InsertSelectorsSql(size_t rows) {
  static const std::vector<std::string>* const kSql = [] {
    auto* sql = new std::vector<std::string>(kSelectorRowsPerInsert + 1);
    for (size_t n = 1; n <= kSelectorRowsPerInsert; ++n) {
      std::string& text = (*sql)[n];
      text = "INSERT INTO entry_selectors (entry_seq, type, value) VALUES ";
      for (size_t i = 0; i < n; ++i) {
        absl::StrAppend(&text, i == 0 ? "" : ", ", "(?, ?, ?)");
      }
    }
    return sql;
  }();
  return (*kSql)[rows];
}

absl::StatusOr<RegistrationEntry> EntryFromRow(sql::Result& result, size_t row) {
  RowReader r(result, row, "entries");
  RegistrationEntry e;
  SIGNET_ASSIGN_OR_RETURN(e.id, r.Text(0));
  SIGNET_ASSIGN_OR_RETURN(e.spiffe_id, r.Text(1));
  SIGNET_ASSIGN_OR_RETURN(e.parent_id, r.Text(2));
  // selector_hash and selector_count are derived from `selectors` and only serve as keys, like
  // an index: they are not read back.
  SIGNET_ASSIGN_OR_RETURN(e.selectors, r.Selectors(3));
  SIGNET_ASSIGN_OR_RETURN(e.x509_svid_ttl_seconds, r.Int32(4));
  SIGNET_ASSIGN_OR_RETURN(e.jwt_svid_ttl_seconds, r.Int32(5));
  SIGNET_ASSIGN_OR_RETURN(e.dns_names, r.List(6));
  SIGNET_ASSIGN_OR_RETURN(e.hint, r.Text(7));
  SIGNET_ASSIGN_OR_RETURN(e.admin, r.Bool(8));
  SIGNET_ASSIGN_OR_RETURN(e.downstream, r.Bool(9));
  SIGNET_ASSIGN_OR_RETURN(e.federates_with, r.List(10));
  SIGNET_ASSIGN_OR_RETURN(e.expires_at, r.OptionalTime(11));
  SIGNET_ASSIGN_OR_RETURN(e.revision, r.Int64(12));
  SIGNET_ASSIGN_OR_RETURN(e.created_at, r.Time(13));
  absl::Status valid = CheckStoredEntry(e);
  if (!valid.ok()) {
    return StoredRowError(valid, "entries", absl::StrCat("row \"", e.id.substr(0, 64), "\""));
  }
  return e;
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: page_size: must be in [1, ", kMaxPageSize, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<RegistrationEntry>> SqlDataStore::FindEntry(sql::Connection& conn,
                                                                         absl::string_view id) {
  SIGNET_ASSIGN_OR_RETURN(
      sql::Result r,
      conn.Query(absl::StrCat("SELECT ", kEntryColumns, " FROM entries e WHERE e.id = ?"), {id}));
  if (r.num_rows() == 0) {
    return std::nullopt;
  }
  SIGNET_ASSIGN_OR_RETURN(RegistrationEntry e, EntryFromRow(r, 0));
  return e;
}

absl::Status SqlDataStore::InsertEntryLinks(Txn& txn, int64_t seq, const RegistrationEntry& entry,
                                            bool selectors, bool federates_with) {
  // Selector rows go in groups of up to kSelectorRowsPerInsert per statement.
  const std::vector<Selector>& all = entry.selectors;
  std::vector<sql::Param> params;
  for (size_t start = 0; selectors && start < all.size(); start += kSelectorRowsPerInsert) {
    const size_t rows = std::min(all.size() - start, kSelectorRowsPerInsert);
    params.clear();
    for (size_t i = start; i < start + rows; ++i) {
      params.insert(params.end(),
                    {seq, absl::string_view(all[i].type()), absl::string_view(all[i].value())});
    }
    SIGNET_RETURN_IF_ERROR(txn.Query(InsertSelectorsSql(rows), params).status());
  }
  for (size_t i = 0; federates_with && i < entry.federates_with.size(); ++i) {
    SIGNET_RETURN_IF_ERROR(
        txn.Query("INSERT INTO entry_federates_with (entry_seq, trust_domain) VALUES (?, ?)",
                  {seq, absl::string_view(entry.federates_with[i])})
            .status());
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SqlDataStore::InsertEntry(Txn& txn, const RegistrationEntry& entry) {
  EncodedEntry encoded(entry);
  std::vector<sql::Param> params = encoded.MutableColumns();
  params.push_back(absl::ToUnixSeconds(entry.created_at));
  params.push_back(absl::string_view(entry.id));
  SIGNET_ASSIGN_OR_RETURN(sql::Result inserted, txn.Query(kInsertEntry, params));
  if (inserted.num_rows() == 0) {
    return false;  // ON CONFLICT DO NOTHING: a duplicate id or key
  }
  SIGNET_ASSIGN_OR_RETURN(int64_t seq, inserted.Int64("entries", 0, 0));
  SIGNET_RETURN_IF_ERROR(InsertEntryLinks(txn, seq, entry, true, true));
  SIGNET_RETURN_IF_ERROR(
      txn.AppendChange(entry.revision, ChangeKind::kEntry, ChangeOp::kCreate, entry.id, &entry));
  return true;
}

absl::Status SqlDataStore::DuplicateEntryError(Txn& txn, const RegistrationEntry& entry,
                                               absl::string_view action) {
  SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                          txn.Query("SELECT 1 FROM entries WHERE id = ?", {entry.id}));
  if (r.num_rows() > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("datastore: ", action, ": entry id \"", entry.id, "\" already exists"));
  }
  return absl::AlreadyExistsError(
      absl::StrCat("datastore: ", action,
                   ": an entry with this spiffe_id, parent_id and selectors already exists"));
}

absl::StatusOr<std::vector<absl::StatusOr<RegistrationEntry>>> SqlDataStore::CreateEntries(
    absl::Span<const RegistrationEntry> entries) {
  if (entries.size() > static_cast<size_t>(kMaxBatchSize)) {
    return absl::InvalidArgumentError(absl::StrCat("datastore: create entries: ", entries.size(),
                                                   " entries exceed the batch limit of ",
                                                   kMaxBatchSize));
  }
  std::vector<RegistrationEntry> items(entries.begin(), entries.end());
  std::vector<absl::StatusOr<RegistrationEntry>> results;
  results.reserve(items.size());
  bool any_valid = false;
  const absl::Time now = Now();
  for (RegistrationEntry& item : items) {
    if (item.id.empty()) {
      SIGNET_ASSIGN_OR_RETURN(item.id, NewEntryId(now));
    }
    absl::Status valid = NormalizeEntry(item);
    results.push_back(valid.ok() ? absl::StatusOr<RegistrationEntry>(RegistrationEntry{})
                                 : Annotate(valid, "datastore: create entry"));
    any_valid |= valid.ok();
  }
  if (!any_valid) {
    return results;
  }
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    for (size_t i = 0; i < items.size(); ++i) {
      if (!results[i].ok()) {
        continue;
      }
      RegistrationEntry& item = items[i];
      item.created_at = now;
      SIGNET_ASSIGN_OR_RETURN(item.revision, txn.NextRevision());
      bool inserted = false;
      absl::Status status = txn.InSavepoint([&]() -> absl::Status {
        SIGNET_ASSIGN_OR_RETURN(inserted, InsertEntry(txn, item));
        return absl::OkStatus();
      });
      if (status.ok() && inserted) {
        results[i] = std::move(item);
      } else if (status.ok()) {
        results[i] = DuplicateEntryError(txn, item, "create entry");
        if (!absl::IsAlreadyExists(results[i].status())) {
          return results[i].status();
        }
      } else if (txn.savepoints() && absl::IsInvalidArgument(status)) {
        results[i] = Annotate(status, "datastore: create entry");  // rolled back to its savepoint
      } else {
        return status;  // the whole batch is rolled back
      }
    }
    return absl::OkStatus();
  }));
  return results;
}

absl::StatusOr<RegistrationEntry> SqlDataStore::GetEntry(absl::string_view id) {
  SIGNET_RETURN_IF_ERROR(Annotate(CheckEntryId(id), "datastore: get entry"));
  std::optional<RegistrationEntry> entry;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(entry, FindEntry(conn, id));
    return absl::OkStatus();
  }));
  if (!entry.has_value()) {
    return absl::NotFoundError(absl::StrCat("datastore: entry \"", id, "\" not found"));
  }
  return *std::move(entry);
}

absl::StatusOr<RegistrationEntry> SqlDataStore::UpdateEntry(
    const RegistrationEntry& entry, std::optional<int64_t> expected_revision) {
  RegistrationEntry updated = entry;
  SIGNET_RETURN_IF_ERROR(Annotate(NormalizeEntry(updated), "datastore: update entry"));
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(std::optional<RegistrationEntry> stored,
                            FindEntry(txn.conn(), updated.id));
    if (!stored.has_value()) {
      return absl::NotFoundError(absl::StrCat("datastore: entry \"", updated.id, "\" not found"));
    }
    if (expected_revision.has_value() && *expected_revision != stored->revision) {
      return absl::FailedPreconditionError(
          absl::StrCat("datastore: update entry: expected revision ", *expected_revision,
                       " but the entry is at revision ", stored->revision));
    }
    updated.created_at = stored->created_at;
    SIGNET_ASSIGN_OR_RETURN(updated.revision, txn.NextRevision());
    EncodedEntry encoded(updated);
    std::vector<sql::Param> params = encoded.MutableColumns();
    params.push_back(absl::string_view(updated.id));
    absl::Status status = txn.Query(kUpdateEntry, params).status();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          "datastore: update entry: another entry with this spiffe_id, parent_id and selectors "
          "already exists");
    }
    SIGNET_RETURN_IF_ERROR(status);
    const bool selectors_changed = updated.selectors != stored->selectors;
    const bool federates_changed = updated.federates_with != stored->federates_with;
    if (selectors_changed || federates_changed) {
      SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                              txn.Query("SELECT seq FROM entries WHERE id = ?", {updated.id}));
      SIGNET_ASSIGN_OR_RETURN(int64_t seq, r.Int64("entries", 0, 0));
      if (selectors_changed) {
        SIGNET_RETURN_IF_ERROR(
            txn.Query("DELETE FROM entry_selectors WHERE entry_seq = ?", {seq}).status());
      }
      if (federates_changed) {
        SIGNET_RETURN_IF_ERROR(
            txn.Query("DELETE FROM entry_federates_with WHERE entry_seq = ?", {seq}).status());
      }
      SIGNET_RETURN_IF_ERROR(
          InsertEntryLinks(txn, seq, updated, selectors_changed, federates_changed));
    }
    return txn.AppendChange(updated.revision, ChangeKind::kEntry, ChangeOp::kUpdate, updated.id,
                            &updated);
  }));
  return updated;
}

absl::StatusOr<RegistrationEntry> SqlDataStore::DeleteEntry(absl::string_view id) {
  SIGNET_RETURN_IF_ERROR(Annotate(CheckEntryId(id), "datastore: delete entry"));
  RegistrationEntry deleted;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(std::optional<RegistrationEntry> stored, FindEntry(txn.conn(), id));
    if (!stored.has_value()) {
      return absl::NotFoundError(absl::StrCat("datastore: entry \"", id, "\" not found"));
    }
    deleted = *std::move(stored);
    SIGNET_RETURN_IF_ERROR(txn.Query("DELETE FROM entries WHERE id = ?", {id}).status());
    SIGNET_ASSIGN_OR_RETURN(int64_t revision, txn.NextRevision());
    return txn.AppendChange(revision, ChangeKind::kEntry, ChangeOp::kDelete, id, &deleted);
  }));
  return deleted;
}

absl::StatusOr<EntryPage> SqlDataStore::ListEntries(const EntryFilter& filter,
                                                    absl::string_view page_token, int page_size) {
  SIGNET_RETURN_IF_ERROR(CheckPageSize(page_size));
  std::string after;
  if (!page_token.empty()) {
    SIGNET_ASSIGN_OR_RETURN(after, DecodePageToken("e", page_token));
    if (!CheckEntryId(after).ok()) {
      return absl::InvalidArgumentError("datastore: page_token: not a valid page token");
    }
  }
  SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<EntryQuery> query, EntryQuery::Create(filter));
  std::vector<sql::Param> params = query->params();
  params.push_back(absl::string_view(after));
  params.push_back(int64_t{page_size} + 1);
  const std::string sql = absl::StrCat("SELECT ", kEntryColumns, " FROM entries e WHERE ",
                                       query->where(), " AND e.id > ? ORDER BY e.id LIMIT ?");
  EntryPage page;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r, conn.Query(sql, params));
    const size_t rows = std::min(r.num_rows(), static_cast<size_t>(page_size));
    page.entries.reserve(rows);
    for (size_t i = 0; i < rows; ++i) {
      SIGNET_ASSIGN_OR_RETURN(RegistrationEntry e, EntryFromRow(r, i));
      page.entries.push_back(std::move(e));
    }
    if (r.num_rows() > rows) {  // the extra row: there is a next page
      page.next_page_token = EncodePageToken("e", page.entries.back().id);
    }
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<int64_t> SqlDataStore::CountEntries(const EntryFilter& filter) {
  SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<EntryQuery> query, EntryQuery::Create(filter));
  const std::string sql = absl::StrCat("SELECT COUNT(*) FROM entries e WHERE ", query->where());
  int64_t count = 0;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r, conn.Query(sql, query->params()));
    SIGNET_ASSIGN_OR_RETURN(count, r.Int64("entries", 0, 0));
    return absl::OkStatus();
  }));
  return count;
}

}  // namespace signet::server::internal
