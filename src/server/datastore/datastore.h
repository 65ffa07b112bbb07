// The server's datastore: one interface grouped by entity, implemented once over SQL with two
// dialects (SQLite, PostgreSQL). Every method validates what it reads back from the database and
// returns absl::Status codes the admin API passes through:
//   NotFound, AlreadyExists, FailedPrecondition (stale revision, consumed token),
//   InvalidArgument (bad input), DataLoss (a row that fails validation), Unavailable (database).
//
// Every mutation of an entry, an attested node or a bundle appends a row to the change log in the
// same transaction; the change's revision is strictly greater than every revision committed
// before it, and ChangesSince(N) returns exactly the changes committed after revision N. Entries
// carry the revision of their last change.
//
// Times are absl::Time (stored as Unix seconds); absl::InfinitePast() means "unset".
// Thread-safe: implementations may be called from any number of threads.
#ifndef SIGNET_SERVER_DATASTORE_DATASTORE_H_
#define SIGNET_SERVER_DATASTORE_DATASTORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "src/spiffe/selector.h"

namespace signet::server {

using spiffe::Selector;

// ---------------------------------------------------------------- registration entries

struct RegistrationEntry {
  std::string id;  // assigned by CreateEntries when empty: 32 lowercase hex characters
  std::string spiffe_id;
  std::string parent_id;
  std::vector<Selector> selectors;    // canonical: sorted, unique, never empty
  int32_t x509_svid_ttl_seconds = 0;  // 0 = the server default
  int32_t jwt_svid_ttl_seconds = 0;   // 0 = the server default
  std::vector<std::string> dns_names;
  std::string hint;
  bool admin = false;
  bool downstream = false;
  std::vector<std::string> federates_with;       // trust domain names, sorted, unique
  absl::Time expires_at = absl::InfinitePast();  // InfinitePast = never expires
  int64_t revision = 0;                          // set by the store
  absl::Time created_at = absl::InfinitePast();  // set by the store

  bool operator==(const RegistrationEntry&) const = default;
};

enum class SelectorMatch {
  kExact,     // the entry's selectors equal the filter's
  kSubset,    // the entry's selectors are a subset of the filter's (what a workload matches)
  kSuperset,  // the entry's selectors include all of the filter's
  kAny,       // the entry has at least one of the filter's selectors
};

// Splits a full scan between threads: only the entries whose storage sequence number is
// `index` modulo `count`. Every entry is in exactly one of the `count` shards.
struct EntryShard {
  int index = 0;  // in [0, count)
  int count = 1;  // in [1, kMaxShards]
};
inline constexpr int kMaxShards = 64;

struct EntryFilter {
  std::optional<EntryShard> shard;
  std::optional<std::string> spiffe_id;
  std::optional<std::string> parent_id;
  std::optional<std::vector<Selector>> selectors;  // canonical
  SelectorMatch selector_match = SelectorMatch::kExact;
  std::optional<std::string> federates_with;
  std::optional<bool> admin;
  std::optional<bool> downstream;
};

struct EntryPage {
  std::vector<RegistrationEntry> entries;  // ordered by id
  std::string next_page_token;             // "" when this is the last page
};

inline constexpr int kMaxPageSize = 1000;
inline constexpr int kMaxBatchSize = 10000;

class EntryStore {
 public:
  virtual ~EntryStore() = default;
  // Creates the entries in one transaction (one commit and fsync for the batch), each item
  // atomic: an item is either wholly written or not at all (SQLite: one INSERT ... ON CONFLICT
  // DO NOTHING per item; PostgreSQL: a savepoint per item). An item with the same (spiffe_id,
  // parent_id, selectors) as an existing entry gets AlreadyExists; the others still succeed. The
  // outer status fails only when the batch could not be attempted at all (nothing written then).
  virtual absl::StatusOr<std::vector<absl::StatusOr<RegistrationEntry>>> CreateEntries(
      absl::Span<const RegistrationEntry> entries) = 0;
  virtual absl::StatusOr<RegistrationEntry> GetEntry(absl::string_view id) = 0;
  // Replaces every field but id/created_at. When `expected_revision` is set and differs from the
  // stored one: FailedPrecondition. Duplicate key: AlreadyExists.
  virtual absl::StatusOr<RegistrationEntry> UpdateEntry(
      const RegistrationEntry& entry, std::optional<int64_t> expected_revision) = 0;
  // Deletes and returns the deleted entry.
  virtual absl::StatusOr<RegistrationEntry> DeleteEntry(absl::string_view id) = 0;
  // `page_size` in [1, kMaxPageSize]; `page_token` "" or a token this store returned.
  virtual absl::StatusOr<EntryPage> ListEntries(const EntryFilter& filter,
                                                absl::string_view page_token, int page_size) = 0;
  virtual absl::StatusOr<int64_t> CountEntries(const EntryFilter& filter) = 0;
};

// ---------------------------------------------------------------- attested nodes

struct AttestedNode {
  std::string spiffe_id;  // the agent ID; primary key
  std::string attestation_type;
  std::string cert_serial;  // hex serial of the current agent SVID
  absl::Time cert_not_after = absl::InfinitePast();
  bool banned = false;
  bool can_reattest = false;
  std::vector<Selector> selectors;               // node selectors, canonical
  absl::Time created_at = absl::InfinitePast();  // set by the store
  absl::Time updated_at = absl::InfinitePast();  // set by the store

