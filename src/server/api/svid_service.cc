#include "src/server/api/svid_service.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/status_macros.h"
#include "src/crypto/csr.h"
#include "src/server/api/entry_convert.h"
#include "src/server/ca/ca_manager.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::server {
namespace {

namespace pb = ::signet::admin::v1;

// The SPIFFE ID an operator may mint: ours, with a path, outside the reserved /signet/ tree.
absl::StatusOr<spiffe::SpiffeId> MintableId(absl::string_view text, const spiffe::TrustDomain& td) {
  if (text.empty()) return absl::InvalidArgumentError("spiffe_id: required");
  auto id = spiffe::SpiffeId::Parse(text);
  if (!id.ok())
    return absl::InvalidArgumentError(absl::StrCat("spiffe_id: ", id.status().message()));
  if (!id->MemberOf(td)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "spiffe_id: trust domain \"", id->trust_domain().name(), "\" is not this server's"));
  }
  if (id->IsTrustDomainId()) {
    return absl::InvalidArgumentError("spiffe_id: a trust domain ID cannot be issued");
  }
  if (id->path() == "/signet" || absl::StartsWith(id->path(), "/signet/")) {
    return absl::InvalidArgumentError("spiffe_id: the /signet/ path is reserved");
  }
  return id;
}

absl::Status CheckTtl(int32_t ttl, int32_t max) {
  if (ttl == 0) return absl::OkStatus();
  if (ttl < kMinSvidTtlSeconds || ttl > max) {
    return absl::InvalidArgumentError(absl::StrCat("ttl: must be 0 (server default) or between ",
                                                   kMinSvidTtlSeconds, " and ", max, " seconds"));
  }
  return absl::OkStatus();
}

absl::StatusOr<CaKeyKind> KindFrom(pb::AuthorityKind kind) {
  switch (kind) {
    case pb::AUTHORITY_KIND_X509:
      return CaKeyKind::kX509;
    case pb::AUTHORITY_KIND_JWT:
      return CaKeyKind::kJwt;
    default:
      return absl::InvalidArgumentError("kind: must be x509 or jwt");
  }
}

void SlotsToProto(const std::vector<CaSlotInfo>& slots, pb::AuthorityResponse* out) {
  for (const CaSlotInfo& s : slots) {
    pb::Authority* a = out->add_authorities();
    a->set_key_id(s.key_id);
    a->set_state(std::string(CaSlotStateName(s.state)));
    a->set_key_type(s.key_type);
    a->set_not_before(absl::ToUnixSeconds(s.not_before));
    a->set_not_after(absl::ToUnixSeconds(s.not_after));
  }
}

}  // namespace

grpc::Status SvidService::MintX509Svid(grpc::ServerContext* ctx, const pb::MintX509SvidRequest* req,
                                       pb::MintX509SvidResponse* resp) {
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      [&]() -> absl::StatusOr<std::vector<crypto::Certificate>> {
    auto id = MintableId(req->spiffe_id(), api_->settings().trust_domain);
    if (!id.ok()) return id.status();
    auto key = crypto::ParseCsrDer(req->csr());
    if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("csr: ", key.status().message()));
    absl::Status ttl = CheckTtl(req->ttl(), kMaxX509SvidTtlSeconds);
    if (!ttl.ok()) return ttl;
    if (req->dns_names_size() > kMaxDnsNamesPerEntry) {
      return absl::InvalidArgumentError(absl::StrCat("dns_names: at most ", kMaxDnsNamesPerEntry));
    }
    X509SvidRequest sign{.spiffe_id = *id, .public_key = *key, .ttl = absl::Seconds(req->ttl())};
    for (int i = 0; i < req->dns_names_size(); ++i) {
      absl::Status dns = ValidateDnsName(req->dns_names(i));
      if (!dns.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("dns_names[", i, "]: ", dns.message()));
      }
      sign.dns_names.push_back(req->dns_names(i));
    }
    return api_->ca().SignX509Svid(sign);
  }();
  std::string serial = chain.ok() && !chain->empty() ? chain->front().SerialHex() : "";
  api_->Audit(*ctx, "x509.mint", req->spiffe_id(), chain.status(),
              chain.ok() ? absl::StrCat("serial ", serial) : "");
  if (!chain.ok()) return ToGrpc(chain.status());
  if (chain->empty()) return ToGrpc(absl::InternalError("x509 mint: the CA returned no chain"));
  for (const crypto::Certificate& cert : *chain) resp->add_chain(cert.ToDer());
  resp->set_expires_at(absl::ToUnixSeconds(chain->front().NotAfter()));
  return grpc::Status::OK;
}

