#include "src/server/api/audit_service.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "0.1.0"
#endif

namespace signet::server {

namespace pb = ::signet::admin::v1;

grpc::Status AuditService::ListAuditEvents(grpc::ServerContext* ctx,
                                           const pb::ListAuditEventsRequest* req,
                                           pb::ListAuditEventsResponse* resp) {
  if (req->limit() < 0 || req->limit() > kMaxPageSize) {
    return ToGrpc(
        absl::InvalidArgumentError(absl::StrCat("limit: must be between 0 and ", kMaxPageSize)));
  }
  if (req->since() < 0 || req->after_id() < 0) {
    return ToGrpc(absl::InvalidArgumentError("since/after_id: must not be negative"));
  }
  AuditFilter filter{
      .since = req->since() == 0 ? absl::InfinitePast() : absl::FromUnixSeconds(req->since()),
      .after_id = req->after_id(),
      .limit = req->limit() == 0 ? 100 : req->limit()};
  if (!req->spiffe_id().empty()) {
    auto id = spiffe::SpiffeId::Parse(req->spiffe_id());
    if (!id.ok()) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat("spiffe_id: ", id.status().message())));
    }
    filter.spiffe_id = id->String();
  }
  auto events = api_->store().ListAudit(filter);
  if (!events.ok()) return ToGrpc(events.status());
  for (const AuditEvent& e : *events) {
    pb::AuditEvent* out = resp->add_events();
    out->set_id(e.id);
    out->set_time(absl::ToUnixSeconds(e.time));
    out->set_caller(e.caller);
    out->set_action(e.action);
    out->set_target(e.target);
    out->set_result(e.result);
    out->set_detail(e.detail);
  }
  return grpc::Status::OK;
}

grpc::Status HealthService::Health(grpc::ServerContext* ctx, const pb::HealthRequest* req,
                                   pb::HealthResponse* resp) {
  auto revision = api_->store().CurrentRevision();
  if (!revision.ok()) return ToGrpc(revision.status());
  resp->set_trust_domain(api_->settings().trust_domain.name());
  resp->set_version(SIGNET_VERSION);
  resp->set_revision(*revision);
  resp->set_started_at(absl::ToUnixSeconds(api_->settings().started_at));
  return grpc::Status::OK;
}

}  // namespace signet::server
