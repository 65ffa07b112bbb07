// The datastore conformance suite: one set of value-parameterized tests that every backend must
// pass. Each backend's test binary instantiates it (sqlite_datastore_test.cc,
// postgres_datastore_test.cc); every test gets a fresh database.
#ifndef SIGNET_SERVER_DATASTORE_DATASTORE_CONFORMANCE_TEST_H_
#define SIGNET_SERVER_DATASTORE_DATASTORE_CONFORMANCE_TEST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "src/server/datastore/datastore.h"
#include "src/server/datastore/datastore_test_backend.h"
#include "tests/testing/test_ca.h"

namespace signet::server::testing {

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Matches a Status or StatusOr with `code` whose message contains `substring`.
MATCHER_P2(StatusIs, code, substring, "") {
  absl::Status status = StatusOf(arg);
  *result_listener << "status is " << status;
  return status.code() == code && absl::StrContains(status.message(), substring);
}

#define SIGNET_ASSERT_OK(expr)                                            \
  do {                                                                    \
    ::absl::Status signet_s_ = ::signet::server::testing::StatusOf(expr); \
    ASSERT_TRUE(signet_s_.ok()) << signet_s_;                             \
  } while (false)
// Assigns the value of a StatusOr expression, failing the test when it is an error.
#define SIGNET_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  SIGNET_ASSERT_OK_AND_ASSIGN_IMPL_(SIGNET_CONCAT_T_(statusor_, __LINE__), lhs, expr)
#define SIGNET_CONCAT_T_INNER_(a, b) a##b
#define SIGNET_CONCAT_T_(a, b) SIGNET_CONCAT_T_INNER_(a, b)
#define SIGNET_ASSERT_OK_AND_ASSIGN_IMPL_(so, lhs, expr) \
  auto so = (expr);                                      \
  ASSERT_TRUE(so.ok()) << so.status();                   \
  lhs = *std::move(so)

// The SPIFFE bundle JSON of a fresh test CA for `trust_domain`.
std::string BundleJsonFor(const std::string& trust_domain);

class DataStoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Opens another store on the same database.
  absl::StatusOr<std::unique_ptr<DataStore>> Open();
  // Runs raw SQL on the database.
  absl::Status RawExec(absl::string_view sql) { return db_->RawExec(sql); }

  // An entry for spiffe://example.org/<path> under spiffe://example.org/agent with `selectors`
  // ("type:value" each).
  static RegistrationEntry MakeEntry(const std::string& path,
                                     const std::vector<std::string>& selectors,
                                     const std::string& parent = "spiffe://example.org/agent");
  static std::vector<Selector> Selectors(const std::vector<std::string>& texts);
  // Creates one entry; the test fails on error.
  RegistrationEntry MustCreate(const RegistrationEntry& entry);
  // Every entry the filter matches, walking all pages of `page_size`.
  std::vector<RegistrationEntry> ListAll(const EntryFilter& filter, int page_size = 1000);
  std::vector<std::string> ListIds(const EntryFilter& filter);

  FakeClock clock_{::signet::testing::TestNow()};
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<DataStore> store_;
};

}  // namespace signet::server::testing

#endif  // SIGNET_SERVER_DATASTORE_DATASTORE_CONFORMANCE_TEST_H_
