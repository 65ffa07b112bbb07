// Building the SQL for entry filters, and the opaque page tokens of ListEntries / ListNodes.
#ifndef SIGNET_SERVER_DATASTORE_ENTRY_QUERY_H_
#define SIGNET_SERVER_DATASTORE_ENTRY_QUERY_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/server/datastore/datastore.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::internal {

// A WHERE clause over `entries e` (possibly "1 = 1") with its parameters, which borrow from the
// EntryQuery. Not movable: the parameters point into it.
class EntryQuery {
 public:
  // Validates and canonicalizes `filter`: InvalidArgument "filter.<field>: ..." for an ID that
  // is not a SPIFFE ID or a federates_with that is not a trust domain name.
  static absl::StatusOr<std::unique_ptr<EntryQuery>> Create(const EntryFilter& filter);
  EntryQuery(const EntryQuery&) = delete;
  EntryQuery& operator=(const EntryQuery&) = delete;

  const std::string& where() const { return where_; }
  const std::vector<sql::Param>& params() const { return params_; }

 private:
  explicit EntryQuery(EntryFilter filter) : filter_(std::move(filter)) {}
  void Build();
  void AddSelectorClause();

  EntryFilter filter_;
  std::string selector_hash_;
  std::vector<std::string> selector_texts_;  // "type:value"; sized once, parameters point in
  std::string where_;
  std::vector<sql::Param> params_;
};

// Page tokens carry the last key of the previous page, tagged with what they page over ("e" for
// entries, "n" for nodes), base64url-encoded. Decode fails with InvalidArgument
// "page_token: ..." for anything this store did not produce.
std::string EncodePageToken(absl::string_view tag, absl::string_view last_key);
absl::StatusOr<std::string> DecodePageToken(absl::string_view tag, absl::string_view token);

}  // namespace signet::server::internal

#endif  // SIGNET_SERVER_DATASTORE_ENTRY_QUERY_H_
