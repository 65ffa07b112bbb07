// Test databases for the datastore conformance suite: each TestDatabase is a fresh, empty
// database of one backend, removed on destruction, with raw SQL access so that tests can plant
// rows the store would never write.
#ifndef SIGNET_SERVER_DATASTORE_DATASTORE_TEST_BACKEND_H_
#define SIGNET_SERVER_DATASTORE_DATASTORE_TEST_BACKEND_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/datastore/datastore.h"

namespace signet::server::testing {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // Options that open this database (max_connections left at its default).
  virtual DataStoreOptions options() const = 0;
  // Runs `sql` (no parameters) directly on the database.
  virtual absl::Status RawExec(absl::string_view sql) = 0;
};

// A database file in a fresh temporary directory.
absl::StatusOr<std::unique_ptr<TestDatabase>> CreateSqliteTestDatabase();

// A fresh database (random name) on the PostgreSQL server whose Unix socket directory is
// $SIGNET_TEST_PG_HOST; dropped on destruction. FailedPrecondition when the variable is unset.
absl::StatusOr<std::unique_ptr<TestDatabase>> CreatePostgresTestDatabase();

struct Backend {
  std::string name;  // "sqlite" | "postgres", also the test name suffix
  std::function<absl::StatusOr<std::unique_ptr<TestDatabase>>()> create;
};

// gtest prints the parameter (and ctest shows it in test names): the backend's name.
void PrintTo(const Backend& backend, std::ostream* os);

Backend SqliteBackend();
Backend PostgresBackend();

}  // namespace signet::server::testing

#endif  // SIGNET_SERVER_DATASTORE_DATASTORE_TEST_BACKEND_H_
