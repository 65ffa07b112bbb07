#include "src/server/datastore/sql/dialect.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace signet::server::sql {

std::string Dialect::ExpandSchema(absl::string_view ddl) const {
  return absl::StrReplaceAll(ddl, {{"{AUTO_ID}", auto_id},
                                   {"{SERIAL_KEY}", serial_key},
                                   {"{INT64_KEY}", int64_key},
                                   {"{BLOB}", blob},
                                   {"{KEY_TEXT}", key_text},
                                   {"{WITHOUT_ROWID}", without_rowid}});
}

const Dialect& SqliteDialect() {
  static const Dialect kDialect = {
      .name = "sqlite",
      .begin_write = "BEGIN IMMEDIATE",
      .change_log_lock = "",
      .migration_lock = "",
      .savepoint_per_item = false,
      .single_writer = true,
      .auto_id = "INTEGER PRIMARY KEY AUTOINCREMENT",
      .serial_key = "INTEGER PRIMARY KEY",
      .int64_key = "INTEGER PRIMARY KEY",  // the rowid itself: no separate index
      .blob = "BLOB",
      .key_text = "TEXT",  // BINARY collation
      .without_rowid = "WITHOUT ROWID",
  };
  return kDialect;
}

const Dialect& PostgresDialect() {
  // Transaction-scoped advisory locks: released by COMMIT or ROLLBACK, even when the client
  // dies. The keys are arbitrary constants private to Signet ("SGNT" + a small number).
  static const Dialect kDialect = {
      .name = "postgres",
      .begin_write = "BEGIN",
      .change_log_lock = "SELECT pg_advisory_xact_lock(1397182036001)",
      .migration_lock = "SELECT pg_advisory_xact_lock(1397182036002)",
      .savepoint_per_item = true,
      .single_writer = false,
      .auto_id = "BIGSERIAL PRIMARY KEY",
      .serial_key = "BIGSERIAL PRIMARY KEY",
      .int64_key = "BIGINT PRIMARY KEY",
      .blob = "BYTEA",
      .key_text = "TEXT COLLATE \"C\"",
      .without_rowid = "",
  };
  return kDialect;
}

std::string NumberPlaceholders(absl::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (char c : sql) {
    if (c == '?') {
      absl::StrAppend(&out, "$", ++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace signet::server::sql
