#include "src/server/agentapi/node_service.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/crypto/csr.h"
#include "src/server/ca/ca_manager.h"

namespace signet::server {
namespace {

namespace pb = ::signet::agent::v1;

constexpr size_t kMaxPayloadBytes = 64 * 1024;

void FillSvid(const spiffe::SpiffeId& id, const std::vector<crypto::Certificate>& chain,
              pb::AgentSvid* out) {
  out->set_spiffe_id(id.String());
  for (const crypto::Certificate& cert : chain) {
    out->add_cert_chain(cert.ToDer());
  }
  out->set_expires_at(absl::ToUnixSeconds(chain.front().NotAfter()));
}

// The attestor's side of a challenge: one write, one read on the Attest stream.
class StreamChallenges final : public ChallengeChannel {
 public:
  explicit StreamChallenges(grpc::ServerReaderWriter<pb::AttestResponse, pb::AttestRequest>* stream)
      : stream_(stream) {}

  absl::StatusOr<std::string> Challenge(absl::string_view challenge) override {
    pb::AttestResponse out;
    out.set_challenge(std::string(challenge));
    pb::AttestRequest in;
    if (!stream_->Write(out) || !stream_->Read(&in)) {
      return absl::UnavailableError("attest: the agent closed the stream during the challenge");
    }
    if (in.challenge_response().size() > kMaxPayloadBytes) {
      return absl::InvalidArgumentError("attest: challenge response too large");
    }
    return std::move(*in.mutable_challenge_response());
  }

 private:
  grpc::ServerReaderWriter<pb::AttestResponse, pb::AttestRequest>* stream_;
};

}  // namespace

absl::StatusOr<crypto::PublicKey> PublicKeyFromCsr(const std::string& csr) {
  if (csr.empty() || csr.size() > kMaxCsrBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("csr: required, at most ", kMaxCsrBytes, " bytes"));
  }
  absl::StatusOr<crypto::PublicKey> key = crypto::ParseCsrDer(csr);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("csr: ", key.status().message()));
  }
  return key;
}

absl::StatusOr<AttestedNode> ServableNode(const ApiContext& api, const spiffe::SpiffeId& caller) {
  absl::StatusOr<AttestedNode> node = api.store().GetNode(caller.String());
  if (absl::IsNotFound(node.status())) {
    return absl::PermissionDeniedError("not an attested agent (evicted or never attested)");
  }
  if (!node.ok()) {
    return absl::UnavailableError(absl::StrCat("agent check: ", node.status().message()));
  }
  if (node->banned) {
    return absl::PermissionDeniedError("the agent is banned");
  }
  return node;
}

absl::Status AgentPolicy(const ApiContext& api, const spiffe::SpiffeId& caller) {
  return ServableNode(api, caller).status();
}

NodeAttestor* NodeService::Find(absl::string_view type) const {
  for (const auto& attestor : attestors_) {
    if (attestor->type() == type) {
      return attestor.get();
    }
  }
  return nullptr;
}

absl::StatusOr<std::vector<crypto::Certificate>> NodeService::IssueAgentSvid(
    const spiffe::SpiffeId& agent_id, const crypto::PublicKey& key,
    const AttestationResult* attested, absl::string_view attestation_type) {
  // Read before signing: a banned agent gets nothing signed, whatever its evidence.
  absl::StatusOr<AttestedNode> existing = api_->store().GetNode(agent_id.String());
  if (existing.ok() && existing->banned) {
    return absl::PermissionDeniedError("attest: the agent is banned");
  }
  SIGNET_ASSIGN_OR_RETURN(
      std::vector<crypto::Certificate> chain,
      api_->ca().SignX509Svid({.spiffe_id = agent_id, .public_key = key, .ttl = agent_svid_ttl_}));
  if (chain.empty()) {
    return absl::InternalError("agent svid: the CA returned no chain");
  }
  AttestedNode node{.spiffe_id = agent_id.String(),
                    .attestation_type = std::string(attestation_type),
                    .cert_serial = chain.front().SerialHex(),
                    .cert_not_after = chain.front().NotAfter()};
  if (existing.ok()) {
    node.selectors = attested != nullptr ? attested->selectors : existing->selectors;
    node.can_reattest = attested != nullptr ? attested->can_reattest : existing->can_reattest;
    node.attestation_type =
        attested != nullptr ? node.attestation_type : existing->attestation_type;
    SIGNET_RETURN_IF_ERROR(api_->store().UpdateNode(node).status());
  } else if (absl::IsNotFound(existing.status()) && attested != nullptr) {
    node.selectors = attested->selectors;
    node.can_reattest = attested->can_reattest;
    SIGNET_RETURN_IF_ERROR(api_->store().CreateNode(node).status());
  } else if (absl::IsNotFound(existing.status())) {
    return absl::PermissionDeniedError("not an attested agent (evicted)");
  } else {
    return existing.status();
  }
  return chain;
}

