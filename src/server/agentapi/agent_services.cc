#include "src/server/agentapi/agent_services.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/server/agentapi/node_service.h"
#include "src/server/api/svid_service.h"
#include "src/server/ca/ca_manager.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::server {
namespace {

namespace pb = ::signet::agent::v1;

constexpr int kEntriesPerMessage = 1000;

void ToProto(const RegistrationEntry& in, pb::Entry* out) {
  out->set_id(in.id);
  out->set_spiffe_id(in.spiffe_id);
  out->set_parent_id(in.parent_id);
  for (const Selector& s : in.selectors) {
    pb::Selector* sel = out->add_selectors();
    sel->set_type(s.type());
    sel->set_value(s.value());
  }
  out->set_x509_svid_ttl(in.x509_svid_ttl_seconds);
  out->set_jwt_svid_ttl(in.jwt_svid_ttl_seconds);
  for (const std::string& name : in.dns_names) out->add_dns_names(name);
  out->set_hint(in.hint);
  out->set_admin(in.admin);
  out->set_downstream(in.downstream);
  for (const std::string& td : in.federates_with) out->add_federates_with(td);
  out->set_expires_at(in.expires_at == absl::InfinitePast() ? 0
                                                            : absl::ToUnixSeconds(in.expires_at));
  out->set_revision(in.revision);
}

bool IsParentOf(const std::vector<std::string>& parents, const RegistrationEntry& e) {
  return std::find(parents.begin(), parents.end(), e.parent_id) != parents.end();
}

bool Expired(const RegistrationEntry& e, absl::Time now) {
  return e.expires_at != absl::InfinitePast() && e.expires_at <= now;
}

// What one sync stream has told its agent.
class SyncState {
 public:
  // Fills `out` with what changed between what was sent and `now` (the current authorized set)
  // and remembers `now` as sent.
  void Diff(const std::vector<EntryPtr>& now, pb::SyncEntriesResponse* out) {
    std::map<std::string, int64_t> next;
    for (const EntryPtr& e : now) {
      next.emplace(e->id, e->revision);
      auto it = sent_.find(e->id);
      if (it == sent_.end() || it->second != e->revision) {
        ToProto(*e, out->add_entries());
      }
    }
    for (const auto& [id, revision] : sent_) {
      if (next.find(id) == next.end()) {
        out->add_deleted_ids(id);
      }
    }
    sent_ = std::move(next);
  }

  // Takes what a reconnecting agent says it holds as sent, so that the first Diff is a delta
  // against it. InvalidArgument for more than kMaxKnownEntries, an id that is empty, longer than
  // 128 bytes or listed twice, or a negative revision.
  absl::Status Resume(const google::protobuf::RepeatedPtrField<pb::KnownEntry>& known) {
    if (known.size() > kMaxKnownEntries) {
      return absl::InvalidArgumentError(
          absl::StrCat("known: at most ", kMaxKnownEntries, " entries"));
    }
    for (int i = 0; i < known.size(); ++i) {
      const pb::KnownEntry& e = known[i];
      if (e.id().empty() || e.id().size() > 128 || e.revision() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("known[", i, "]: needs an id of 1 to 128 bytes and a revision >= 0"));
      }
      if (!sent_.emplace(e.id(), e.revision()).second) {
        return absl::InvalidArgumentError(absl::StrCat("known[", i, "]: id listed twice"));
      }
    }
    return absl::OkStatus();
  }

  // The bundle document when its sequence changed since the last call, else "".
  std::string BundleIfChanged(const CaManager& ca) {
    std::shared_ptr<const spiffe::Bundle> bundle = ca.Bundle();
    if (bundle == nullptr ||
        (bundle_sequence_.has_value() && bundle->sequence() == *bundle_sequence_)) {
      return "";
    }
    absl::StatusOr<std::string> json = spiffe::ToSpiffeBundleJson(*bundle);
    if (!json.ok()) {
      LogError("agent sync: cannot encode the bundle", {{"error", json.status()}});
      return "";
    }
    bundle_sequence_ = bundle->sequence();
    return *std::move(json);
  }

 private:
  std::map<std::string, int64_t> sent_;  // entry id -> revision
  std::optional<std::optional<uint64_t>> bundle_sequence_;
};

