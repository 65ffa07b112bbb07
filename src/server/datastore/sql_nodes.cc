// SqlDataStore: the NodeStore and JoinTokenStore methods.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/datastore/entry_query.h"
#include "src/server/datastore/row_codec.h"
#include "src/server/datastore/sql_datastore.h"
#include "src/server/datastore/validation.h"

namespace signet::server::internal {
namespace {

constexpr char kNodeColumns[] =
    "spiffe_id, attestation_type, cert_serial, cert_not_after, banned, can_reattest, selectors, "
    "created_at, updated_at";
constexpr size_t kMaxJoinTokenLength = 256;

absl::StatusOr<AttestedNode> NodeFromRow(sql::Result& result, size_t row) {
  RowReader r(result, row, "nodes");
  AttestedNode n;
  SIGNET_ASSIGN_OR_RETURN(n.spiffe_id, r.Text(0));
  SIGNET_ASSIGN_OR_RETURN(n.attestation_type, r.Text(1));
  SIGNET_ASSIGN_OR_RETURN(n.cert_serial, r.Text(2));
  SIGNET_ASSIGN_OR_RETURN(n.cert_not_after, r.OptionalTime(3));
  SIGNET_ASSIGN_OR_RETURN(n.banned, r.Bool(4));
  SIGNET_ASSIGN_OR_RETURN(n.can_reattest, r.Bool(5));
  SIGNET_ASSIGN_OR_RETURN(n.selectors, r.Selectors(6));
  SIGNET_ASSIGN_OR_RETURN(n.created_at, r.Time(7));
  SIGNET_ASSIGN_OR_RETURN(n.updated_at, r.Time(8));
  absl::Status valid = CheckStoredNode(n);
  if (!valid.ok()) {
    return StoredRowError(valid, "nodes", absl::StrCat("row \"", n.spiffe_id.substr(0, 80), "\""));
  }
  return n;
}

absl::StatusOr<std::optional<AttestedNode>> FindNode(sql::Connection& conn,
                                                     absl::string_view spiffe_id) {
  SIGNET_ASSIGN_OR_RETURN(sql::Result r, conn.Query(absl::StrCat("SELECT ", kNodeColumns,
                                                                 " FROM nodes WHERE spiffe_id = ?"),
                                                    {spiffe_id}));
  if (r.num_rows() == 0) {
    return std::nullopt;
  }
  SIGNET_ASSIGN_OR_RETURN(AttestedNode n, NodeFromRow(r, 0));
  return n;
}

absl::Status NodeNotFound(absl::string_view spiffe_id) {
  return absl::NotFoundError(absl::StrCat("datastore: node \"", spiffe_id, "\" not found"));
}

// Finds the node or fails with NotFound.
absl::StatusOr<AttestedNode> MustFindNode(Txn& txn, absl::string_view spiffe_id) {
  SIGNET_ASSIGN_OR_RETURN(std::optional<AttestedNode> node, FindNode(txn.conn(), spiffe_id));
  if (!node.has_value()) {
    return NodeNotFound(spiffe_id);
  }
  return *std::move(node);
}

absl::Status AppendNodeChange(Txn& txn, ChangeOp op, absl::string_view spiffe_id) {
  SIGNET_ASSIGN_OR_RETURN(int64_t revision, txn.NextRevision());
  return txn.AppendChange(revision, ChangeKind::kNode, op, spiffe_id, nullptr);
}

absl::Status CheckJoinToken(absl::string_view token) {
  if (token.size() < kMinJoinTokenLength || token.size() > kMaxJoinTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat("token: must be ", kMinJoinTokenLength, " to ",
                                                   kMaxJoinTokenLength, " characters"));
  }
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return absl::InvalidArgumentError("token: must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status CheckJoinTokenFields(const JoinToken& t) {
  SIGNET_RETURN_IF_ERROR(CheckJoinToken(t.token));
  if (!t.spiffe_id.empty()) {
    SIGNET_RETURN_IF_ERROR(CheckSpiffeId("spiffe_id", t.spiffe_id, /*path_required=*/true));
  }
  return CheckTime("expires_at", t.expires_at, /*optional=*/false);
}

absl::StatusOr<JoinToken> JoinTokenFromRow(sql::Result& result) {
  RowReader r(result, 0, "join_tokens");
  JoinToken t;
  SIGNET_ASSIGN_OR_RETURN(t.token, r.Text(0));
  SIGNET_ASSIGN_OR_RETURN(t.spiffe_id, r.Text(1));
  SIGNET_ASSIGN_OR_RETURN(t.expires_at, r.Time(2));
  SIGNET_ASSIGN_OR_RETURN(t.created_at, r.Time(3));
  absl::Status valid = CheckJoinTokenFields(t);
  if (!valid.ok()) {
    return StoredRowError(valid, "join_tokens", "row");
  }
  return t;
}

}  // namespace

// ---------------------------------------------------------------- NodeStore

absl::StatusOr<AttestedNode> SqlDataStore::CreateNode(const AttestedNode& node) {
  AttestedNode created = node;
  SIGNET_RETURN_IF_ERROR(Annotate(NormalizeNode(created), "datastore: create node"));
  created.created_at = created.updated_at = Now();
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    std::string selectors = SelectorsToText(created.selectors);
    absl::Status status =
        txn.Query(
               absl::StrCat("INSERT INTO nodes (", kNodeColumns,
                            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
               {absl::string_view(created.spiffe_id), absl::string_view(created.attestation_type),
                absl::string_view(created.cert_serial), TimeParam(created.cert_not_after),
                int64_t{created.banned ? 1 : 0}, int64_t{created.can_reattest ? 1 : 0},
                absl::string_view(selectors), absl::ToUnixSeconds(created.created_at),
                absl::ToUnixSeconds(created.updated_at)})
            .status();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError(
          absl::StrCat("datastore: create node: node \"", created.spiffe_id, "\" already exists"));
    }
    SIGNET_RETURN_IF_ERROR(status);
    return AppendNodeChange(txn, ChangeOp::kCreate, created.spiffe_id);
  }));
  return created;
}

