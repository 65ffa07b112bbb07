// How datastore values are laid out in columns: lists, selectors, times and booleans, and the
// JSON snapshot of an entry kept in the change log. Decoders fail with InvalidArgument naming
// what is wrong; callers reading rows turn that into DataLoss naming the column.
#ifndef SIGNET_SERVER_DATASTORE_ROW_CODEC_H_
#define SIGNET_SERVER_DATASTORE_ROW_CODEC_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/server/datastore/datastore.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::internal {

// A list in one column: every item followed by '\n' ("" is the empty list). Items never contain
// '\n' (validation rejects control characters).
std::string JoinList(absl::Span<const std::string> items);
absl::StatusOr<std::vector<std::string>> SplitList(absl::string_view text);

// Selectors as "type:value\n" lines, in canonical order. SelectorsFromText requires canonical
// order; it allows the empty list (entries check non-emptiness separately).
std::string SelectorsToText(const std::vector<Selector>& selectors);
absl::StatusOr<std::vector<Selector>> SelectorsFromText(absl::string_view text);
// The first 128 bits of the SHA-256 of SelectorsToText, lowercase hex: the duplicate-detection
// and exact-match key (always compared together with the spiffe_id and parent_id, or with the
// selectors themselves).
inline constexpr size_t kSelectorHashBytes = 16;
std::string SelectorHash(absl::string_view selectors_text);

// InfinitePast ("unset") is stored as NULL, other times as Unix seconds.
sql::Param TimeParam(absl::Time t);
absl::Time TimeFromSeconds(int64_t seconds);

// Typed column readers over one row: every failure is DataLoss "datastore: <table>.<column>: ...".
// Text columns are moved out of the result: read each column once.
class RowReader {
 public:
  RowReader(sql::Result& result, size_t row, absl::string_view table)
      : result_(result), row_(row), table_(table) {}
  bool IsNull(size_t col) const { return result_.IsNull(row_, col); }
  absl::StatusOr<int64_t> Int64(size_t col) const { return result_.Int64(table_, row_, col); }
  absl::StatusOr<std::string> Text(size_t col) const { return result_.Text(table_, row_, col); }
  absl::StatusOr<std::string> Bytes(size_t col) const { return result_.Bytes(table_, row_, col); }
  absl::StatusOr<int32_t> Int32(size_t col) const;
  absl::StatusOr<bool> Bool(size_t col) const;
  // NULL -> InfinitePast.
  absl::StatusOr<absl::Time> OptionalTime(size_t col) const;
  absl::StatusOr<absl::Time> Time(size_t col) const;
  absl::StatusOr<std::vector<std::string>> List(size_t col) const;
  absl::StatusOr<std::vector<Selector>> Selectors(size_t col) const;
  absl::Status Corrupt(size_t col, absl::string_view what) const {
    return result_.Corrupt(table_, col, what);
  }

 private:
  sql::Result& result_;
  size_t row_;
  absl::string_view table_;
};

// The change log's snapshot of an entry.
std::string EntryToJson(const RegistrationEntry& entry);
// Decodes and checks the snapshot (CheckStoredEntry). InvalidArgument naming the member.
absl::StatusOr<RegistrationEntry> EntryFromJson(absl::string_view json);

}  // namespace signet::server::internal

#endif  // SIGNET_SERVER_DATASTORE_ROW_CODEC_H_
