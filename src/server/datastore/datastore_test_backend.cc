#include "src/server/datastore/datastore_test_backend.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/postgres/pg_connection.h"
#include "src/server/datastore/sqlite/sqlite_connection.h"

namespace signet::server::testing {
namespace {

class SqliteTestDatabase final : public TestDatabase {
 public:
  explicit SqliteTestDatabase(std::string dir) : dir_(std::move(dir)) {}
  ~SqliteTestDatabase() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  DataStoreOptions options() const override {
    return {.driver = "sqlite", .connection_string = dir_ + "/signet.db"};
  }
  absl::Status RawExec(absl::string_view sql) override {
    SIGNET_ASSIGN_OR_RETURN(auto conn, sqlite::SqliteConnection::Open(dir_ + "/signet.db"));
    return conn->Exec(sql);
  }

 private:
  std::string dir_;
};

class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase(std::string host, std::string name)
      : host_(std::move(host)), name_(std::move(name)) {}
  ~PostgresTestDatabase() override {
    auto admin = postgres::PgConnection::Open(Conninfo("postgres"));
    if (admin.ok()) {
      (*admin)
          ->Exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"))
          .IgnoreError();
    }
  }
  DataStoreOptions options() const override {
    return {.driver = "postgres", .connection_string = Conninfo(name_)};
  }
  absl::Status RawExec(absl::string_view sql) override {
    SIGNET_ASSIGN_OR_RETURN(auto conn, postgres::PgConnection::Open(Conninfo(name_)));
    return conn->Exec(sql);
  }
  const std::string& name() const { return name_; }
  std::string Conninfo(absl::string_view dbname) const {
    return absl::StrCat("host=", host_, " user=signet dbname=", dbname);
  }

 private:
  std::string host_;
  std::string name_;
};

std::string RandomHex(int bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return absl::BytesToHexString(raw);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestDatabase>> CreateSqliteTestDatabase() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/signet-ds-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  return std::make_unique<SqliteTestDatabase>(tmpl);
}

absl::StatusOr<std::unique_ptr<TestDatabase>> CreatePostgresTestDatabase() {
  const char* host = std::getenv("SIGNET_TEST_PG_HOST");
  if (host == nullptr || *host == '\0') {
    return absl::FailedPreconditionError(
        "SIGNET_TEST_PG_HOST is not set: run the PostgreSQL tests through ctest (which starts "
        "a server with the signet_pg fixture), or run `scripts/pg-test-server start DIR` and "
        "export SIGNET_TEST_PG_HOST=DIR");
  }
  auto db = std::make_unique<PostgresTestDatabase>(host, "signet_test_" + RandomHex(8));
  SIGNET_ASSIGN_OR_RETURN(auto admin, postgres::PgConnection::Open(db->Conninfo("postgres")));
  SIGNET_RETURN_IF_ERROR(admin->Exec(absl::StrCat("CREATE DATABASE ", db->name())));
  return db;
}

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

Backend SqliteBackend() { return {"sqlite", CreateSqliteTestDatabase}; }
Backend PostgresBackend() { return {"postgres", CreatePostgresTestDatabase}; }

}  // namespace signet::server::testing
