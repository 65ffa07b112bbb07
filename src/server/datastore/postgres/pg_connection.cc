#include "src/server/datastore/postgres/pg_connection.h"

#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/sql/dialect.h"

namespace signet::server::postgres {
namespace {

constexpr size_t kMaxCachedStatements = 256;

// Type OIDs from pg_type.h (stable across PostgreSQL versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (state == "23505") {  // unique_violation
    return absl::StatusCode::kAlreadyExists;
  }
  if (state == "40001" || state == "40P01") {  // serialization failure, deadlock
    return absl::StatusCode::kAborted;
  }
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "53") ||
      absl::StartsWith(state, "57") || state == "55P03") {
    return absl::StatusCode::kUnavailable;  // connection, resources, shutdown, lock timeout
  }
  if (absl::StartsWith(state, "22")) {  // data exception: a value the column cannot hold
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

// Decodes bytea's text output ("\x0a1b...").
absl::StatusOr<std::string> DecodeByteaHex(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "\\x") || text.size() % 2 != 0) {
    return absl::InternalError("datastore: postgres: bytea not in hex output format");
  }
  std::string out;
  out.reserve(text.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]);
    int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InternalError("datastore: postgres: bad hex digit in bytea");
    }
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

absl::StatusOr<sql::Cell> DecodeCell(Oid type, absl::string_view text) {
  sql::Cell cell;
  switch (type) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid:
      cell.type = sql::Cell::Type::kInt;
      if (!absl::SimpleAtoi(text, &cell.int_value)) {
        return absl::InternalError(absl::StrCat("datastore: postgres: bad integer \"", text, "\""));
      }
      return cell;
    case kBoolOid:
      cell.type = sql::Cell::Type::kInt;
      cell.int_value = text == "t" ? 1 : 0;
      return cell;
    case kByteaOid: {
      cell.type = sql::Cell::Type::kBlob;
      SIGNET_ASSIGN_OR_RETURN(cell.bytes, DecodeByteaHex(text));
      return cell;
    }
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid:
      cell.type = sql::Cell::Type::kReal;
      return cell;
    default:
      cell.type = sql::Cell::Type::kText;
      cell.bytes.assign(text.data(), text.size());
      return cell;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& conninfo) {
  std::unique_ptr<PgConnection> conn(new PgConnection(PQconnectdb(conninfo.c_str())));
  if (conn->conn_ == nullptr) {
    return absl::UnavailableError("datastore: postgres: out of memory");
  }
  if (PQstatus(conn->conn_.get()) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn->conn_.get());
    absl::StripTrailingAsciiWhitespace(&message);
    return absl::UnavailableError(absl::StrCat("datastore: postgres: connect: ", message));
  }
  PQsetNoticeProcessor(conn->conn_.get(), IgnoreNotice, nullptr);
  SIGNET_RETURN_IF_ERROR(conn->Exec("SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
  return conn;
}

absl::Status PgConnection::Check(const PGresult* res, absl::string_view what) const {
  ExecStatusType status = PQresultStatus(res);
  if (res != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) {
    return absl::OkStatus();
  }
  std::string message = res != nullptr ? PQresultErrorMessage(res) : "";
  if (message.empty()) {
    message = PQerrorMessage(conn_.get());
  }
  absl::StripTrailingAsciiWhitespace(&message);
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  absl::StatusCode code = absl::StatusCode::kUnavailable;  // no SQLSTATE: the connection failed
  if (state != nullptr) {
    code = CodeForSqlState(state);
  }
  if (!healthy()) {
    code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, absl::StrCat("datastore: postgres: ", what, ": ", message));
}

absl::Status PgConnection::Exec(absl::string_view sql) {
  std::string text(sql);
  ResultPtr res(PQexec(conn_.get(), text.c_str()));
  return Check(res.get(), "exec");
}

absl::StatusOr<std::string> PgConnection::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    return it->second;
  }
  if (statements_.size() >= kMaxCachedStatements) {
    SIGNET_RETURN_IF_ERROR(Exec("DEALLOCATE ALL"));
    statements_.clear();
  }
  std::string name = absl::StrCat("s", next_statement_++);
  std::string text = sql::NumberPlaceholders(sql);
  ResultPtr res(PQprepare(conn_.get(), name.c_str(), text.c_str(), 0, nullptr));
  SIGNET_RETURN_IF_ERROR(Check(res.get(), "prepare"));
  statements_.emplace(std::string(sql), name);
  return name;
}

absl::StatusOr<sql::Result> PgConnection::Query(absl::string_view sql,
                                                absl::Span<const sql::Param> params) {
  SIGNET_ASSIGN_OR_RETURN(std::string name, Prepare(sql));
  const size_t n = params.size();
  std::vector<std::string> text(n);  // owns NUL-terminated text forms
  std::vector<const char*> values(n, nullptr);
  std::vector<int> lengths(n, 0);
  std::vector<int> formats(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const sql::Param& p = params[i];
    if (std::holds_alternative<std::nullptr_t>(p)) {
      continue;  // values[i] == nullptr is NULL
    }
    if (const int64_t* v = std::get_if<int64_t>(&p)) {
      text[i] = absl::StrCat(*v);
    } else if (const absl::string_view* s = std::get_if<absl::string_view>(&p)) {
      if (s->find('\0') != absl::string_view::npos) {
        return absl::InvalidArgumentError("datastore: postgres: text contains a NUL byte");
      }
      text[i].assign(s->data(), s->size());
    } else {
      absl::string_view bytes = std::get<sql::Blob>(p).bytes;
      values[i] = bytes.data() != nullptr ? bytes.data() : "";
      lengths[i] = static_cast<int>(bytes.size());
      formats[i] = 1;
      continue;
    }
    values[i] = text[i].c_str();
  }
  ResultPtr res(PQexecPrepared(conn_.get(), name.c_str(), static_cast<int>(n), values.data(),
                               lengths.data(), formats.data(), /*resultFormat=*/0));
  SIGNET_RETURN_IF_ERROR(Check(res.get(), "query"));
  return Decode(res.get());
}

absl::StatusOr<sql::Result> PgConnection::Decode(const PGresult* res) const {
  const int rows = PQntuples(res);
  const int cols = PQnfields(res);
  std::vector<std::string> columns;
  columns.reserve(cols);
  for (int c = 0; c < cols; ++c) {
    columns.emplace_back(PQfname(res, c));
  }
  std::vector<sql::Cell> cells;
  cells.reserve(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res, r, c)) {
        cells.emplace_back();
        continue;
      }
      absl::string_view text(PQgetvalue(res, r, c), PQgetlength(res, r, c));
      SIGNET_ASSIGN_OR_RETURN(sql::Cell cell, DecodeCell(PQftype(res, c), text));
      cells.push_back(std::move(cell));
    }
  }
  int64_t affected = 0;
  absl::string_view tuples = PQcmdTuples(const_cast<PGresult*>(res));
  if (!tuples.empty() && !absl::SimpleAtoi(tuples, &affected)) {
    return absl::InternalError("datastore: postgres: bad affected-row count");
  }
  return sql::Result(std::move(columns), std::move(cells), affected);
}

}  // namespace signet::server::postgres
