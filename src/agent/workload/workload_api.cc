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

template <typename Message>
absl::StatusOr<Message> ParseRequest(const std::string& bytes) {
  Message message;
  if (!message.ParseFromString(bytes)) {
    return absl::InvalidArgumentError("the request is not a valid protobuf message");
  }
  return message;
}

}  // namespace

absl::Status CheckSecurityHeader(const rpc::h2::CallInfo& info) {
  const std::string* header = info.Find(kHeader);
  if (header == nullptr || *header != "true") {
    return absl::InvalidArgumentError(
        "security header missing: every Workload API call needs metadata workload.spiffe.io: "
        "true");
  }
  return absl::OkStatus();
}

void WorkloadCallers::Attest(const std::shared_ptr<rpc::h2::Call>& call, AttestedFn then) {
  const rpc::PeerCred& cred = call->info().peer;
  WorkloadProcess process{.pid = cred.pid, .uid = cred.uid, .gid = cred.gid, .pidfd = cred.pidfd};
  if (auto cached = attestation_.Cached(process)) return then(*std::move(cached), false);
  // The pidfd outlives the attestation (the job holds it), so its address is a sound key.
  const rpc::PidFd* key = process.pidfd.get();
  {
    absl::MutexLock lock(&inflight_mu_);
    std::vector<Waiter>& waiters = inflight_[key];
    waiters.push_back({call, std::move(then)});
    if (waiters.size() > 1) return;  // joins the attestation already on its way
  }
  const bool queued = pool_.Submit([this, key, process = std::move(process)] {
    if (stopping()) {
      return Deliver(key, absl::UnavailableError("the agent is shutting down"));
    }
    Deliver(key, attestation_.Attest(*deps_.attestors, process));
  });
  if (!queued) Deliver(key, absl::UnavailableError("the agent is busy; retry"));
}

void WorkloadCallers::Deliver(const rpc::PidFd* key,
                              const absl::StatusOr<SharedSelectors>& result) {
  std::vector<Waiter> waiters;
  {
    absl::MutexLock lock(&inflight_mu_);
    auto it = inflight_.find(key);
    if (it == inflight_.end()) return;
    waiters = std::move(it->second);
    inflight_.erase(it);
  }
  for (Waiter& w : waiters) {
    if (!w.call->done()) w.then(result, true);
  }
}

void WorkloadCallers::Offload(const std::shared_ptr<rpc::h2::Call>& call,
                              std::function<void()> work) {
  const bool queued = pool_.Submit([this, call, work = std::move(work)] {
    if (call->done()) return;  // cancelled while queued: nothing to do
    if (stopping()) return call->Finish(absl::UnavailableError("the agent is shutting down"));
    work();
  });
  if (!queued) call->Finish(absl::UnavailableError("the agent is busy; retry"));
}

void WorkloadCallers::Stop() {
  hub_.Stop();
  // Work still queued runs now (its streams end at once: the hub is stopped); once this returns
  // nothing but the event loops touches a call, so the server can go.
  pool_.Stop();
}

std::optional<absl::StatusOr<WorkloadView>> WorkloadApiService::View(
    const std::vector<spiffe::Selector>& selectors, bool may_block) const {
  const absl::Time deadline = absl::Now() + deps_.svid_wait;
  while (true) {
    const uint64_t version = deps_.cache->version();
    WorkloadView view = deps_.cache->For(selectors);
    if (view.ready && view.entitled == 0) {
      return absl::PermissionDeniedError("no identity is registered for this workload");
    }
    if (view.ready) return view;
    if (!may_block) return std::nullopt;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError("the agent is not ready yet; retry");
    }
    deps_.cache->WaitForChange(version, std::min(deadline, absl::Now() + absl::Milliseconds(200)));
  }
}

template <typename Response>
void WorkloadApiService::OpenStream(std::shared_ptr<rpc::h2::Call> call,
                                    std::function<bool(const WorkloadView&, Response*)> fill) {
  if (absl::Status header = CheckSecurityHeader(call->info()); !header.ok()) {
    return call->Finish(header);
  }
  callers_.Attest(
      call, [this, call, fill = std::move(fill)](absl::StatusOr<SharedSelectors> selectors, bool) {
        if (!selectors.ok()) return call->Finish(selectors.status());
        if (callers_.stopping())
          return call->Finish(absl::UnavailableError("the agent is shutting down"));
        const SvidCache* cache = deps_.cache;
        auto build = [cache, selectors = *std::move(selectors),
                      fill](void) -> absl::StatusOr<std::optional<std::string>> {
          WorkloadView view = cache->For(*selectors);
          if (!view.ready) return std::nullopt;
          if (view.entitled == 0) {
            return absl::PermissionDeniedError(
                "no identity is registered for this workload (or no longer)");
          }
          Response message;
          if (!fill(view, &message)) return std::nullopt;
          return message.SerializeAsString();
        };
        callers_.hub().Add(std::make_shared<SnapshotStream>(call, std::move(build),
                                                            absl::Now() + deps_.svid_wait));
      });
}

