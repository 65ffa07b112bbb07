// The conformance suite on SQLite (a database file in a fresh temporary directory per test).
#include "src/server/datastore/datastore_conformance_test.h"

namespace signet::server::testing {

INSTANTIATE_TEST_SUITE_P(Sqlite, DataStoreConformanceTest, ::testing::Values(SqliteBackend()),
                         [](const auto& info) { return info.param.name; });

}  // namespace signet::server::testing
