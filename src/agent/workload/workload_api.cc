#include "src/agent/workload/workload_api.h"

#include <google/protobuf/util/json_util.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/logging.h"
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
    s->set_x509_svid(svid->chain_der);
    s->set_x509_svid_key(svid->key_der);
    s->set_bundle(bundle);
    s->set_hint(svid->hint);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<spiffe::Selector>> WorkloadApiService::Caller(
    const grpc::ServerContext& ctx) const {
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
  return AttestWorkload(
      *deps_.attestors,
      WorkloadProcess{.pid = cred->pid, .uid = cred->uid, .gid = cred->gid, .pidfd = cred->pidfd});
}

absl::StatusOr<WorkloadView> WorkloadApiService::View(
    const std::vector<spiffe::Selector>& selectors, bool need_svid) const {
  const absl::Time deadline = absl::Now() + deps_.svid_wait;
  while (true) {
    const uint64_t version = deps_.cache->version();
    WorkloadView view = deps_.cache->For(selectors);
    if (view.ready && view.entitled == 0) {
      return absl::PermissionDeniedError("no identity is registered for this workload");
    }
    if (view.ready && (!need_svid || !view.svids.empty())) return view;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(view.ready ? "the workload's SVID is not signed yet; retry"
                                               : "the agent is not ready yet; retry");
    }
    deps_.cache->WaitForChange(version, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
  }
}

template <typename Response>
grpc::Status WorkloadApiService::Stream(
    grpc::ServerContext* ctx, grpc::ServerWriter<Response>* writer, bool need_svid,
    const std::function<bool(const WorkloadView&, Response*)>& build) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return ToGrpc(selectors.status());
  absl::StatusOr<WorkloadView> view = View(*selectors, need_svid);
  if (!view.ok()) return ToGrpc(view.status());
  std::string last;
  while (!ctx->IsCancelled()) {
    if (deps_.stopping != nullptr && deps_.stopping->load()) {
      return ToGrpc(absl::UnavailableError("the agent is shutting down"));
    }
    Response message;
    if (build(*view, &message)) {
      std::string bytes = message.SerializeAsString();
      if (bytes != last) {
        if (!writer->Write(message)) return grpc::Status::OK;
        last = std::move(bytes);
      }
    }
    const uint64_t version = deps_.cache->version();
    deps_.cache->WaitForChange(version, absl::Now() + deps_.poll);
    *view = deps_.cache->For(*selectors);
    if (view->ready && view->entitled == 0) {
      return ToGrpc(absl::PermissionDeniedError("the workload is no longer entitled to any SVID"));
    }
  }
  return grpc::Status::OK;
}

grpc::Status WorkloadApiService::FetchX509SVID(grpc::ServerContext* ctx,
                                               const X509SVIDRequest* /*req*/,
                                               grpc::ServerWriter<X509SVIDResponse>* writer) {
  return Stream<X509SVIDResponse>(
      ctx, writer, /*need_svid=*/true,
      [](const WorkloadView& view, X509SVIDResponse* out) { return BuildX509(view, out); });
}

grpc::Status WorkloadApiService::FetchX509Bundles(grpc::ServerContext* ctx,
                                                  const X509BundlesRequest* /*req*/,
                                                  grpc::ServerWriter<X509BundlesResponse>* writer) {
  return Stream<X509BundlesResponse>(
      ctx, writer, /*need_svid=*/false, [this](const WorkloadView& view, X509BundlesResponse* out) {
        (*out->mutable_bundles())[deps_.trust_domain.IdString()] = BundleDer(*view.bundle);
        return true;
      });
}

grpc::Status WorkloadApiService::FetchJWTBundles(grpc::ServerContext* ctx,
                                                 const JWTBundlesRequest* /*req*/,
                                                 grpc::ServerWriter<JWTBundlesResponse>* writer) {
  return Stream<JWTBundlesResponse>(
      ctx, writer, /*need_svid=*/false, [this](const WorkloadView& view, JWTBundlesResponse* out) {
        absl::StatusOr<std::string> jwks =
            spiffe::ToSpiffeBundleJson(*view.bundle, spiffe::BundleKeys::kJwtOnly);
        if (!jwks.ok()) {
          LogError("workload api: cannot encode the JWT bundle", {{"error", jwks.status()}});
          return false;
        }
        (*out->mutable_bundles())[deps_.trust_domain.IdString()] = *std::move(jwks);
        return true;
      });
}

grpc::Status WorkloadApiService::FetchJWTSVID(grpc::ServerContext* ctx, const JWTSVIDRequest* req,
                                              JWTSVIDResponse* resp) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return ToGrpc(selectors.status());
  std::vector<std::string> audience(req->audience().begin(), req->audience().end());
  if (audience.empty() ||
      std::any_of(audience.begin(), audience.end(), [](const auto& a) { return a.empty(); })) {
    return ToGrpc(absl::InvalidArgumentError("audience: at least one, none empty"));
  }
  absl::StatusOr<WorkloadView> view = View(*selectors, /*need_svid=*/false);
  if (!view.ok()) return ToGrpc(view.status());
  std::vector<std::string> done;
  for (const ::signet::agent::v1::Entry& entry : view->entries) {
    if (!req->spiffe_id().empty() && entry.spiffe_id() != req->spiffe_id()) continue;
    if (std::find(done.begin(), done.end(), entry.spiffe_id()) != done.end()) continue;
    done.push_back(entry.spiffe_id());
    std::optional<std::string> token = deps_.cache->GetJwt(entry.spiffe_id(), audience);
    if (!token.has_value()) {
      absl::StatusOr<MintedJwt> minted = deps_.mint_jwt(entry, audience);
      if (!minted.ok()) {
        return ToGrpc(absl::UnavailableError(
            absl::StrCat("cannot get a JWT-SVID from the server: ", minted.status().message())));
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
    return ToGrpc(absl::PermissionDeniedError(
        absl::StrCat("the workload is not entitled to ", req->spiffe_id())));
  }
  return grpc::Status::OK;
}

grpc::Status WorkloadApiService::ValidateJWTSVID(grpc::ServerContext* ctx,
                                                 const ValidateJWTSVIDRequest* req,
                                                 ValidateJWTSVIDResponse* resp) {
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = Caller(*ctx);
  if (!selectors.ok()) return ToGrpc(selectors.status());
  if (req->audience().empty() || req->svid().empty()) {
    return ToGrpc(absl::InvalidArgumentError("audience and svid are required"));
  }
  absl::StatusOr<WorkloadView> view = View(*selectors, /*need_svid=*/false);
  if (!view.ok()) return ToGrpc(view.status());
  spiffe::BundleSet bundles;
  bundles.Put(deps_.trust_domain, *view->bundle);
  absl::StatusOr<spiffe::JwtSvid> jwt = spiffe::ValidateJwtSvid(
      req->svid(), bundles, {.audience = req->audience(), .now = deps_.clock->Now()});
  if (!jwt.ok()) return ToGrpc(absl::InvalidArgumentError(jwt.status().message()));
  nlohmann::json claims = jwt->Claims();
  if (claims.contains("aud") && claims["aud"].is_string()) {
    claims["aud"] = nlohmann::json::array({claims["aud"]});  // always a list (§6.4)
  }
  if (!google::protobuf::util::JsonStringToMessage(claims.dump(), resp->mutable_claims()).ok()) {
    return ToGrpc(absl::InternalError("cannot convert the claims"));
  }
  resp->set_spiffe_id(jwt->id.String());
  return grpc::Status::OK;
}

}  // namespace signet::agent
