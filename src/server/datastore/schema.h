// The datastore's schema as numbered migrations, and the runner that applies them.
//
// Migration N moves a database from schema version N-1 to N; migration 1 creates the whole
// schema. Applied migrations are recorded in `schema_version` (one row per version). Migrations
// are only ever appended: a released migration's text never changes.
#ifndef SIGNET_SERVER_DATASTORE_SCHEMA_H_
#define SIGNET_SERVER_DATASTORE_SCHEMA_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/server/datastore/sql/dialect.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::internal {

// The newest schema version this binary knows.
int LatestSchemaVersion();

// Applies pending migrations in one transaction (for PostgreSQL under an advisory lock, so that
// servers starting together on one database apply them once) and returns the resulting version.
// FailedPrecondition when the database's version is newer than LatestSchemaVersion(); nothing is
// changed then.
absl::StatusOr<int> Migrate(sql::Connection& conn, const sql::Dialect& dialect, absl::Time now);

}  // namespace signet::server::internal

#endif  // SIGNET_SERVER_DATASTORE_SCHEMA_H_