absl::StatusOr<AttestedNode> SqlDataStore::GetNode(absl::string_view spiffe_id) {
  SIGNET_RETURN_IF_ERROR(
      Annotate(CheckSpiffeId("spiffe_id", spiffe_id, false), "datastore: get node"));
  std::optional<AttestedNode> node;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(node, FindNode(conn, spiffe_id));
    return absl::OkStatus();
  }));
  if (!node.has_value()) {
    return NodeNotFound(spiffe_id);
  }
  return *std::move(node);
}

absl::StatusOr<AttestedNode> SqlDataStore::UpdateNode(const AttestedNode& node) {
  AttestedNode update = node;
  SIGNET_RETURN_IF_ERROR(Annotate(NormalizeNode(update), "datastore: update node"));
  AttestedNode result;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(result, MustFindNode(txn, update.spiffe_id));
    result.cert_serial = update.cert_serial;
    result.cert_not_after = update.cert_not_after;
    result.selectors = update.selectors;
    result.can_reattest = update.can_reattest;
    result.updated_at = Now();
    std::string selectors = SelectorsToText(result.selectors);
    SIGNET_RETURN_IF_ERROR(
        txn.Query("UPDATE nodes SET cert_serial = ?, cert_not_after = ?, selectors = ?, "
                  "can_reattest = ?, updated_at = ? WHERE spiffe_id = ?",
                  {absl::string_view(result.cert_serial), TimeParam(result.cert_not_after),
                   absl::string_view(selectors), int64_t{result.can_reattest ? 1 : 0},
                   absl::ToUnixSeconds(result.updated_at), absl::string_view(result.spiffe_id)})
            .status());
    return AppendNodeChange(txn, ChangeOp::kUpdate, result.spiffe_id);
  }));
  return result;
}

absl::StatusOr<AttestedNode> SqlDataStore::SetNodeBanned(absl::string_view spiffe_id, bool banned) {
  SIGNET_RETURN_IF_ERROR(
      Annotate(CheckSpiffeId("spiffe_id", spiffe_id, false), "datastore: ban node"));
  AttestedNode result;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(result, MustFindNode(txn, spiffe_id));
    result.banned = banned;
    result.updated_at = Now();
    SIGNET_RETURN_IF_ERROR(
        txn.Query("UPDATE nodes SET banned = ?, updated_at = ? WHERE spiffe_id = ?",
                  {int64_t{banned ? 1 : 0}, absl::ToUnixSeconds(result.updated_at), spiffe_id})
            .status());
    return AppendNodeChange(txn, ChangeOp::kUpdate, spiffe_id);
  }));
  return result;
}

absl::StatusOr<AttestedNode> SqlDataStore::DeleteNode(absl::string_view spiffe_id) {
  SIGNET_RETURN_IF_ERROR(
      Annotate(CheckSpiffeId("spiffe_id", spiffe_id, false), "datastore: delete node"));
  AttestedNode result;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/true, [&](Txn& txn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(result, MustFindNode(txn, spiffe_id));
    SIGNET_RETURN_IF_ERROR(
        txn.Query("DELETE FROM nodes WHERE spiffe_id = ?", {spiffe_id}).status());
    return AppendNodeChange(txn, ChangeOp::kDelete, spiffe_id);
  }));
  return result;
}