grpc::Status SvidService::MintJwtSvid(grpc::ServerContext* ctx, const pb::MintJwtSvidRequest* req,
                                      pb::MintJwtSvidResponse* resp) {
  absl::StatusOr<std::string> token = [&]() -> absl::StatusOr<std::string> {
    auto id = MintableId(req->spiffe_id(), api_->settings().trust_domain);
    if (!id.ok()) return id.status();
    JwtSvidRequest sign{.spiffe_id = *id, .ttl = absl::Seconds(req->ttl())};
    SIGNET_ASSIGN_OR_RETURN(sign.audience, CheckAudiences(req->audience()));
    absl::Status ttl = CheckTtl(req->ttl(), kMaxJwtSvidTtlSeconds);
    if (!ttl.ok()) return ttl;
    return api_->ca().SignJwtSvid(sign);
  }();
  api_->Audit(*ctx, "jwt.mint", req->spiffe_id(), token.status(),
              token.ok() ? absl::StrCat("aud ", absl::StrJoin(req->audience(), ",")) : "");
  if (!token.ok()) return ToGrpc(token.status());
  auto decoded = spiffe::DecodeJwtUnverified(*token);
  if (decoded.ok() && decoded->claims.contains("exp") && decoded->claims["exp"].is_number()) {
    resp->set_expires_at(decoded->claims["exp"].get<int64_t>());
  }
  resp->set_token(*std::move(token));
  return grpc::Status::OK;
}

grpc::Status AuthorityService::ShowAuthorities(grpc::ServerContext* ctx,
                                               const pb::AuthorityRequest* req,
                                               pb::AuthorityResponse* resp) {
  auto kind = KindFrom(req->kind());
  if (!kind.ok()) return ToGrpc(kind.status());
  api_->Audit(*ctx, absl::StrCat("authority.", CaKeyKindName(*kind), ".show"), "",
              absl::OkStatus());
  SlotsToProto(api_->ca().Show(*kind), resp);
  return grpc::Status::OK;
}

grpc::Status AuthorityService::Change(grpc::ServerContext* ctx, const pb::AuthorityRequest* req,
                                      Op op, pb::AuthorityResponse* resp) {
  auto kind = KindFrom(req->kind());
  if (!kind.ok()) return ToGrpc(kind.status());
  const char* name = "";
  absl::Status status;
  switch (op) {
    case Op::kPrepare:
      name = "prepare";
      status = api_->ca().Prepare(*kind).status();
      break;
    case Op::kActivate:
      name = "activate";
      status = api_->ca().Activate(*kind).status();
      break;
    case Op::kTaint:
      name = "taint";
      status = req->key_id().empty() ? absl::InvalidArgumentError("key_id: required")
                                     : api_->ca().Taint(*kind, req->key_id());
      break;
    case Op::kRevoke:
      name = "revoke";
      status = req->key_id().empty() ? absl::InvalidArgumentError("key_id: required")
                                     : api_->ca().Revoke(*kind, req->key_id());
      break;
  }
  api_->Audit(*ctx, absl::StrCat("authority.", CaKeyKindName(*kind), ".", name), req->key_id(),
              status);
  if (!status.ok()) return ToGrpc(status);
  SlotsToProto(api_->ca().Show(*kind), resp);
  return grpc::Status::OK;
}

grpc::Status AuthorityService::PrepareAuthority(grpc::ServerContext* ctx,
                                                const pb::AuthorityRequest* req,
                                                pb::AuthorityResponse* resp) {
  return Change(ctx, req, Op::kPrepare, resp);
}
grpc::Status AuthorityService::ActivateAuthority(grpc::ServerContext* ctx,
                                                 const pb::AuthorityRequest* req,
                                                 pb::AuthorityResponse* resp) {
  return Change(ctx, req, Op::kActivate, resp);
}
grpc::Status AuthorityService::TaintAuthority(grpc::ServerContext* ctx,
                                              const pb::AuthorityRequest* req,
                                              pb::AuthorityResponse* resp) {
  return Change(ctx, req, Op::kTaint, resp);
}
grpc::Status AuthorityService::RevokeAuthority(grpc::ServerContext* ctx,
                                               const pb::AuthorityRequest* req,
                                               pb::AuthorityResponse* resp) {
  return Change(ctx, req, Op::kRevoke, resp);
}

}  // namespace signet::server
