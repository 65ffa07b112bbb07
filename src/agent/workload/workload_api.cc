#include "src/agent/workload/workload_api.h"

#include <google/protobuf/util/json_util.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/spiffe/jwt_audience.h"
#include "src/spiffe/jwt_svid.h"

namespace signet::agent {
namespace {

constexpr char kHeader[] = "workload.spiffe.io";

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string BundleDer(const spiffe::Bundle& bundle) {
  std::string der;
  for (const crypto::Certificate& ca : bundle.x509_authorities()) der += ca.ToDer();
  return der;
}

// Fills an X509SVIDResponse; false while the caller has no SVID yet.
bool BuildX509(const WorkloadView& view, X509SVIDResponse* out) {
  if (view.svids.empty()) return false;
  const std::string bundle = BundleDer(*view.bundle);
  for (const auto& svid : view.svids) {
    X509SVID* s = out->add_svids();
    s->set_spiffe_id(svid->spiffe_id);
    s->set_x509_svid(svid->ChainDer());
    s->set_x509_svid_key(svid->key_der);
    s->set_bundle(bundle);
    s->set_hint(svid->hint);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<spiffe::Selector>> WorkloadApiService::Caller(
    const grpc::ServerContextBase& ctx) {
  auto header = ctx.client_metadata().find(kHeader);
  if (header == ctx.client_metadata().end() || header->second != "true") {
    return absl::InvalidArgumentError(
        "security header missing: every Workload API call needs metadata workload.spiffe.io: "
        "true");
  }
  std::optional<rpc::PeerCred> cred = deps_.peers->Lookup(ctx.peer());
  if (!cred.has_value()) {
    return absl::PermissionDeniedError("the caller's process could not be identified");
  }
  return attestation_.Attest(
      *deps_.attestors,
      WorkloadProcess{.pid = cred->pid, .uid = cred->uid, .gid = cred->gid, .pidfd = cred->pidfd});
}

absl::StatusOr<WorkloadView> WorkloadApiService::View(
    const std::vector<spiffe::Selector>& selectors) const {
  const absl::Time deadline = absl::Now() + deps_.svid_wait;
  while (true) {
    const uint64_t version = deps_.cache->version();
    WorkloadView view = deps_.cache->For(selectors);
    if (view.ready && view.entitled == 0) {
      return absl::PermissionDeniedError("no identity is registered for this workload");
    }
    if (view.ready) return view;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError("the agent is not ready yet; retry");
    }
    deps_.cache->WaitForChange(version, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
  }
}

template <typename Response>
grpc::ServerWriteReactor<Response>* WorkloadApiService::OpenStream(
    grpc::CallbackServerContext* ctx, std::function<bool(const WorkloadView&, Response*)> fill) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return SnapshotStream<Response>::Refused(ToGrpc(selectors.status()));
  if (deps_.stopping != nullptr && deps_.stopping->load()) {
    return SnapshotStream<Response>::Refused(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "the agent is shutting down"));
  }
  const SvidCache* cache = deps_.cache;
  auto build = [cache, selectors = *std::move(selectors),
                fill = std::move(fill)](Response* out) -> absl::StatusOr<bool> {
    WorkloadView view = cache->For(selectors);
    if (!view.ready) return false;
    if (view.entitled == 0) {
      return absl::PermissionDeniedError(
          "no identity is registered for this workload (or no longer)");
    }
    return fill(view, out);
  };
  SnapshotStream<Response>* stream = nullptr;
  SnapshotStream<Response>::Start(&hub_, std::move(build), absl::Now() + deps_.svid_wait, &stream);
  return stream;
}

grpc::ServerWriteReactor<X509SVIDResponse>* WorkloadApiService::FetchX509SVID(
    grpc::CallbackServerContext* ctx, const X509SVIDRequest* /*req*/) {
  return OpenStream<X509SVIDResponse>(ctx, BuildX509);
}

grpc::ServerWriteReactor<X509BundlesResponse>* WorkloadApiService::FetchX509Bundles(
    grpc::CallbackServerContext* ctx, const X509BundlesRequest* /*req*/) {
  const std::string own = deps_.trust_domain.IdString();
  return OpenStream<X509BundlesResponse>(ctx,
                                         [own](const WorkloadView& view, X509BundlesResponse* out) {
                                           (*out->mutable_bundles())[own] = BundleDer(*view.bundle);
                                           return true;
                                         });
}

grpc::ServerWriteReactor<JWTBundlesResponse>* WorkloadApiService::FetchJWTBundles(
    grpc::CallbackServerContext* ctx, const JWTBundlesRequest* /*req*/) {
  const std::string own = deps_.trust_domain.IdString();
  return OpenStream<JWTBundlesResponse>(
      ctx, [own](const WorkloadView& view, JWTBundlesResponse* out) {
        absl::StatusOr<std::string> jwks =
            spiffe::ToSpiffeBundleJson(*view.bundle, spiffe::BundleKeys::kJwtOnly);
        if (!jwks.ok()) {
          LogError("workload api: cannot encode the JWT bundle", {{"error", jwks.status()}});
          return false;
        }
        (*out->mutable_bundles())[own] = *std::move(jwks);
        return true;
      });
}

grpc::Status WorkloadApiService::FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                                              JWTSVIDResponse* resp) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  return ToGrpc(selectors.ok() ? JwtSvids(*selectors, *req, resp) : selectors.status());
}

