#include "src/server/datastore/sqlite/sqlite_connection.h"

#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/common/status_macros.h"

namespace signet::server::sqlite {
namespace {

// Statements kept per connection. The datastore's statements are a few dozen fixed texts plus
// filter variants; past this bound the cache starts over rather than growing without limit.
constexpr size_t kMaxCachedStatements = 256;
constexpr int kBusyTimeoutMs = 10000;

absl::StatusCode CodeFor(int code) {
  switch (code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return absl::StatusCode::kAlreadyExists;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    default:
      break;
  }
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    default:
      return absl::StatusCode::kInternal;
  }
}

// SQLite treats a null data pointer as SQL NULL; an empty view may have one.
const char* NonNull(absl::string_view s) { return s.data() != nullptr ? s.data() : ""; }

sql::Cell ReadCell(sqlite3_stmt* stmt, int col) {
  sql::Cell cell;
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      cell.type = sql::Cell::Type::kInt;
      cell.int_value = sqlite3_column_int64(stmt, col);
      break;
    case SQLITE_TEXT: {
      cell.type = sql::Cell::Type::kText;
      const unsigned char* text = sqlite3_column_text(stmt, col);
      cell.bytes.assign(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt, col));
      break;
    }
    case SQLITE_BLOB: {
      cell.type = sql::Cell::Type::kBlob;
      const void* blob = sqlite3_column_blob(stmt, col);
      if (blob != nullptr) {
        cell.bytes.assign(static_cast<const char*>(blob), sqlite3_column_bytes(stmt, col));
      }
      break;
    }
    case SQLITE_FLOAT:
      cell.type = sql::Cell::Type::kReal;
      break;
    default:
      cell.type = sql::Cell::Type::kNull;
      break;
  }
  return cell;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path) {
  // Memory statistics take a process-wide mutex on every allocation SQLite makes; nothing here
  // reads them. Only possible before SQLite initializes; later calls fail harmlessly.
  static const bool kConfigured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)kConfigured;
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(raw));  // owns raw even on error
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "datastore: sqlite: open \"", path, "\": ", raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  // temp_store=MEMORY keeps statement journals out of temporary files. A 64 MiB page cache keeps
  // the randomly written index pages of a large store resident, and checkpointing every 8000
  // pages (32 MiB of WAL) instead of 1000 writes those pages back once per several batches
  // rather than once per batch.
  //
  // Switching a new database to WAL takes an exclusive lock, and SQLite can answer SQLITE_BUSY
  // at once, without its busy handler, while another connection is opening the same file (seen
  // as "database is locked" with several stores opening a fresh file together). The pragmas
  // are idempotent, so they are retried within the busy timeout.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(kBusyTimeoutMs);
  absl::Status setup;
  while (true) {
    setup = conn->Exec(
        "PRAGMA page_size=1024; "
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; "
        "PRAGMA mmap_size=2147483648; PRAGMA wal_autocheckpoint=32000");
    const int code = sqlite3_errcode(raw) & 0xff;
    if (setup.ok() || (code != SQLITE_BUSY && code != SQLITE_LOCKED) || absl::Now() >= deadline) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  SIGNET_RETURN_IF_ERROR(setup);
  return conn;
}

absl::Status SqliteConnection::Error(int code, absl::string_view what) const {
  return absl::Status(CodeFor(code),
                      absl::StrCat("datastore: sqlite: ", what, ": ", sqlite3_errmsg(db_.get())));
}

absl::Status SqliteConnection::Exec(absl::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
  std::string detail = message != nullptr ? message : "";
  sqlite3_free(message);
  if (rc != SQLITE_OK) {
    return absl::Status(CodeFor(sqlite3_extended_errcode(db_.get())),
                        absl::StrCat("datastore: sqlite: ", detail));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3_stmt*> SqliteConnection::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    return it->second.get();
  }
  if (statements_.size() >= kMaxCachedStatements) {
    statements_.clear();
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) {
    return Error(rc, "prepare");
  }
  if (stmt == nullptr) {
    return absl::InternalError("datastore: sqlite: empty statement");
  }
  return statements_.emplace(std::string(sql), std::move(stmt)).first->second.get();
}

absl::Status SqliteConnection::Bind(sqlite3_stmt* stmt, absl::Span<const sql::Param> params) {
  if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
    return absl::InternalError(absl::StrCat("datastore: sqlite: statement takes ",
                                            sqlite3_bind_parameter_count(stmt), " parameters, got ",
                                            params.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    const sql::Param& p = params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(p)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const int64_t* v = std::get_if<int64_t>(&p)) {
      rc = sqlite3_bind_int64(stmt, index, *v);
    } else if (const absl::string_view* s = std::get_if<absl::string_view>(&p)) {
      rc = sqlite3_bind_text64(stmt, index, NonNull(*s), s->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      absl::string_view bytes = std::get<sql::Blob>(p).bytes;
      rc = sqlite3_bind_blob64(stmt, index, NonNull(bytes), bytes.size(), SQLITE_STATIC);
    }
    if (rc != SQLITE_OK) {
      return Error(rc, "bind");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<sql::Result> SqliteConnection::Query(absl::string_view sql,
                                                    absl::Span<const sql::Param> params) {
  SIGNET_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
  // Parameters are borrowed: reset and unbind on every path before returning.
  struct Resetter {
    sqlite3_stmt* stmt;
    ~Resetter() {
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    }
  } resetter{stmt};
  SIGNET_RETURN_IF_ERROR(Bind(stmt, params));
  const int num_columns = sqlite3_column_count(stmt);
  std::vector<std::string> columns;
  columns.reserve(num_columns);
  for (int c = 0; c < num_columns; ++c) {
    columns.emplace_back(sqlite3_column_name(stmt, c));
  }
  std::vector<sql::Cell> cells;
  while (true) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
      break;
    }
    if (rc != SQLITE_ROW) {
      return Error(rc, "step");
    }
    for (int c = 0; c < num_columns; ++c) {
      cells.push_back(ReadCell(stmt, c));
    }
  }
  int64_t changed = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_.get());
  return sql::Result(std::move(columns), std::move(cells), changed);
}

}  // namespace signet::server::sqlite