absl::StatusOr<NodePage> SqlDataStore::ListNodes(absl::string_view page_token, int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("datastore: page_size: must be in [1, ", kMaxPageSize, "]"));
  }
  std::string after;
  if (!page_token.empty()) {
    SIGNET_ASSIGN_OR_RETURN(after, DecodePageToken("n", page_token));
    if (!CheckSpiffeId("", after, false).ok()) {
      return absl::InvalidArgumentError("datastore: page_token: not a valid page token");
    }
  }
  NodePage page;
  SIGNET_RETURN_IF_ERROR(Read([&](sql::Connection& conn) -> absl::Status {
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            conn.Query(absl::StrCat("SELECT ", kNodeColumns,
                                                    " FROM nodes WHERE spiffe_id > ? "
                                                    "ORDER BY spiffe_id LIMIT ?"),
                                       {absl::string_view(after), int64_t{page_size} + 1}));
    const size_t rows = std::min(r.num_rows(), static_cast<size_t>(page_size));
    for (size_t i = 0; i < rows; ++i) {
      SIGNET_ASSIGN_OR_RETURN(AttestedNode n, NodeFromRow(r, i));
      page.nodes.push_back(std::move(n));
    }
    if (r.num_rows() > rows) {
      page.next_page_token = EncodePageToken("n", page.nodes.back().spiffe_id);
    }
    return absl::OkStatus();
  }));
  return page;
}

// ---------------------------------------------------------------- JoinTokenStore

absl::Status SqlDataStore::CreateJoinToken(const JoinToken& token) {
  JoinToken t = token;
  t.expires_at = ToStoredTime(t.expires_at);
  t.created_at = Now();
  SIGNET_RETURN_IF_ERROR(Annotate(CheckJoinTokenFields(t), "datastore: create join token"));
  return Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    absl::Status status =
        txn.Query(
               "INSERT INTO join_tokens (token, spiffe_id, expires_at, created_at) "
               "VALUES (?, ?, ?, ?)",
               {absl::string_view(t.token), absl::string_view(t.spiffe_id),
                absl::ToUnixSeconds(t.expires_at), absl::ToUnixSeconds(t.created_at)})
            .status();
    if (absl::IsAlreadyExists(status)) {
      return absl::AlreadyExistsError("datastore: create join token: token already exists");
    }
    return status;
  });
}

absl::StatusOr<JoinToken> SqlDataStore::ConsumeJoinToken(absl::string_view token, absl::Time now) {
  SIGNET_RETURN_IF_ERROR(
      Annotate(CheckTime("now", now, /*optional=*/false), "datastore: consume join token"));
  absl::Status not_found = absl::NotFoundError("datastore: join token not found or already used");
  if (!CheckJoinToken(token).ok()) {
    return not_found;
  }
  std::optional<JoinToken> consumed;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    // One statement: of concurrent consumers exactly one sees the row.
    SIGNET_ASSIGN_OR_RETURN(sql::Result r,
                            txn.Query("DELETE FROM join_tokens WHERE token = ? "
                                      "RETURNING token, spiffe_id, expires_at, created_at",
                                      {token}));
    if (r.num_rows() == 0) {
      return absl::OkStatus();
    }
    SIGNET_ASSIGN_OR_RETURN(consumed, JoinTokenFromRow(r));
    return absl::OkStatus();
  }));
  if (!consumed.has_value()) {
    return not_found;
  }
  if (now >= consumed->expires_at) {
    return absl::FailedPreconditionError("datastore: join token expired");
  }
  return *std::move(consumed);
}

absl::StatusOr<int64_t> SqlDataStore::PruneJoinTokens(absl::Time now) {
  SIGNET_RETURN_IF_ERROR(
      Annotate(CheckTime("now", now, /*optional=*/false), "datastore: prune join tokens"));
  int64_t pruned = 0;
  SIGNET_RETURN_IF_ERROR(Write(/*logs_changes=*/false, [&](Txn& txn) -> absl::Status {
    // Expired means expires_at <= now, as in ConsumeJoinToken.
    SIGNET_ASSIGN_OR_RETURN(
        sql::Result r,
        txn.Query("DELETE FROM join_tokens WHERE expires_at <= ?", {absl::ToUnixSeconds(now)}));
    pruned = r.rows_affected();
    return absl::OkStatus();
  }));
  return pruned;
}

}  // namespace signet::server::internal