template <typename Request, typename Response>
void WorkloadApiService::Unary(
    std::shared_ptr<rpc::h2::Call> call, std::string bytes,
    std::function<std::optional<absl::Status>(const std::vector<spiffe::Selector>&, const Request&,
                                              bool, Response*)>
        answer) {
  if (absl::Status header = CheckSecurityHeader(call->info()); !header.ok()) {
    return call->Finish(header);
  }
  absl::StatusOr<Request> request = ParseRequest<Request>(bytes);
  if (!request.ok()) return call->Finish(request.status());
  callers_.Attest(call, [this, call, request = *std::move(request), answer = std::move(answer)](
                            absl::StatusOr<SharedSelectors> selectors, bool may_block) mutable {
    if (!selectors.ok()) return call->Finish(selectors.status());
    Response response;
    std::optional<absl::Status> status = answer(**selectors, request, may_block, &response);
    if (status.has_value()) {
      if (status->ok()) call->Write(response);
      return call->Finish(*status);
    }
    // The answer needs to wait (a JWT-SVID to sign, an agent still syncing): on a worker.
    callers_.Offload(call, [call, request = std::move(request), answer = std::move(answer),
                            selectors = *std::move(selectors)] {
      Response later;
      const absl::Status done = *answer(*selectors, request, true, &later);
      if (done.ok()) call->Write(later);
      call->Finish(done);
    });
  });
}

void WorkloadApiService::Register(rpc::h2::Server* server) {
  using rpc::h2::Call;
  server->Register("/SpiffeWorkloadAPI/FetchX509SVID",
                   rpc::h2::SingleRequest([this](std::shared_ptr<Call> call, std::string) {
                     OpenStream<X509SVIDResponse>(std::move(call), BuildX509);
                   }));
  const std::string own = deps_.trust_domain.IdString();
  server->Register("/SpiffeWorkloadAPI/FetchX509Bundles",
                   rpc::h2::SingleRequest([this, own](std::shared_ptr<Call> call, std::string) {
                     OpenStream<X509BundlesResponse>(
                         std::move(call),
                         [own](const WorkloadView& view, X509BundlesResponse* out) {
                           (*out->mutable_bundles())[own] = BundleDer(*view.bundle);
                           return true;
                         });
                   }));
  server->Register(
      "/SpiffeWorkloadAPI/FetchJWTBundles",
      rpc::h2::SingleRequest([this, own](std::shared_ptr<Call> call, std::string) {
        OpenStream<JWTBundlesResponse>(
            std::move(call), [own](const WorkloadView& view, JWTBundlesResponse* out) {
              absl::StatusOr<std::string> jwks =
                  spiffe::ToSpiffeBundleJson(*view.bundle, spiffe::BundleKeys::kJwtOnly);
              if (!jwks.ok()) {
                LogError("workload api: cannot encode the JWT bundle", {{"error", jwks.status()}});
                return false;
              }
              (*out->mutable_bundles())[own] = *std::move(jwks);
              return true;
            });
      }));
  server->Register("/SpiffeWorkloadAPI/FetchJWTSVID",
                   rpc::h2::SingleRequest([this](std::shared_ptr<Call> call, std::string bytes) {
                     Unary<JWTSVIDRequest, JWTSVIDResponse>(
                         std::move(call), std::move(bytes),
                         [this](const std::vector<spiffe::Selector>& selectors,
                                const JWTSVIDRequest& req, bool may_block, JWTSVIDResponse* resp) {
                           return JwtSvids(selectors, req, may_block, resp);
                         });
                   }));
  server->Register("/SpiffeWorkloadAPI/ValidateJWTSVID",
                   rpc::h2::SingleRequest([this](std::shared_ptr<Call> call, std::string bytes) {
                     Unary<ValidateJWTSVIDRequest, ValidateJWTSVIDResponse>(
                         std::move(call), std::move(bytes),
                         [this](const std::vector<spiffe::Selector>& selectors,
                                const ValidateJWTSVIDRequest& req, bool may_block,
                                ValidateJWTSVIDResponse* resp) {
                           return Validate(selectors, req, may_block, resp);
                         });
                   }));
}

std::optional<absl::Status> WorkloadApiService::JwtSvids(
    const std::vector<spiffe::Selector>& selectors, const JWTSVIDRequest& req, bool may_block,
    JWTSVIDResponse* resp) {
  absl::StatusOr<std::vector<std::string>> audience = spiffe::CheckAudiences(req.audience());
  if (!audience.ok()) return audience.status();
  std::optional<absl::StatusOr<WorkloadView>> view = View(selectors, may_block);
  if (!view.has_value()) return std::nullopt;
  if (!view->ok()) return view->status();
  std::vector<std::string> done;
  for (const auto& shared : (*view)->entries) {
    const ::signet::agent::v1::Entry& entry = *shared;
    if (!req.spiffe_id().empty() && entry.spiffe_id() != req.spiffe_id()) continue;
    if (std::find(done.begin(), done.end(), entry.spiffe_id()) != done.end()) continue;
    done.push_back(entry.spiffe_id());
    std::optional<std::string> token = deps_.cache->GetJwt(entry.spiffe_id(), *audience);
    if (!token.has_value()) {
      if (!may_block) {
        resp->Clear();
        return std::nullopt;  // the server signs it, on a worker
      }
      absl::StatusOr<MintedJwt> minted = deps_.mint_jwt(entry, *audience);
      if (!minted.ok()) {
        return absl::UnavailableError(
            absl::StrCat("cannot get a JWT-SVID from the server: ", minted.status().message()));
      }
      deps_.cache->PutJwt(entry.spiffe_id(), *audience, minted->token, minted->issued_at,
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

std::optional<absl::Status> WorkloadApiService::Validate(
    const std::vector<spiffe::Selector>& selectors, const ValidateJWTSVIDRequest& req,
    bool may_block, ValidateJWTSVIDResponse* resp) {
  if (req.audience().empty() || req.svid().empty()) {
    return absl::InvalidArgumentError("audience and svid are required");
  }
  std::optional<absl::StatusOr<WorkloadView>> view = View(selectors, may_block);
  if (!view.has_value()) return std::nullopt;
  if (!view->ok()) return view->status();
  spiffe::BundleSet bundles;
  bundles.Put(deps_.trust_domain, *(*view)->bundle);
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