// Sends the first message of a stream (a snapshot or a resume delta) in parts of at most
// kEntriesPerMessage entries; deleted ids go with the first part. False when the agent went.
bool WriteFirst(pb::SyncEntriesResponse snapshot,
                grpc::ServerWriter<pb::SyncEntriesResponse>* writer) {
  if (snapshot.entries_size() <= kEntriesPerMessage) {
    return writer->Write(snapshot);
  }
  pb::SyncEntriesResponse part;
  part.set_revision(snapshot.revision());
  part.set_snapshot(snapshot.snapshot());
  part.set_bundle(snapshot.bundle());
  *part.mutable_deleted_ids() = std::move(*snapshot.mutable_deleted_ids());
  for (int i = 0; i < snapshot.entries_size(); ++i) {
    *part.add_entries() = std::move(*snapshot.mutable_entries(i));
    const bool last = i + 1 == snapshot.entries_size();
    if (part.entries_size() == kEntriesPerMessage || last) {
      part.set_more(!last);
      if (!writer->Write(part)) return false;
      part.clear_entries();
      part.clear_bundle();
      part.clear_deleted_ids();
      part.set_snapshot(false);
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<CallingAgent> LookUpCallingAgent(const ApiContext& api,
                                                const grpc::ServerContext& ctx) {
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(api.CallerName(ctx));
  if (!id.ok()) {
    return absl::UnauthenticatedError("the caller presented no agent svid");
  }
  SIGNET_ASSIGN_OR_RETURN(AttestedNode node, ServableNode(api, *id));
  return CallingAgent{.id = *std::move(id), .node_selectors = std::move(node.selectors)};
}

grpc::Status EntrySyncService::SyncEntries(grpc::ServerContext* ctx,
                                           const pb::SyncEntriesRequest* req,
                                           grpc::ServerWriter<pb::SyncEntriesResponse>* writer) {
  const ApiContext& api = *deps_.api;
  const EntryIndex& index = *deps_.index;
  absl::StatusOr<CallingAgent> agent = LookUpCallingAgent(api, *ctx);
  if (!agent.ok()) return ToGrpc(agent.status());
  SyncState state;
  int64_t node_revision = index.NodeRevision(agent->id.String());
  int64_t revision = index.revision();
  // A reconnecting agent that says what it holds gets a delta; one ahead of this server's
  // revision (a datastore restored from an older backup) starts over from a snapshot.
  const bool resume =
      req->since_revision() > 0 && req->since_revision() <= revision && req->known_size() > 0;
  if (resume) {
    absl::Status known = state.Resume(req->known());
    if (!known.ok()) return ToGrpc(known);
  }
  pb::SyncEntriesResponse first;
  first.set_snapshot(!resume);
  first.set_revision(revision);
  state.Diff(index.AuthorizedFor(agent->id, agent->node_selectors), &first);
  first.set_bundle(state.BundleIfChanged(api.ca()));
  LogInfo("agent sync started", {{"agent_id", agent->id.String()},
                                 {"resumed", resume},
                                 {"entries", first.entries_size()},
                                 {"deleted", first.deleted_ids_size()},
                                 {"revision", revision},
                                 {"since_revision", req->since_revision()}});
  if (!WriteFirst(std::move(first), writer)) return grpc::Status::OK;
  while (!ctx->IsCancelled()) {
    const int64_t now = index.WaitForRevision(revision, absl::Now() + deps_.sync_poll);
    if (deps_.stopping != nullptr && deps_.stopping->load()) {
      return ToGrpc(absl::UnavailableError("the server is shutting down; reconnect"));
    }
    if (index.NodeRevision(agent->id.String()) != node_revision) {
      node_revision = index.NodeRevision(agent->id.String());
      agent = LookUpCallingAgent(api, *ctx);
      if (!agent.ok()) {
        LogWarn("agent sync ended", {{"error", agent.status()}});
        return ToGrpc(agent.status());
      }
    }
    pb::SyncEntriesResponse delta;
    if (now != revision) {
      revision = now;
      state.Diff(index.AuthorizedFor(agent->id, agent->node_selectors), &delta);
    }
    delta.set_bundle(state.BundleIfChanged(api.ca()));
    if (delta.entries_size() == 0 && delta.deleted_ids_size() == 0 && delta.bundle().empty()) {
      continue;
    }
    delta.set_revision(revision);
    if (!writer->Write(delta)) return grpc::Status::OK;
  }
  return grpc::Status::OK;
}

grpc::Status AgentSvidService::BatchNewX509Svid(grpc::ServerContext* ctx,
                                                const pb::BatchNewX509SvidRequest* req,
                                                pb::BatchNewX509SvidResponse* resp) {
  const ApiContext& api = *deps_.api;
  absl::StatusOr<CallingAgent> agent = LookUpCallingAgent(api, *ctx);
  if (!agent.ok()) return ToGrpc(agent.status());
  if (req->requests_size() == 0 || req->requests_size() > kMaxSvidsPerBatch) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("requests: 1 to ", kMaxSvidsPerBatch, " per call")));
  }
  std::optional<AgentLimiter::Slot> slot;
  if (deps_.limiter != nullptr) {
    slot.emplace(deps_.limiter->Acquire(agent->id.String(), req->requests_size()));
    if (!slot->ok()) return ToGrpc(slot->status());
  }
  // Once per call: which parents the agent may sign for (its own ID and its node entries').
  const std::vector<std::string> parents =
      deps_.index->AuthorizedParents(agent->id, agent->node_selectors);
  int signed_count = 0;
  for (const pb::X509SvidRequest& item : req->requests()) {
    pb::X509SvidResult* out = resp->add_results();
    out->set_entry_id(item.entry_id());
    absl::StatusOr<std::vector<crypto::Certificate>> chain =
        [&]() -> absl::StatusOr<std::vector<crypto::Certificate>> {
      EntryPtr entry = deps_.index->Get(item.entry_id());
      if (entry == nullptr) {
        return absl::NotFoundError(
            absl::StrCat("entry \"", item.entry_id().substr(0, 64), "\" not found"));
      }
      if (!IsParentOf(parents, *entry)) {
        return absl::PermissionDeniedError("the entry is not authorized for this agent");
      }
      if (Expired(*entry, api.Now())) {
        return absl::FailedPreconditionError("the entry has expired");
      }
      SIGNET_ASSIGN_OR_RETURN(crypto::PublicKey key, PublicKeyFromCsr(item.csr()));
      SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId id, spiffe::SpiffeId::Parse(entry->spiffe_id));
      return api.ca().SignX509Svid({.spiffe_id = std::move(id),
                                    .public_key = std::move(key),
                                    .ttl = absl::Seconds(entry->x509_svid_ttl_seconds),
                                    .dns_names = entry->dns_names});
    }();
    out->mutable_status()->set_code(static_cast<int>(chain.status().code()));
    out->mutable_status()->set_message(std::string(chain.status().message()));
    if (!chain.ok() || chain->empty()) continue;
    ++signed_count;
    for (const crypto::Certificate& cert : *chain) out->add_cert_chain(cert.ToDer());
    out->set_expires_at(absl::ToUnixSeconds(chain->front().NotAfter()));
  }
  api.Audit(
      *ctx, "x509.batch_sign", absl::StrCat(req->requests_size(), " requests"), absl::OkStatus(),
      absl::StrCat(signed_count, " signed, ", req->requests_size() - signed_count, " refused"));
  return grpc::Status::OK;
}

