// A Connection over libpq. Statements are prepared once per connection (named "s1", "s2", ...)
// with `?` rewritten to `$n`; parameters go as text, except blobs which go as binary; results
// come back as text and are decoded by column type (integers, bytea, text).
//
// Not thread-safe; see ConnectionPool.
#ifndef SIGNET_SERVER_DATASTORE_POSTGRES_PG_CONNECTION_H_
#define SIGNET_SERVER_DATASTORE_POSTGRES_PG_CONNECTION_H_

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::postgres {

class PgConnection final : public sql::Connection {
 public:
  // Connects with a libpq conninfo string ("host=/tmp/x dbname=signet user=signet").
  // Unavailable when the server cannot be reached or refuses the connection.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(const std::string& conninfo);

  // sql::Connection:
  absl::Status Exec(absl::string_view sql) override;
  absl::StatusOr<sql::Result> Query(absl::string_view sql,
                                    absl::Span<const sql::Param> params) override;
  bool healthy() const override { return PQstatus(conn_.get()) == CONNECTION_OK; }

 private:
  struct ConnCloser {
    void operator()(PGconn* conn) const { PQfinish(conn); }
  };
  struct ResultClearer {
    void operator()(PGresult* res) const { PQclear(res); }
  };
  using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  // The name of the prepared statement for `sql`, preparing it on first use.
  absl::StatusOr<std::string> Prepare(absl::string_view sql);
  // OK when `res` has `expected` status (or PGRES_TUPLES_OK / PGRES_COMMAND_OK), else the error.
  absl::Status Check(const PGresult* res, absl::string_view what) const;
  absl::StatusOr<sql::Result> Decode(const PGresult* res) const;

  std::unique_ptr<PGconn, ConnCloser> conn_;
  absl::flat_hash_map<std::string, std::string> statements_;  // sql text -> statement name
  int next_statement_ = 1;
};

}  // namespace signet::server::postgres

#endif  // SIGNET_SERVER_DATASTORE_POSTGRES_PG_CONNECTION_H_
