// The seam between the datastore and a SQL database: one connection that runs statements with
// typed parameters and returns materialized rows. Implemented for SQLite and PostgreSQL.
//
// Statements are written with `?` placeholders; a connection prepares each distinct statement
// text once and keeps it for its lifetime. Errors map to absl codes: a unique or primary key
// violation -> AlreadyExists; a lost connection, a busy database or an I/O error -> Unavailable;
// anything else (a bad statement) -> Internal.
//
// A connection is not thread-safe: one thread uses it at a time (ConnectionPool hands it out).
#ifndef SIGNET_SERVER_DATASTORE_SQL_SQL_CONNECTION_H_
#define SIGNET_SERVER_DATASTORE_SQL_SQL_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace signet::server::sql {

// A BLOB (SQLite) / BYTEA (PostgreSQL) parameter. Borrows the bytes for the call.
struct Blob {
  absl::string_view bytes;
};

// A parameter: NULL, an integer, text (borrowed for the call) or bytes.
using Param = std::variant<std::nullptr_t, int64_t, absl::string_view, Blob>;

// One value read back. kReal only exists because SQLite columns are dynamically typed; no
// getter accepts it.
struct Cell {
  enum class Type { kNull, kInt, kText, kBlob, kReal };
  Type type = Type::kNull;
  int64_t int_value = 0;
  std::string bytes;  // kText, kBlob
};

// The rows of a query, materialized. Getters check the stored type and fail with DataLoss
// "datastore: <table>.<column>: ..." so that no bad value read back goes unnoticed. Text and
// Bytes move the value out of the cell: read each text or blob cell once.
class Result {
 public:
  Result() = default;
  Result(std::vector<std::string> columns, std::vector<Cell> cells, int64_t rows_affected);

  size_t num_rows() const { return columns_.empty() ? 0 : cells_.size() / columns_.size(); }
  size_t num_columns() const { return columns_.size(); }
  int64_t rows_affected() const { return rows_affected_; }
  const std::string& column_name(size_t col) const { return columns_[col]; }

  bool IsNull(size_t row, size_t col) const;
  // The table name is only used in error messages.
  absl::StatusOr<int64_t> Int64(absl::string_view table, size_t row, size_t col) const;
  absl::StatusOr<std::string> Text(absl::string_view table, size_t row, size_t col);
  absl::StatusOr<std::string> Bytes(absl::string_view table, size_t row, size_t col);

  // DataLoss "datastore: <table>.<column of col>: <what>".
  absl::Status Corrupt(absl::string_view table, size_t col, absl::string_view what) const;

 private:
  const Cell& At(size_t row, size_t col) const { return cells_[row * columns_.size() + col]; }
  Cell& At(size_t row, size_t col) { return cells_[row * columns_.size() + col]; }
  std::vector<std::string> columns_;
  std::vector<Cell> cells_;
  int64_t rows_affected_ = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Runs statements without parameters or results (DDL, BEGIN, SAVEPOINT, ...).
  virtual absl::Status Exec(absl::string_view sql) = 0;
  // Runs one statement (prepared once per connection and text) with `params` bound in order.
  virtual absl::StatusOr<Result> Query(absl::string_view sql, absl::Span<const Param> params) = 0;
  // False once the connection is known to be broken; the pool then discards it.
  virtual bool healthy() const = 0;
};

}  // namespace signet::server::sql

#endif  // SIGNET_SERVER_DATASTORE_SQL_SQL_CONNECTION_H_
