#include "src/server/api/agent_service.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/common/status_macros.h"
#include "src/server/api/entry_convert.h"
#include "src/spiffe/bundle.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;

void AgentToProto(const AttestedNode& in, pb::Agent* out) {
  out->set_spiffe_id(in.spiffe_id);
  out->set_attestation_type(in.attestation_type);
  out->set_cert_serial(in.cert_serial);
  out->set_cert_expires_at(ToUnixOrZero(in.cert_not_after));
  out->set_banned(in.banned);
  out->set_can_reattest(in.can_reattest);
  SelectorsToProto(in.selectors, out->mutable_selectors());
  out->set_created_at(ToUnixOrZero(in.created_at));
  out->set_updated_at(ToUnixOrZero(in.updated_at));
}

// The agent ID in a request: a valid SPIFFE ID of our trust domain.
absl::StatusOr<std::string> AgentId(const pb::AgentRequest& req, const spiffe::TrustDomain& td) {
  if (req.spiffe_id().empty()) return absl::InvalidArgumentError("spiffe_id: required");
  auto id = spiffe::SpiffeId::Parse(req.spiffe_id());
  if (!id.ok())
    return absl::InvalidArgumentError(absl::StrCat("spiffe_id: ", id.status().message()));
  if (!id->MemberOf(td)) {
    return absl::InvalidArgumentError(
        absl::StrCat("spiffe_id: not in trust domain \"", td.name(), "\""));
  }
  return id->String();
}

absl::StatusOr<spiffe::Bundle> ParseStored(const StoredBundle& stored) {
  auto bundle = spiffe::ParseSpiffeBundle(stored.spiffe_json);
  if (!bundle.ok()) {
    return absl::DataLossError(absl::StrCat("stored bundle for \"", stored.trust_domain,
                                            "\" is invalid: ", bundle.status().message()));
  }
  return bundle;
}

void BundleToProto(const StoredBundle& stored, const spiffe::Bundle& bundle, pb::Bundle* out) {
  out->set_trust_domain(stored.trust_domain);
  out->set_spiffe_json(stored.spiffe_json);
  for (const crypto::Certificate& cert : bundle.x509_authorities()) {
    out->add_x509_authorities(cert.ToDer());
  }
  out->set_sequence(static_cast<int64_t>(bundle.sequence().value_or(0)));
}

// A federated trust domain named in a request: valid and not our own.
absl::StatusOr<spiffe::TrustDomain> ForeignTrustDomain(absl::string_view name,
                                                       const spiffe::TrustDomain& own) {
  if (name.empty()) return absl::InvalidArgumentError("trust_domain: required");
  auto td = spiffe::TrustDomain::Parse(name);
  if (!td.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("trust_domain: ", td.status().message()));
  }
  if (*td == own) {
    return absl::InvalidArgumentError(
        "trust_domain: this is the server's own trust domain; its bundle is managed by the CA");
  }
  return td;
}

}  // namespace

grpc::Status AgentService::ListAgents(grpc::ServerContext* ctx, const pb::ListAgentsRequest* req,
                                      pb::ListAgentsResponse* resp) {
  if (req->page_size() < 0 || req->page_size() > kMaxPageSize) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("page_size: must be between 0 and ", kMaxPageSize)));
  }
  auto page =
      api_->store().ListNodes(req->page_token(), req->page_size() == 0 ? 100 : req->page_size());
  api_->Audit(*ctx, "agent.list", "", page.status());
  if (!page.ok()) return ToGrpc(page.status());
  for (const AttestedNode& n : page->nodes) AgentToProto(n, resp->add_agents());
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AgentService::GetAgent(grpc::ServerContext* ctx, const pb::AgentRequest* req,
                                    pb::Agent* resp) {
  auto id = AgentId(*req, api_->settings().trust_domain);
  if (!id.ok()) return ToGrpc(id.status());
  auto node = api_->store().GetNode(*id);
  api_->Audit(*ctx, "agent.show", *id, node.status());
  if (!node.ok()) return ToGrpc(node.status());
  AgentToProto(*node, resp);
  return grpc::Status::OK;
}

grpc::Status AgentService::EvictAgent(grpc::ServerContext* ctx, const pb::AgentRequest* req,
                                      pb::Agent* resp) {
  auto id = AgentId(*req, api_->settings().trust_domain);
  if (!id.ok()) return ToGrpc(id.status());
  auto node = api_->store().DeleteNode(*id);
  api_->Audit(*ctx, "agent.evict", *id, node.status());
  if (!node.ok()) return ToGrpc(node.status());
  AgentToProto(*node, resp);
  return grpc::Status::OK;
}

grpc::Status AgentService::BanAgent(grpc::ServerContext* ctx, const pb::AgentRequest* req,
                                    pb::Agent* resp) {
  auto id = AgentId(*req, api_->settings().trust_domain);
  if (!id.ok()) return ToGrpc(id.status());
  auto node = api_->store().SetNodeBanned(*id, true);
  api_->Audit(*ctx, "agent.ban", *id, node.status());
  if (!node.ok()) return ToGrpc(node.status());
  AgentToProto(*node, resp);
  return grpc::Status::OK;
}