grpc::Status NodeService::Attest(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<pb::AttestResponse, pb::AttestRequest>* stream) {
  std::string type;
  std::string agent;
  absl::StatusOr<pb::AttestResponse> done = [&]() -> absl::StatusOr<pb::AttestResponse> {
    std::optional<AgentLimiter::Slot> slot;
    if (limiter_ != nullptr) {
      slot.emplace(limiter_->Acquire("", 0));
      if (!slot->ok()) return slot->status();
    }
    pb::AttestRequest first;
    if (!stream->Read(&first)) {
      return absl::InvalidArgumentError("attest: no request");
    }
    type = first.data().type().substr(0, 64);
    NodeAttestor* attestor = Find(first.data().type());
    if (attestor == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("attest: data.type: attestation type \"", type,
                                                     "\" is not configured on this server"));
    }
    if (first.data().payload().size() > kMaxPayloadBytes) {
      return absl::InvalidArgumentError("attest: data.payload: too large");
    }
    SIGNET_ASSIGN_OR_RETURN(crypto::PublicKey key, PublicKeyFromCsr(first.csr()));
    StreamChallenges challenges(stream);
    SIGNET_ASSIGN_OR_RETURN(AttestationResult attested,
                            attestor->Attest(first.data().payload(), challenges));
    agent = attested.agent_id.String();
    SIGNET_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain,
                            IssueAgentSvid(attested.agent_id, key, &attested, type));
    pb::AttestResponse out;
    FillSvid(attested.agent_id, chain, out.mutable_svid());
    for (const crypto::Certificate& ca : api_->ca().Bundle()->x509_authorities()) {
      out.add_bundle(ca.ToDer());
    }
    for (const spiffe::Selector& s : attested.selectors) {
      pb::Selector* sel = out.add_node_selectors();
      sel->set_type(s.type());
      sel->set_value(s.value());
    }
    return out;
  }();
  api_->Audit(*ctx, "agent.attest", agent, done.status(), absl::StrCat("type ", type));
  if (!done.ok()) {
    LogWarn("agent attestation failed",
            {{"type", type}, {"agent_id", agent}, {"error", done.status()}});
    return ToGrpc(done.status());
  }
  LogInfo("agent attested", {{"type", type}, {"agent_id", agent}});
  stream->Write(*done);
  return grpc::Status::OK;
}

grpc::Status NodeService::RenewAgent(grpc::ServerContext* ctx, const pb::RenewAgentRequest* req,
                                     pb::RenewAgentResponse* resp) {
  const std::string caller = api_->CallerName(*ctx);
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      [&]() -> absl::StatusOr<std::vector<crypto::Certificate>> {
    SIGNET_ASSIGN_OR_RETURN(spiffe::SpiffeId id, spiffe::SpiffeId::Parse(caller));
    std::optional<AgentLimiter::Slot> slot;
    if (limiter_ != nullptr) {
      slot.emplace(limiter_->Acquire(caller, 1));
      if (!slot->ok()) return slot->status();
    }
    SIGNET_ASSIGN_OR_RETURN(crypto::PublicKey key, PublicKeyFromCsr(req->csr()));
    return IssueAgentSvid(id, key, nullptr, "");
  }();
  api_->Audit(*ctx, "agent.renew", caller, chain.status(),
              chain.ok() ? absl::StrCat("serial ", chain->front().SerialHex()) : "");
  if (!chain.ok()) return ToGrpc(chain.status());
  FillSvid(*spiffe::SpiffeId::Parse(caller), *chain, resp->mutable_svid());
  return grpc::Status::OK;
}

}  // namespace signet::server
