#include "src/server/datastore/schema.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "src/common/status_macros.h"

namespace signet::server::internal {
namespace {

struct Migration {
  int version;
  const char* ddl;  // with the dialect tokens of sql::Dialect::ExpandSchema
};

// Times are Unix seconds (BIGINT); NULL means "unset". Booleans are INTEGER 0/1. Lists are
// newline-terminated items ("a\nb\n"; "" is the empty list). Text columns are validated on read.
//
// Entries: `id` is random, so every index led by it takes inserts at random places; the tables
// that hang off an entry are keyed by its insertion sequence number `seq` instead, which keeps
// their primary keys append-only (what makes bulk creation fast on large stores). `selectors`
// holds the canonical selector list and `selector_hash` its SHA-256 (the duplicate key);
// entry_selectors is the (type, value) index for selector queries.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE entries (
  seq {SERIAL_KEY},
  id {KEY_TEXT} NOT NULL,
  spiffe_id {KEY_TEXT} NOT NULL,
  parent_id {KEY_TEXT} NOT NULL,
  selectors TEXT NOT NULL,
  selector_hash {KEY_TEXT} NOT NULL,
  selector_count INTEGER NOT NULL,
  x509_svid_ttl_seconds INTEGER NOT NULL,
  jwt_svid_ttl_seconds INTEGER NOT NULL,
  dns_names TEXT NOT NULL,
  hint TEXT NOT NULL,
  admin INTEGER NOT NULL,
  downstream INTEGER NOT NULL,
  federates_with TEXT NOT NULL,
  expires_at BIGINT,
  revision BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  CONSTRAINT entries_id UNIQUE (id),
  CONSTRAINT entries_unique_key UNIQUE (spiffe_id, parent_id, selector_hash)
);
CREATE INDEX entries_by_parent_id ON entries (parent_id, id);
CREATE TABLE entry_selectors (
  entry_seq BIGINT NOT NULL REFERENCES entries (seq) ON DELETE CASCADE,
  type {KEY_TEXT} NOT NULL,
  value {KEY_TEXT} NOT NULL,
  PRIMARY KEY (entry_seq, type, value)
) {WITHOUT_ROWID};
CREATE INDEX entry_selectors_by_value ON entry_selectors (type, value);
CREATE TABLE entry_federates_with (
  entry_seq BIGINT NOT NULL REFERENCES entries (seq) ON DELETE CASCADE,
  trust_domain {KEY_TEXT} NOT NULL,
  PRIMARY KEY (entry_seq, trust_domain)
) {WITHOUT_ROWID};
CREATE INDEX entry_federates_with_by_trust_domain ON entry_federates_with (trust_domain);
CREATE TABLE nodes (
  spiffe_id {KEY_TEXT} PRIMARY KEY,
  attestation_type TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  cert_not_after BIGINT,
  banned INTEGER NOT NULL,
  can_reattest INTEGER NOT NULL,
  selectors TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE join_tokens (
  token {KEY_TEXT} PRIMARY KEY,
  spiffe_id {KEY_TEXT} NOT NULL,
  expires_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX join_tokens_by_expiry ON join_tokens (expires_at);
CREATE TABLE bundles (
  trust_domain {KEY_TEXT} PRIMARY KEY,
  spiffe_json TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE ca_keys (
  key_id {KEY_TEXT} PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  key_type TEXT NOT NULL,
  public_der {BLOB} NOT NULL,
  not_before BIGINT,
  not_after BIGINT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX ca_keys_by_kind ON ca_keys (kind);
CREATE TABLE audit_events (
  id {AUTO_ID},
  time BIGINT NOT NULL,
  caller {KEY_TEXT} NOT NULL,
  action TEXT NOT NULL,
  target {KEY_TEXT} NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (time);
CREATE INDEX audit_events_by_caller ON audit_events (caller);
CREATE INDEX audit_events_by_target ON audit_events (target);
CREATE TABLE changes (
  revision {INT64_KEY},
  kind TEXT NOT NULL,
  op TEXT NOT NULL,
  object_id TEXT NOT NULL,
  entry TEXT
);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};

absl::StatusOr<int> CurrentVersion(sql::Connection& conn) {
  SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                          conn.Query("SELECT COALESCE(MAX(version), 0) FROM schema_version", {}));
  if (r.num_rows() != 1) {
    return absl::InternalError("datastore: schema_version: no result");
  }
  SIGNET_ASSIGN_OR_RETURN(int64_t version, r.Int64("schema_version", 0, 0));
  if (version < 0 || version > INT32_MAX) {
    return r.Corrupt("schema_version", 0, absl::StrCat("version ", version, " out of range"));
  }
  return static_cast<int>(version);
}

absl::StatusOr<int> MigrateInTransaction(sql::Connection& conn, const sql::Dialect& dialect,
                                         absl::Time now) {
  if (!dialect.migration_lock.empty()) {
    SIGNET_RETURN_IF_ERROR(conn.Exec(dialect.migration_lock));
  }
  SIGNET_RETURN_IF_ERROR(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"));
  SIGNET_ASSIGN_OR_RETURN(int version, CurrentVersion(conn));
  const int latest = LatestSchemaVersion();
  if (version > latest) {
    return absl::FailedPreconditionError(absl::StrCat("datastore: schema version ", version,
                                                      " is newer than this binary supports (",
                                                      latest, ")"));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) {
      continue;
    }
    SIGNET_RETURN_IF_ERROR(Annotate(conn.Exec(dialect.ExpandSchema(m.ddl)),
                                    absl::StrCat("datastore: migration ", m.version)));
    SIGNET_RETURN_IF_ERROR(
        conn.Query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                   {int64_t{m.version}, absl::ToUnixSeconds(now)})
            .status());
    version = m.version;
  }
  return version;
}

}  // namespace

int LatestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

absl::StatusOr<int> Migrate(sql::Connection& conn, const sql::Dialect& dialect, absl::Time now) {
  SIGNET_RETURN_IF_ERROR(conn.Exec(dialect.begin_write));
  absl::StatusOr<int> version = MigrateInTransaction(conn, dialect, now);
  if (!version.ok()) {
    conn.Exec("ROLLBACK").IgnoreError();
    return version.status();
  }
  SIGNET_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  return version;
}

}  // namespace signet::server::internal
