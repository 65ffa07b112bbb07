// What differs between the SQL databases the datastore runs on, in one place: schema type names,
// how a writing transaction starts, how writers of the change log are serialized, and the
// placeholder syntax. Everything else in the datastore is plain SQL shared by both.
#ifndef SIGNET_SERVER_DATASTORE_SQL_DIALECT_H_
#define SIGNET_SERVER_DATASTORE_SQL_DIALECT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace signet::server::sql {

struct Dialect {
  absl::string_view name;  // "sqlite" | "postgres"
  // Starts a transaction that writes. SQLite takes the database write lock up front
  // (BEGIN IMMEDIATE) so that a transaction never fails to upgrade its lock half-way.
  absl::string_view begin_write;
  // Run first in every transaction that appends to the change log, so that revisions are
  // allocated and committed in the same order. Empty when begin_write already serializes.
  absl::string_view change_log_lock;
  // Run first in the migration transaction so that several servers can start on one database.
  absl::string_view migration_lock;
  // Whether CreateEntries wraps each item in a savepoint. Items are written so that a duplicate
  // writes nothing and fails nothing (INSERT ... ON CONFLICT DO NOTHING), and any other failure
  // aborts the batch, so savepoints are only a backstop. PostgreSQL keeps them: there a failed
  // statement would abort the whole transaction, and an item the server rejects (say, text its
  // encoding cannot hold) fails alone. SQLite does not: its savepoints copy every page an item
  // touches into a journal, a third of the cost of a bulk create.
  bool savepoint_per_item = false;
  // True when the database allows one writer at a time (SQLite): the store then queues writers
  // on a mutex instead of letting them spin in the database's busy handler.
  bool single_writer = false;
  // Schema fragments substituted for {AUTO_ID}, {SERIAL_KEY}, {INT64_KEY}, {BLOB}, {KEY_TEXT}
  // and {WITHOUT_ROWID} in migrations. AUTO_ID never reuses a value; SERIAL_KEY may reuse the
  // value of a deleted last row (SQLite) and costs nothing extra per insert. KEY_TEXT is text
  // compared byte by byte, so that keys sort the same way on every database whatever its locale.
  absl::string_view auto_id;
  absl::string_view serial_key;
  absl::string_view int64_key;
  absl::string_view blob;
  absl::string_view key_text;
  absl::string_view without_rowid;

  // Replaces the tokens above in a migration's DDL.
  std::string ExpandSchema(absl::string_view ddl) const;
};

const Dialect& SqliteDialect();
const Dialect& PostgresDialect();

// Rewrites `?` placeholders to PostgreSQL's `$1`, `$2`, ... Statements in this datastore never
// contain `?` inside string literals.
std::string NumberPlaceholders(absl::string_view sql);

}  // namespace signet::server::sql

#endif  // SIGNET_SERVER_DATASTORE_SQL_DIALECT_H_