  bool operator==(const AttestedNode&) const = default;
};

struct NodePage {
  std::vector<AttestedNode> nodes;  // ordered by spiffe_id
  std::string next_page_token;
};

class NodeStore {
 public:
  virtual ~NodeStore() = default;
  virtual absl::StatusOr<AttestedNode> CreateNode(const AttestedNode& node) = 0;
  virtual absl::StatusOr<AttestedNode> GetNode(absl::string_view spiffe_id) = 0;
  // Updates serial, expiry, selectors, can_reattest (not banned).
  virtual absl::StatusOr<AttestedNode> UpdateNode(const AttestedNode& node) = 0;
  virtual absl::StatusOr<AttestedNode> SetNodeBanned(absl::string_view spiffe_id, bool banned) = 0;
  virtual absl::StatusOr<AttestedNode> DeleteNode(absl::string_view spiffe_id) = 0;
  virtual absl::StatusOr<NodePage> ListNodes(absl::string_view page_token, int page_size) = 0;
};

// ---------------------------------------------------------------- join tokens

struct JoinToken {
  std::string token;      // primary key; at least 16 characters
  std::string spiffe_id;  // "" = the default agent ID for the token
  absl::Time expires_at = absl::InfinitePast();
  absl::Time created_at = absl::InfinitePast();  // set by the store
};

// A new join token value: 128 random bits as 32 hex digits.
absl::StatusOr<std::string> NewJoinTokenValue();

class JoinTokenStore {
 public:
  virtual ~JoinTokenStore() = default;
  virtual absl::Status CreateJoinToken(const JoinToken& token) = 0;
  // Atomically deletes and returns the token: NotFound when unknown or already used (a token works
  // once, even under concurrent calls), FailedPrecondition when expired at `now` (then deleted).
  virtual absl::StatusOr<JoinToken> ConsumeJoinToken(absl::string_view token, absl::Time now) = 0;
  // Deletes tokens expired before `now`; returns how many.
  virtual absl::StatusOr<int64_t> PruneJoinTokens(absl::Time now) = 0;
};

// ---------------------------------------------------------------- bundles

struct StoredBundle {
  std::string trust_domain;  // name, e.g. "example.org"; primary key
  std::string spiffe_json;   // SPIFFE bundle JSON (spiffe-conformance.md §4), validated on write
  absl::Time updated_at = absl::InfinitePast();  // set by the store
};

class BundleStore {
 public:
  virtual ~BundleStore() = default;
  // Inserts or replaces.
  virtual absl::Status SetBundle(const StoredBundle& bundle) = 0;
  virtual absl::StatusOr<StoredBundle> GetBundle(absl::string_view trust_domain) = 0;
  virtual absl::StatusOr<std::vector<StoredBundle>> ListBundles() = 0;
  virtual absl::Status DeleteBundle(absl::string_view trust_domain) = 0;
};

// ---------------------------------------------------------------- CA journal

enum class CaKeyKind { kX509, kJwt };
enum class CaSlotState { kPrepared, kActive, kOld, kTainted, kRevoked };

absl::string_view CaKeyKindName(CaKeyKind kind);   // "x509" | "jwt"
absl::string_view CaSlotStateName(CaSlotState s);  // "prepared" | "active" | ...
absl::StatusOr<CaKeyKind> ParseCaKeyKind(absl::string_view name);
absl::StatusOr<CaSlotState> ParseCaSlotState(absl::string_view name);

struct CaKeyRecord {
  std::string key_id;  // primary key: the key manager's id (and the JWT kid for kJwt)
  CaKeyKind kind = CaKeyKind::kX509;
  CaSlotState state = CaSlotState::kPrepared;
  std::string key_type;    // "ec-p256" | "ec-p384" | "rsa-2048"
  std::string public_der;  // kX509: the CA certificate DER; kJwt: the SubjectPublicKeyInfo DER
  absl::Time not_before = absl::InfinitePast();
  absl::Time not_after = absl::InfinitePast();
  absl::Time updated_at = absl::InfinitePast();  // set by the store

