// SqlDataStore: the BundleStore, CaJournalStore and AuditStore methods.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/sql_datastore.h"
#include "src/server/datastore/validation.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"

namespace signet::server::internal {
namespace {

constexpr size_t kMaxBundleJsonLength = 1 << 20;

absl::Status CheckBundle(const StoredBundle& b) {
  spiffe::IdError error = spiffe::ValidateTrustDomainName(b.trust_domain);
  if (error != spiffe::IdError::kNone) {
    return absl::InvalidArgumentError(absl::StrCat("trust_domain: ", spiffe::ErrorString(error)));
  }
  if (b.spiffe_json.size() > kMaxBundleJsonLength) {
    return absl::InvalidArgumentError("spiffe_json: larger than 1 MiB");
  }
  return Annotate(spiffe::ParseSpiffeBundle(b.spiffe_json).status(), "spiffe_json");
}

absl::Status CheckTrustDomainArg(absl::string_view trust_domain, absl::string_view context) {
  spiffe::IdError error = spiffe::ValidateTrustDomainName(trust_domain);
  if (error != spiffe::IdError::kNone) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": trust_domain: ", spiffe::ErrorString(error)));
  }
  return absl::OkStatus();
}

absl::StatusOr<StoredBundle> BundleFromRow(sql::Result& result, size_t row) {
  RowReader r(result, row, "bundles");
  StoredBundle b;
  SIGNET_ASSIGN_OR_RETURN(b.trust_domain, r.Text(0));
  SIGNET_ASSIGN_OR_RETURN(b.spiffe_json, r.Text(1));
  SIGNET_ASSIGN_OR_RETURN(b.updated_at, r.Time(2));
  absl::Status valid = CheckBundle(b);
  if (!valid.ok()) {
    return StoredRowError(valid, "bundles",
                          absl::StrCat("row \"", b.trust_domain.substr(0, 80), "\""));
  }
  return b;
}

absl::StatusOr<CaKeyRecord> CaKeyFromRow(sql::Result& result, size_t row) {
  RowReader r(result, row, "ca_keys");
  CaKeyRecord k;
  SIGNET_ASSIGN_OR_RETURN(k.key_id, r.Text(0));
  SIGNET_ASSIGN_OR_RETURN(std::string kind, r.Text(1));
  absl::StatusOr<CaKeyKind> parsed_kind = ParseCaKeyKind(kind);
  if (!parsed_kind.ok()) {
    return r.Corrupt(1, parsed_kind.status().message());
  }
  k.kind = *parsed_kind;
  SIGNET_ASSIGN_OR_RETURN(std::string state, r.Text(2));
  absl::StatusOr<CaSlotState> parsed_state = ParseCaSlotState(state);
  if (!parsed_state.ok()) {
    return r.Corrupt(2, parsed_state.status().message());
  }
  k.state = *parsed_state;
  SIGNET_ASSIGN_OR_RETURN(k.key_type, r.Text(3));
  SIGNET_ASSIGN_OR_RETURN(k.public_der, r.Bytes(4));
  SIGNET_ASSIGN_OR_RETURN(k.not_before, r.OptionalTime(5));
  SIGNET_ASSIGN_OR_RETURN(k.not_after, r.OptionalTime(6));
  SIGNET_ASSIGN_OR_RETURN(k.updated_at, r.Time(7));
  CaKeyRecord normalized = k;
  absl::Status valid = NormalizeCaKey(normalized);
  if (!valid.ok()) {
    return StoredRowError(valid, "ca_keys", absl::StrCat("row \"", k.key_id.substr(0, 80), "\""));
  }
  return k;
}

absl::Status CheckAuditEvent(const AuditEvent& e) {
  SIGNET_RETURN_IF_ERROR(CheckTime("time", e.time, /*optional=*/false));
  SIGNET_RETURN_IF_ERROR(CheckText("caller", e.caller, kMaxAuditTextLength, true));
  SIGNET_RETURN_IF_ERROR(CheckText("action", e.action, kMaxShortTextLength, false));
  SIGNET_RETURN_IF_ERROR(CheckText("target", e.target, kMaxAuditTextLength, true));
  SIGNET_RETURN_IF_ERROR(CheckText("result", e.result, kMaxShortTextLength, false));
  return CheckText("detail", e.detail, kMaxAuditTextLength, true);
}

