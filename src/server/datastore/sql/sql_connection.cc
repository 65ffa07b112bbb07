#include "src/server/datastore/sql/sql_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace signet::server::sql {
namespace {

absl::string_view TypeName(Cell::Type type) {
  switch (type) {
    case Cell::Type::kNull:
      return "null";
    case Cell::Type::kInt:
      return "an integer";
    case Cell::Type::kText:
      return "text";
    case Cell::Type::kBlob:
      return "a blob";
    case Cell::Type::kReal:
      return "a real number";
  }
  return "unknown";
}

}  // namespace

Result::Result(std::vector<std::string> columns, std::vector<Cell> cells, int64_t rows_affected)
    : columns_(std::move(columns)), cells_(std::move(cells)), rows_affected_(rows_affected) {}

bool Result::IsNull(size_t row, size_t col) const { return At(row, col).type == Cell::Type::kNull; }

absl::Status Result::Corrupt(absl::string_view table, size_t col, absl::string_view what) const {
  return absl::DataLossError(absl::StrCat("datastore: ", table, ".", columns_[col], ": ", what));
}

absl::StatusOr<int64_t> Result::Int64(absl::string_view table, size_t row, size_t col) const {
  const Cell& cell = At(row, col);
  if (cell.type != Cell::Type::kInt) {
    return Corrupt(table, col, absl::StrCat("expected an integer, found ", TypeName(cell.type)));
  }
  return cell.int_value;
}

absl::StatusOr<std::string> Result::Text(absl::string_view table, size_t row, size_t col) {
  Cell& cell = At(row, col);
  if (cell.type != Cell::Type::kText) {
    return Corrupt(table, col, absl::StrCat("expected text, found ", TypeName(cell.type)));
  }
  return std::move(cell.bytes);
}

absl::StatusOr<std::string> Result::Bytes(absl::string_view table, size_t row, size_t col) {
  Cell& cell = At(row, col);
  if (cell.type != Cell::Type::kBlob) {
    return Corrupt(table, col, absl::StrCat("expected a blob, found ", TypeName(cell.type)));
  }
  return std::move(cell.bytes);
}

}  // namespace signet::server::sql
