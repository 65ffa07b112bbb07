#include "src/server/api/api_context.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace signet::server {

std::string ApiContext::CallerName(const grpc::ServerContext& ctx) const {
  std::optional<rpc::PeerCred> cred = peers_ == nullptr ? std::nullopt : peers_->Lookup(ctx.peer());
  if (!cred) return "unknown";
  return absl::StrCat("uid:", cred->uid);
}

void ApiContext::Audit(const grpc::ServerContext& ctx, absl::string_view action,
                               absl::string_view target, const absl::Status& result,
                               absl::string_view detail) const {
  AuditEvent event{.time = Now(),
                   .caller = CallerName(ctx),
                   .action = std::string(action),
                   .target = std::string(target.substr(0, 2048)),
                   .result = ResultName(result),
                   .detail = std::string(detail.empty() ? result.message() : detail)};
  if (event.detail.size() > 1024) event.detail.resize(1024);
  absl::Status status = store_->AppendAudit(event);
  if (!status.ok()) {
    std::fprintf(stderr, "signet: audit log write failed for %s: %s\n", event.action.c_str(),
                 std::string(status.message()).c_str());
  }
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string ResultName(const absl::Status& status) {
  if (status.ok()) return "ok";
  return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

}  // namespace signet::server