grpc::Status AgentService::CreateJoinToken(grpc::ServerContext* ctx,
                                           const pb::CreateJoinTokenRequest* req,
                                           pb::JoinToken* resp) {
  int32_t ttl = req->ttl() == 0 ? kDefaultJoinTokenTtlSeconds : req->ttl();
  if (ttl < 1 || ttl > kMaxJoinTokenTtlSeconds) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("ttl: must be between 1 and ", kMaxJoinTokenTtlSeconds, " seconds")));
  }
  JoinToken token;
  if (!req->spiffe_id().empty()) {
    auto id = spiffe::SpiffeId::Parse(req->spiffe_id());
    if (!id.ok()) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat("spiffe_id: ", id.status().message())));
    }
    if (!id->MemberOf(api_->settings().trust_domain) || id->IsTrustDomainId()) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("spiffe_id: must be a workload ID in trust domain \"",
                       api_->settings().trust_domain.name(), "\"")));
    }
    if (!absl::StartsWith(id->path(), "/signet/agent/")) {
      return ToGrpc(absl::InvalidArgumentError(
          "spiffe_id: an agent ID must be under spiffe://<trust domain>/signet/agent/"));
    }
    token.spiffe_id = id->String();
  }
  auto value = NewJoinTokenValue();
  if (!value.ok()) return ToGrpc(value.status());
  token.token = *value;
  token.expires_at = api_->Now() + absl::Seconds(ttl);
  absl::Status created = api_->store().CreateJoinToken(token);
  // The token itself is a credential: the audit log records only that one was made.
  api_->Audit(*ctx, "token.create", token.spiffe_id, created, absl::StrCat("ttl ", ttl, "s"));
  if (!created.ok()) return ToGrpc(created);
  resp->set_token(token.token);
  resp->set_expires_at(absl::ToUnixSeconds(token.expires_at));
  resp->set_spiffe_id(token.spiffe_id);
  return grpc::Status::OK;
}

grpc::Status BundleService::GetBundle(grpc::ServerContext* ctx, const pb::GetBundleRequest* req,
                                      pb::Bundle* resp) {
  const spiffe::TrustDomain& td = api_->settings().trust_domain;
  auto stored = api_->store().GetBundle(td.name());
  if (!stored.ok()) return ToGrpc(stored.status());
  auto bundle = ParseStored(*stored);
  if (!bundle.ok()) return ToGrpc(bundle.status());
  BundleToProto(*stored, *bundle, resp);
  return grpc::Status::OK;
}

grpc::Status BundleService::SetFederatedBundle(grpc::ServerContext* ctx,
                                               const pb::SetFederatedBundleRequest* req,
                                               pb::Bundle* resp) {
  auto td = ForeignTrustDomain(req->trust_domain(), api_->settings().trust_domain);
  if (!td.ok()) return ToGrpc(td.status());
  auto bundle = spiffe::ParseBundleAuto(req->bundle());
  absl::Status status = bundle.status();
  if (!bundle.ok()) {
    status = absl::InvalidArgumentError(absl::StrCat("bundle: ", bundle.status().message()));
  } else if (bundle->empty()) {
    status = absl::InvalidArgumentError("bundle: holds no authorities");
  }
  StoredBundle stored{.trust_domain = td->name()};
  if (status.ok()) {
    absl::StatusOr<std::string> json = spiffe::ToSpiffeBundleJson(*bundle);
    status = json.ok() ? absl::OkStatus() : json.status();
    if (json.ok()) {
      stored.spiffe_json = *std::move(json);
      status = api_->store().SetBundle(stored);
    }
  }
  api_->Audit(*ctx, "bundle.set", td->name(), status);
  if (!status.ok()) return ToGrpc(status);
  BundleToProto(stored, *bundle, resp);
  return grpc::Status::OK;
}

grpc::Status BundleService::ListFederatedBundles(grpc::ServerContext* ctx,
                                                 const pb::ListFederatedBundlesRequest* req,
                                                 pb::ListFederatedBundlesResponse* resp) {
  auto all = api_->store().ListBundles();
  api_->Audit(*ctx, "bundle.list", "", all.status());
  if (!all.ok()) return ToGrpc(all.status());
  for (const StoredBundle& stored : *all) {
    if (stored.trust_domain == api_->settings().trust_domain.name()) continue;
    auto bundle = ParseStored(stored);
    if (!bundle.ok()) return ToGrpc(bundle.status());
    BundleToProto(stored, *bundle, resp->add_bundles());
  }
  return grpc::Status::OK;
}

grpc::Status BundleService::DeleteFederatedBundle(grpc::ServerContext* ctx,
                                                  const pb::DeleteFederatedBundleRequest* req,
                                                  pb::DeleteFederatedBundleResponse* resp) {
  auto td = ForeignTrustDomain(req->trust_domain(), api_->settings().trust_domain);
  if (!td.ok()) return ToGrpc(td.status());
  absl::Status status = api_->store().DeleteBundle(td->name());
  api_->Audit(*ctx, "bundle.delete", td->name(), status);
  return ToGrpc(status);
}

}  // namespace signet::server