absl::StatusOr<AuditEvent> AuditFromRow(sql::Result& result, size_t row) {
  RowReader r(result, row, "audit_events");
  AuditEvent e;
  SIGNET_ASSIGN_OR_RETURN(e.id, r.Int64(0));
  SIGNET_ASSIGN_OR_RETURN(e.time, r.Time(1));
  SIGNET_ASSIGN_OR_RETURN(e.caller, r.Text(2));
  SIGNET_ASSIGN_OR_RETURN(e.action, r.Text(3));
  SIGNET_ASSIGN_OR_RETURN(e.target, r.Text(4));
  SIGNET_ASSIGN_OR_RETURN(e.result, r.Text(5));
  SIGNET_ASSIGN_OR_RETURN(e.detail, r.Text(6));
  absl::Status valid = CheckAuditEvent(e);
  if (!valid.ok()) {
    return StoredRowError(valid, "audit_events", absl::StrCat("row ", e.id));
  }
  return e;
}

}  // namespace

// ---------------------------------------------------------------- BundleStore

absl::Status SqlDataStore::SetBundle(const StoredBundle& bundle) {
  SIGNET_RETURN_IF_ERROR(Annotate(CheckBundle(bundle), "datastore: set bundle"));
  const int64_t now = absl::ToUnixSeconds(Now());
  return Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    absl::string_view td = bundle.trust_domain;
    SIGNET_ASSIGN_OR_RETURN(sql::Result existing,
                            txn.Query("SELECT 1 FROM bundles WHERE trust_domain = ?", {td}));
    SIGNET_RETURN_IF_ERROR(
        txn.Query("INSERT INTO bundles (trust_domain, spiffe_json, updated_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (trust_domain) DO UPDATE SET spiffe_json = excluded.spiffe_json, "
                  "updated_at = excluded.updated_at",
                  {td, absl::string_view(bundle.spiffe_json), now})
            .status());
    SIGNET_ASSIGN_OR_RETURN(int64_t revision, txn.NextRevision());
    ChangeOp op = existing.num_rows() > 0 ? ChangeOp::kUpdate : ChangeOp::kCreate;
    return txn.AppendChange(revision, ChangeKind::kBundle, op, td, nullptr);
  });
}

absl::StatusOr<StoredBundle> SqlDataStore::GetBundle(absl::string_view trust_domain) {
  SIGNET_RETURN_IF_ERROR(CheckTrustDomainArg(trust_domain, "datastore: get bundle"));
  std::optional<StoredBundle> bundle;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn.Query("SELECT trust_domain, spiffe_json, updated_at FROM bundles "
                                       "WHERE trust_domain = ?",
                                       {trust_domain}));
    if (r.num_rows() > 0) {
      SIGNET_ASSIGN_OR_RETURN(bundle, BundleFromRow(r, 0));
    }
    return absl::OkStatus();
  }));
  if (!bundle.has_value()) {
    return absl::NotFoundError(absl::StrCat("datastore: no bundle for trust domain \"",
                                            trust_domain.substr(0, 255), "\""));
  }
  return *std::move(bundle);
}

absl::StatusOr<std::vector<StoredBundle>> SqlDataStore::ListBundles() {
  std::vector<StoredBundle> bundles;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn.Query("SELECT trust_domain, spiffe_json, updated_at FROM bundles "
                                       "ORDER BY trust_domain",
                                       {}));
    for (size_t i = 0; i < r.num_rows(); ++i) {
      SIGNET_ASSIGN_OR_RETURN(StoredBundle b, BundleFromRow(r, i));
      bundles.push_back(std::move(b));
    }
    return absl::OkStatus();
  }));
  return bundles;
}

absl::Status SqlDataStore::DeleteBundle(absl::string_view trust_domain) {
  SIGNET_RETURN_IF_ERROR(CheckTrustDomainArg(trust_domain, "datastore: delete bundle"));
  return Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(
        sql::Result r, txn.Query("DELETE FROM bundles WHERE trust_domain = ?", {trust_domain}));
    if (r.rows_affected() == 0) {
      return absl::NotFoundError(absl::StrCat("datastore: no bundle for trust domain \"",
                                              trust_domain.substr(0, 255), "\""));
    }
    SIGNET_ASSIGN_OR_RETURN(int64_t revision, txn.NextRevision());
    return txn.AppendChange(revision, ChangeKind::kBundle, ChangeOp::kDelete, trust_domain,
                            nullptr);
  });
}