  bool operator==(const CaKeyRecord&) const = default;
};

class CaJournalStore {
 public:
  virtual ~CaJournalStore() = default;
  // Inserts or replaces by key_id.
  virtual absl::Status PutCaKey(const CaKeyRecord& record) = 0;
  virtual absl::StatusOr<std::vector<CaKeyRecord>> ListCaKeys(CaKeyKind kind) = 0;
  virtual absl::Status DeleteCaKey(absl::string_view key_id) = 0;
};

// ---------------------------------------------------------------- audit log

struct AuditEvent {
  int64_t id = 0;  // set by the store, increasing
  absl::Time time = absl::InfinitePast();
  std::string caller;  // "uid:1000" or a SPIFFE ID
  std::string action;  // "entry.create", "x509.mint", ...
  std::string target;  // usually a SPIFFE ID or entry id
  std::string result;  // "ok" or a status code name ("permission_denied")
  std::string detail;  // short message; never key material
};

struct AuditFilter {
  absl::Time since = absl::InfinitePast();
  std::optional<std::string> spiffe_id;  // matches caller or target
  int64_t after_id = 0;                  // paging: events with id > after_id
  int limit = 100;                       // [1, kMaxPageSize]
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  virtual absl::Status AppendAudit(const AuditEvent& event) = 0;
  // Ordered by id ascending.
  virtual absl::StatusOr<std::vector<AuditEvent>> ListAudit(const AuditFilter& filter) = 0;
};

// ---------------------------------------------------------------- change log

enum class ChangeKind { kEntry, kNode, kBundle };
enum class ChangeOp { kCreate, kUpdate, kDelete };

struct Change {
  int64_t revision = 0;
  ChangeKind kind = ChangeKind::kEntry;
  ChangeOp op = ChangeOp::kCreate;
  std::string object_id;  // entry id, node SPIFFE ID or trust domain name
  // For entry changes: the entry as of this change (for kDelete, as it was when deleted).
  std::optional<RegistrationEntry> entry;
};

class ChangeLog {
 public:
  virtual ~ChangeLog() = default;
  // The highest committed revision (0 for an empty log).
  virtual absl::StatusOr<int64_t> CurrentRevision() = 0;
  // Changes with revision > `after`, ascending, at most `limit` (in [1, 100000]).
  virtual absl::StatusOr<std::vector<Change>> ChangesSince(int64_t after, int limit) = 0;
};

// ---------------------------------------------------------------- the whole store

class DataStore : public EntryStore,
                  public NodeStore,
                  public JoinTokenStore,
                  public BundleStore,
                  public CaJournalStore,
                  public AuditStore,
                  public ChangeLog {
 public:
  ~DataStore() override = default;
  // The schema version this store runs on.
  virtual int SchemaVersion() const = 0;
  // Closes connections cleanly; later calls fail with Unavailable.
  virtual void Close() = 0;
};

struct DataStoreOptions {
  std::string driver;             // "sqlite" | "postgres"
  std::string connection_string;  // sqlite: a file path; postgres: a libpq conninfo string
  int max_connections = 8;        // postgres pool size
};

// Opens the store and applies pending migrations (in a transaction; for PostgreSQL under an
// advisory lock). FailedPrecondition when the database's schema is newer than this binary knows.
absl::StatusOr<std::unique_ptr<DataStore>> OpenDataStore(const DataStoreOptions& options);

}  // namespace signet::server

#endif  // SIGNET_SERVER_DATASTORE_DATASTORE_H_
