// SqlDataStore: the DataStore, implemented once over the sql::Connection seam. The dialect
// (SQLite or PostgreSQL) only changes schema type names, how writers are serialized and the
// placeholder syntax; see sql/dialect.h.
//
// Revisions: every transaction that appends to the change log first serializes against the
// other such transactions (SQLite: BEGIN IMMEDIATE, one writer at a time; PostgreSQL:
// pg_advisory_xact_lock), then allocates revisions as MAX(revision)+1 in order. A transaction
// therefore commits all its revisions before the next one can allocate any, so a reader that
// has seen revision N never later finds a newly committed change with a revision <= N.
//
// Thread-safe: connections come from a pool; writers of SQLite also queue on a mutex so that they
// wait in-process instead of spinning in SQLite's busy handler.
#ifndef SIGNET_SERVER_DATASTORE_SQL_DATASTORE_H_
#define SIGNET_SERVER_DATASTORE_SQL_DATASTORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/common/clock.h"
#include "src/server/datastore/datastore.h"
#include "src/server/datastore/sql/connection_pool.h"
#include "src/server/datastore/sql/dialect.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server {

// OpenDataStore with an explicit clock for the store-set times (created_at, updated_at).
// `clock` must outlive the store.
absl::StatusOr<std::unique_ptr<DataStore>> OpenSqlDataStore(const DataStoreOptions& options,
                                                            const Clock& clock);

namespace internal {

// One writing transaction, as seen by the body that SqlDataStore::Write runs.
class Txn {
 public:
  // `savepoints`: whether InSavepoint really uses savepoints (see Dialect::savepoint_per_item).
  Txn(sql::Connection& conn, bool savepoints) : conn_(conn), savepoints_(savepoints) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  absl::StatusOr<sql::Result> Query(absl::string_view sql, absl::Span<const sql::Param> params) {
    return conn_.Query(sql, params);
  }
  sql::Connection& conn() { return conn_; }
  // The revision the next appended change gets. REQUIRES: the transaction logs changes.
  absl::StatusOr<int64_t> NextRevision();
  // Appends a change. REQUIRES: `revision` == NextRevision(). `entry` is set for entry changes.
  absl::Status AppendChange(int64_t revision, ChangeKind kind, ChangeOp op,
                            absl::string_view object_id, const RegistrationEntry* entry);
  // Runs `body` inside a savepoint. When it fails, its writes (and revisions) are undone, the
  // transaction stays usable, and its status is returned. Without savepoints, `body` just runs:
  // the caller must then abort the transaction when it fails.
  absl::Status InSavepoint(absl::FunctionRef<absl::Status()> body);
  bool savepoints() const { return savepoints_; }

 private:
  sql::Connection& conn_;
  const bool savepoints_;
  std::optional<int64_t> last_revision_;
};

class SqlDataStore final : public DataStore {
 public:
  SqlDataStore(const sql::Dialect& dialect, std::unique_ptr<sql::ConnectionPool> pool,
               const Clock& clock, int schema_version)
      : dialect_(dialect), pool_(std::move(pool)), clock_(clock), schema_version_(schema_version) {}
  ~SqlDataStore() override { Close(); }

  // EntryStore:
  absl::StatusOr<std::vector<absl::StatusOr<RegistrationEntry>>> CreateEntries(
      absl::Span<const RegistrationEntry> entries) override;
  absl::StatusOr<RegistrationEntry> GetEntry(absl::string_view id) override;
  absl::StatusOr<RegistrationEntry> UpdateEntry(const RegistrationEntry& entry,
                                                std::optional<int64_t> expected_revision) override;
  absl::StatusOr<RegistrationEntry> DeleteEntry(absl::string_view id) override;
  absl::StatusOr<EntryPage> ListEntries(const EntryFilter& filter, absl::string_view page_token,
                                        int page_size) override;
  absl::StatusOr<int64_t> CountEntries(const EntryFilter& filter) override;

  // NodeStore:
  absl::StatusOr<AttestedNode> CreateNode(const AttestedNode& node) override;
  absl::StatusOr<AttestedNode> GetNode(absl::string_view spiffe_id) override;
  absl::StatusOr<AttestedNode> UpdateNode(const AttestedNode& node) override;
  absl::StatusOr<AttestedNode> SetNodeBanned(absl::string_view spiffe_id, bool banned) override;
  absl::StatusOr<AttestedNode> DeleteNode(absl::string_view spiffe_id) override;
  absl::StatusOr<NodePage> ListNodes(absl::string_view page_token, int page_size) override;

  // JoinTokenStore:
  absl::Status CreateJoinToken(const JoinToken& token) override;
  absl::StatusOr<JoinToken> ConsumeJoinToken(absl::string_view token, absl::Time now) override;
  absl::StatusOr<int64_t> PruneJoinTokens(absl::Time now) override;

  // BundleStore:
  absl::Status SetBundle(const StoredBundle& bundle) override;
  absl::StatusOr<StoredBundle> GetBundle(absl::string_view trust_domain) override;
  absl::StatusOr<std::vector<StoredBundle>> ListBundles() override;
  absl::Status DeleteBundle(absl::string_view trust_domain) override;

  // CaJournalStore:
  absl::Status PutCaKey(const CaKeyRecord& record) override;
  absl::StatusOr<std::vector<CaKeyRecord>> ListCaKeys(CaKeyKind kind) override;
  absl::Status DeleteCaKey(absl::string_view key_id) override;

  // AuditStore:
  absl::Status AppendAudit(const AuditEvent& event) override;
  absl::StatusOr<std::vector<AuditEvent>> ListAudit(const AuditFilter& filter) override;

  // ChangeLog:
  absl::StatusOr<int64_t> CurrentRevision() override;
  absl::StatusOr<std::vector<Change>> ChangesSince(int64_t after, int limit) override;

  // DataStore:
  int SchemaVersion() const override { return schema_version_; }
  void Close() override { pool_->Close(); }

 private:
  // Runs `body` in a writing transaction and commits it; rolls back when `body` fails.
  // `logs_changes` takes the change log lock first.
  absl::Status Write(bool logs_changes, absl::FunctionRef<absl::Status(Txn&)> body);
  // Runs `body` on a pooled connection (each statement its own implicit transaction).
  absl::Status Read(absl::FunctionRef<absl::Status(sql::Connection&)> body);
  // The current time as stored (whole seconds).
  absl::Time Now() const;

  // Entry helpers (sql_entries.cc).
  // Writes a new entry, its index rows and its change. False (nothing written) when an entry with
  // its id or its (spiffe_id, parent_id, selectors) exists.
  absl::StatusOr<bool> InsertEntry(Txn& txn, const RegistrationEntry& entry);
  // Indexes the selectors and/or federated trust domains of the entry with sequence `seq`.
  absl::Status InsertEntryLinks(Txn& txn, int64_t seq, const RegistrationEntry& entry,
                                bool selectors, bool federates_with);
  absl::StatusOr<std::optional<RegistrationEntry>> FindEntry(sql::Connection& conn,
                                                             absl::string_view id);
  absl::Status DuplicateEntryError(Txn& txn, const RegistrationEntry& entry,
                                   absl::string_view action);

  const sql::Dialect& dialect_;
  const std::unique_ptr<sql::ConnectionPool> pool_;
  const Clock& clock_;
  const int schema_version_;
  // Held for a whole writing transaction when dialect_.single_writer. A std::mutex for the
  // reason given in sql/connection_pool.h.
  std::mutex write_mu_;
};

}  // namespace internal
}  // namespace signet::server

#endif  // SIGNET_SERVER_DATASTORE_SQL_DATASTORE_H_
