#include "src/server/datastore/sql_datastore.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/postgres/pg_connection.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/schema.h"
#include "src/server/datastore/sqlite/sqlite_connection.h"
#include "src/server/datastore/validation.h"

namespace signet::server {
namespace {

constexpr int kMaxConnections = 1000;
constexpr int kMaxChangesLimit = 100000;

absl::string_view KindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kEntry:
      return "entry";
    case ChangeKind::kNode:
      return "node";
    case ChangeKind::kBundle:
      return "bundle";
  }
  return "?";
}

absl::string_view OpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return "create";
    case ChangeOp::kUpdate:
      return "update";
    case ChangeOp::kDelete:
      return "delete";
  }
  return "?";
}

absl::StatusOr<Change> ChangeFromRow(const internal::RowReader& r) {
  Change c;
  SIGNET_ASSIGN_OR_RETURN(c.revision, r.Int64(0));
  if (c.revision < 1) {
    return r.Corrupt(0, "not positive");
  }
  SIGNET_ASSIGN_OR_RETURN(std::string kind, r.Text(1));
  if (kind == "entry") {
    c.kind = ChangeKind::kEntry;
  } else if (kind == "node") {
    c.kind = ChangeKind::kNode;
  } else if (kind == "bundle") {
    c.kind = ChangeKind::kBundle;
  } else {
    return r.Corrupt(1, "unknown kind");
  }
  SIGNET_ASSIGN_OR_RETURN(std::string op, r.Text(2));
  if (op == "create") {
    c.op = ChangeOp::kCreate;
  } else if (op == "update") {
    c.op = ChangeOp::kUpdate;
  } else if (op == "delete") {
    c.op = ChangeOp::kDelete;
  } else {
    return r.Corrupt(2, "unknown op");
  }
  SIGNET_ASSIGN_OR_RETURN(c.object_id, r.Text(3));
  if (c.object_id.empty()) {
    return r.Corrupt(3, "empty");
  }
  if (c.kind != ChangeKind::kEntry) {
    if (!r.IsNull(4)) {
      return r.Corrupt(4, "set for a change that is not an entry's");
    }
    return c;
  }
  SIGNET_ASSIGN_OR_RETURN(std::string json, r.Text(4));
  absl::StatusOr<RegistrationEntry> entry = internal::EntryFromJson(json);
  if (!entry.ok()) {
    return r.Corrupt(4, entry.status().message());
  }
  if (entry->id != c.object_id) {
    return r.Corrupt(4, "entry id differs from object_id");
  }
  c.entry = *std::move(entry);
  return c;
}