grpc::Status AgentSvidService::NewJwtSvid(grpc::ServerContext* ctx,
                                          const pb::NewJwtSvidRequest* req,
                                          pb::NewJwtSvidResponse* resp) {
  const ApiContext& api = *deps_.api;
  absl::StatusOr<std::string> token = [&]() -> absl::StatusOr<std::string> {
    SIGNET_ASSIGN_OR_RETURN(CallingAgent agent, LookUpCallingAgent(api, *ctx));
    std::optional<AgentLimiter::Slot> slot;
    if (deps_.limiter != nullptr) {
      slot.emplace(deps_.limiter->Acquire(agent.id.String(), 1));
      if (!slot->ok()) return slot->status();
    }
    EntryPtr entry = deps_.index->Get(req->entry_id());
    if (entry == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("entry \"", req->entry_id().substr(0, 64), "\" not found"));
    }
    if (!IsParentOf(deps_.index->AuthorizedParents(agent.id, agent.node_selectors), *entry)) {
      return absl::PermissionDeniedError("the entry is not authorized for this agent");
    }
    if (Expired(*entry, api.Now())) {
      return absl::FailedPreconditionError("the entry has expired");
    }
    SIGNET_ASSIGN_OR_RETURN(std::vector<std::string> audience, CheckAudiences(req->audience()));
    SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId id, spiffe::SpiffeId::Parse(entry->spiffe_id));
    return api.ca().SignJwtSvid({.spiffe_id = std::move(id),
                                 .audience = std::move(audience),
                                 .ttl = absl::Seconds(entry->jwt_svid_ttl_seconds)});
  }();
  api.Audit(*ctx, "jwt.sign", req->entry_id(), token.status());
  if (!token.ok()) return ToGrpc(token.status());
  absl::StatusOr<spiffe::UnverifiedJwt> decoded = spiffe::DecodeJwtUnverified(*token);
  if (decoded.ok() && decoded->claims.contains("exp") && decoded->claims["exp"].is_number()) {
    resp->set_expires_at(decoded->claims["exp"].get<int64_t>());
  }
  resp->set_token(*std::move(token));
  return grpc::Status::OK;
}

}  // namespace signet::server