// ---------------------------------------------------------------- CaJournalStore

absl::Status SqlDataStore::PutCaKey(const CaKeyRecord& record) {
  CaKeyRecord k = record;
  SIGNET_RETURN_IF_ERROR(Annotate(NormalizeCaKey(k), "datastore: put ca key"));
  const int64_t now = absl::ToUnixSeconds(Now());
  return Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    return txn
        .Query(
            "INSERT INTO ca_keys (key_id, kind, state, key_type, public_der, not_before, "
            "not_after, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key_id) DO UPDATE SET kind = excluded.kind, state = excluded.state, "
            "key_type = excluded.key_type, public_der = excluded.public_der, "
            "not_before = excluded.not_before, not_after = excluded.not_after, "
            "updated_at = excluded.updated_at",
            {absl::string_view(k.key_id), CaKeyKindName(k.kind), CaSlotStateName(k.state),
             absl::string_view(k.key_type), sql::Blob{k.public_der}, TimeParam(k.not_before),
             TimeParam(k.not_after), now})
        .status();
  });
}

absl::StatusOr<std::vector<CaKeyRecord>> SqlDataStore::ListCaKeys(CaKeyKind kind) {
  std::vector<CaKeyRecord> keys;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(
        sql::Result r,
        conn.Query("SELECT key_id, kind, state, key_type, public_der, not_before, not_after, "
                   "updated_at FROM ca_keys WHERE kind = ? ORDER BY key_id",
                   {CaKeyKindName(kind)}));
    for (size_t i = 0; i < r.num_rows(); ++i) {
      SIGNET_ASSIGN_OR_RETURN(CaKeyRecord k, CaKeyFromRow(r, i));
      keys.push_back(std::move(k));
    }
    return absl::OkStatus();
  }));
  return keys;
}

absl::Status SqlDataStore::DeleteCaKey(absl::string_view key_id) {
  return Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            txn.Query("DELETE FROM ca_keys WHERE key_id = ?", {key_id}));
    if (r.rows_affected() == 0) {
      return absl::NotFoundError(
          absl::StrCat("datastore: ca key \"", key_id.substr(0, 255), "\" not found"));
    }
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------- AuditStore

absl::Status SqlDataStore::AppendAudit(const AuditEvent& event) {
  AuditEvent e = event;
  e.time = ToStoredTime(e.time);
  SIGNET_RETURN_IF_ERROR(Annotate(CheckAuditEvent(e), "datastore: append audit"));
  return Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    return txn
        .Query(
            "INSERT INTO audit_events (time, caller, action, target, result, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            {absl::ToUnixSeconds(e.time), absl::string_view(e.caller), absl::string_view(e.action),
             absl::string_view(e.target), absl::string_view(e.result), absl::string_view(e.detail)})
        .status();
  });
}

absl::StatusOr<std::vector<AuditEvent>> SqlDataStore::ListAudit(const AuditFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: list audit: limit: must be in [1, ", kMaxPageSize, "]"));
  }
  if (filter.after_id < 0) {
    return absl::InvalidArgumentError("datastore: list audit: after_id: negative");
  }
  std::string sql =
      "SELECT id, time, caller, action, target, result, detail FROM audit_events WHERE id > ?";
  std::vector<sql::Param> params = {filter.after_id};
  if (filter.since != absl::InfinitePast()) {
    SIGNET_RETURN_IF_ERROR(
        Annotate(CheckTime("since", filter.since, true), "datastore: list audit"));
    // Stored times are whole seconds: compare at that precision.
    absl::StrAppend(&sql, " AND time >= ?");
    params.push_back(absl::ToUnixSeconds(filter.since));
  }
  if (filter.spiffe_id.has_value()) {
    absl::StrAppend(&sql, " AND (caller = ? OR target = ?)");
    params.push_back(absl::string_view(*filter.spiffe_id));
    params.push_back(absl::string_view(*filter.spiffe_id));
  }
  absl::StrAppend(&sql, " ORDER BY id LIMIT ?");
  params.push_back(int64_t{filter.limit});
  std::vector<AuditEvent> events;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r, conn.Query(sql, params));
    for (size_t i = 0; i < r.num_rows(); ++i) {
      SIGNET_ASSIGN_OR_RETURN(AuditEvent e, AuditFromRow(r, i));
      events.push_back(std::move(e));
    }
    return absl::OkStatus();
  }));
  return events;
}

}  // namespace signet::server::internal