absl::StatusOr<std::unique_ptr<sql::ConnectionPool>> MakePool(const DataStoreOptions& options,
                                                              const sql::Dialect** dialect) {
  if (options.connection_string.empty()) {
    return absl::InvalidArgumentError("datastore: connection_string: empty");
  }
  if (options.max_connections < 1 || options.max_connections > kMaxConnections) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: max_connections: must be in [1, ", kMaxConnections, "]"));
  }
  const std::string& target = options.connection_string;
  if (options.driver == "sqlite") {
    *dialect = &sql::SqliteDialect();
    // Every connection to ":memory:" would be a separate database.
    int size = target == ":memory:" ? 1 : options.max_connections;
    return std::make_unique<sql::ConnectionPool>(
        [target]() -> absl::StatusOr<std::unique_ptr<sql::Connection>> {
          return sqlite::SqliteConnection::Open(target);
        },
        size);
  }
  if (options.driver == "postgres") {
    *dialect = &sql::PostgresDialect();
    return std::make_unique<sql::ConnectionPool>(
        [target]() -> absl::StatusOr<std::unique_ptr<sql::Connection>> {
          return postgres::PgConnection::Open(target);
        },
        options.max_connections);
  }
  return absl::InvalidArgumentError(absl::StrCat("datastore: driver: unknown driver \"",
                                                 options.driver.substr(0, 32),
                                                 "\" (want \"sqlite\" or \"postgres\")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataStore>> OpenSqlDataStore(const DataStoreOptions& options,
                                                            const Clock& clock) {
  const sql::Dialect* dialect = nullptr;
  SIGNET_ASSIGN_OR_RETURN(std::unique_ptr<sql::ConnectionPool> pool, MakePool(options, &dialect));
  int version = 0;
  {
    SIGNET_ASSIGN_OR_RETURN(sql::ConnectionPool::Lease conn, pool->Acquire());
    SIGNET_ASSIGN_OR_RETURN(version, internal::Migrate(*conn, *dialect, clock.Now()));
  }
  return std::make_unique<internal::SqlDataStore>(*dialect, std::move(pool), clock, version);
}

namespace internal {

absl::StatusOr<int64_t> Txn::NextRevision() {
  if (!last_revision_.has_value()) {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn_.Query("SELECT COALESCE(MAX(revision), 0) FROM changes", {}));
    SIGNET_ASSIGN_OR_RETURN(last_revision_, r.Int64("changes", 0, 0));
  }
  return *last_revision_ + 1;
}

absl::Status Txn::AppendChange(int64_t revision, ChangeKind kind, ChangeOp op,
                               absl::string_view object_id, const RegistrationEntry* entry) {
  SIGNET_ASSIGN_OR_RETURN(int64_t next, NextRevision());
  if (revision != next) {
    return absl::InternalError("datastore: change log: revision out of order");
  }
  std::string json = entry != nullptr ? EntryToJson(*entry) : "";
  sql::Param entry_param = entry != nullptr ? sql::Param(absl::string_view(json)) : nullptr;
  SIGNET_RETURN_IF_ERROR(
      conn_
          .Query(
              "INSERT INTO changes (revision, kind, op, object_id, entry) VALUES (?, ?, ?, ?, ?)",
              {revision, KindName(kind), OpName(op), object_id, entry_param})
          .status());
  last_revision_ = revision;
  return absl::OkStatus();
}

absl::Status Txn::InSavepoint(absl::FunctionRef<absl::Status()> body) {
  if (!savepoints_) {
    return body();
  }
  std::optional<int64_t> saved_revision = last_revision_;
  SIGNET_RETURN_IF_ERROR(conn_.Exec("SAVEPOINT item"));
  absl::Status status = body();
  if (status.ok()) {
    return conn_.Exec("RELEASE SAVEPOINT item");
  }
  last_revision_ = saved_revision;
  SIGNET_RETURN_IF_ERROR(conn_.Exec("ROLLBACK TO SAVEPOINT item"));
  SIGNET_RETURN_IF_ERROR(conn_.Exec("RELEASE SAVEPOINT item"));
  return status;
}

absl::Status SqlDataStore::Write(bool logs_changes, absl::FunctionRef<absl::Status(Txn&)> body) {
  std::unique_lock<std::mutex> one_writer(write_mu_, std::defer_lock);
  if (dialect_.single_writer) {
    one_writer.lock();
  }
  SIGNET_ASSIGN_OR_RETURN(sql::ConnectionPool::Lease conn, pool_->Acquire());
  SIGNET_RETURN_IF_ERROR(conn->Exec(dialect_.begin_write));
  absl::Status status;
  if (logs_changes && !dialect_.change_log_lock.empty()) {
    status = conn->Exec(dialect_.change_log_lock);
  }
  if (status.ok()) {
    Txn txn(*conn, dialect_.savepoint_per_item);
    status = body(txn);
  }
  if (status.ok()) {
    status = conn->Exec("COMMIT");
    if (status.ok()) {
      return status;
    }
  }
  conn->Exec("ROLLBACK").IgnoreError();
  return status;
}

absl::Status SqlDataStore::Read(absl::FunctionRef<absl::Status(sql::Connection&)> body) {
  SIGNET_ASSIGN_OR_RETURN(sql::ConnectionPool::Lease conn, pool_->Acquire());
  return body(*conn);
}

absl::Time SqlDataStore::Now() const { return ToStoredTime(clock_.Now()); }

// ---------------------------------------------------------------- ChangeLog

absl::StatusOr<int64_t> SqlDataStore::CurrentRevision() {
  int64_t revision = 0;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn.Query("SELECT COALESCE(MAX(revision), 0) FROM changes", {}));
    SIGNET_ASSIGN_OR_RETURN(revision, r.Int64("changes", 0, 0));
    return absl::OkStatus();
  }));
  return revision;
}

absl::StatusOr<std::vector<Change>> SqlDataStore::ChangesSince(int64_t after, int limit) {
  if (after < 0) {
    return absl::InvalidArgumentError("datastore: changes since: after: negative");
  }
  if (limit < 1 || limit > kMaxChangesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: changes since: limit: must be in [1, ", kMaxChangesLimit, "]"));
  }
  std::vector<Change> changes;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn.Query("SELECT revision, kind, op, object_id, entry FROM changes "
                                       "WHERE revision > ? ORDER BY revision LIMIT ?",
                                       {after, int64_t{limit}}));
    changes.reserve(r.num_rows());
    for (size_t i = 0; i < r.num_rows(); ++i) {
      SIGNET_ASSIGN_OR_RETURN(Change c, ChangeFromRow(RowReader(r, i, "changes")));
      changes.push_back(std::move(c));
    }
    return absl::OkStatus();
  }));
  return changes;
}

}  // namespace internal
}  // namespace signet::server