absl::Status WorkloadApiService::JwtSvids(const std::vector<spiffe::Selector>& selectors,
                                          const JWTSVIDRequest& req, JWTSVIDResponse* resp) {
  SIGNET_ASSIGN_OR_RETURN(std::vector<std::string> audience,
                          spiffe::CheckAudiences(req.audience()));
  SIGNET_ASSIGN_OR_RETURN(WorkloadView view, View(selectors));
  std::vector<std::string> done;
  for (const auto& shared : view.entries) {
    const ::signet::agent::v1::Entry& entry = *shared;
    if (!req.spiffe_id().empty() && entry.spiffe_id() != req.spiffe_id()) continue;
    if (std::find(done.begin(), done.end(), entry.spiffe_id()) != done.end()) continue;
    done.push_back(entry.spiffe_id());
    std::optional<std::string> token = deps_.cache->GetJwt(entry.spiffe_id(), audience);
    if (!token.has_value()) {
      absl::StatusOr<MintedJwt> minted = deps_.mint_jwt(entry, audience);
      if (!minted.ok()) {
        return absl::UnavailableError(
            absl::StrCat("cannot get a JWT-SVID from the server: ", minted.status().message()));
      }
      deps_.cache->PutJwt(entry.spiffe_id(), audience, minted->token, minted->issued_at,
                          minted->expires_at);
      token = minted->token;
    }
    JWTSVID* svid = resp->add_svids();
    svid->set_spiffe_id(entry.spiffe_id());
    svid->set_svid(*std::move(token));
    svid->set_hint(entry.hint());
  }
  if (resp->svids().empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the workload is not entitled to ", req.spiffe_id()));
  }
  return absl::OkStatus();
}

grpc::Status WorkloadApiService::ValidateJWTSVID(grpc::ServerContext* ctx,
                                                 const ValidateJWTSVIDRequest* req,
                                                 ValidateJWTSVIDResponse* resp) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  return ToGrpc(selectors.ok() ? Validate(*selectors, *req, resp) : selectors.status());
}

absl::Status WorkloadApiService::Validate(const std::vector<spiffe::Selector>& selectors,
                                          const ValidateJWTSVIDRequest& req,
                                          ValidateJWTSVIDResponse* resp) {
  if (req.audience().empty() || req.svid().empty()) {
    return absl::InvalidArgumentError("audience and svid are required");
  }
  SIGNET_ASSIGN_OR_RETURN(WorkloadView view, View(selectors));
  spiffe::BundleSet bundles;
  bundles.Put(deps_.trust_domain, *view.bundle);
  absl::StatusOr<spiffe::JwtSvid> jwt = spiffe::ValidateJwtSvid(
      req.svid(), bundles, {.audience = req.audience(), .now = deps_.clock->Now()});
  if (!jwt.ok()) return absl::InvalidArgumentError(jwt.status().message());
  nlohmann::json claims = jwt->Claims();
  if (claims.contains("aud") && claims["aud"].is_string()) {
    claims["aud"] = nlohmann::json::array({claims["aud"]});  // always a list (§6.4)
  }
  if (!google::protobuf::util::JsonStringToMessage(claims.dump(), resp->mutable_claims()).ok()) {
    return absl::InternalError("cannot convert the claims");
  }
  resp->set_spiffe_id(jwt->id.String());
  return absl::OkStatus();
}

}  // namespace signet::agent
