// The conformance suite on PostgreSQL: a fresh database per test on the server whose socket
// directory is $SIGNET_TEST_PG_HOST (ctest starts one with the signet_pg fixture, see
// scripts/pg-test-server). Without the variable every test fails, naming it.
#include "src/server/datastore/datastore_conformance_test.h"

namespace signet::server::testing {

INSTANTIATE_TEST_SUITE_P(Postgres, DataStoreConformanceTest, ::testing::Values(PostgresBackend()),
                         [](const auto& info) { return info.param.name; });

}  // namespace signet::server::testing
