// A Connection over the SQLite C API. The database file is opened in WAL mode with foreign keys
// on, synchronous=NORMAL (durable across process crashes; a power loss may drop the last
// commits, never corrupt) and a busy timeout for writers of other processes.
//
// Not thread-safe (the connection is opened with SQLITE_OPEN_NOMUTEX); see ConnectionPool.
#ifndef SIGNET_SERVER_DATASTORE_SQLITE_SQLITE_CONNECTION_H_
#define SIGNET_SERVER_DATASTORE_SQLITE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::sqlite {

class SqliteConnection final : public sql::Connection {
 public:
  // Opens (creating if needed) the database file at `path`. Unavailable when it cannot.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(const std::string& path);

  // sql::Connection:
  absl::Status Exec(absl::string_view sql) override;
  absl::StatusOr<sql::Result> Query(absl::string_view sql,
                                    absl::Span<const sql::Param> params) override;
  bool healthy() const override { return true; }

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql);
  absl::Status Bind(sqlite3_stmt* stmt, absl::Span<const sql::Param> params);
  absl::Status Error(int code, absl::string_view what) const;

  // Declared first so that it is destroyed last, after the statements.
  std::unique_ptr<sqlite3, DbCloser> db_;
  absl::flat_hash_map<std::string, StmtPtr> statements_;
};

}  // namespace signet::server::sqlite

#endif  // SIGNET_SERVER_DATASTORE_SQLITE_SQLITE_CONNECTION_H_
