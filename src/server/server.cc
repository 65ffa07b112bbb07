#include "src/server/server.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/rpc/deny_service.h"
#include "src/rpc/uds_listener.h"
#include "src/server/api/agent_service.h"
#include "src/server/api/api_context.h"
#include "src/server/api/audit_service.h"
#include "src/server/api/entry_service.h"
#include "src/server/api/svid_service.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/ca/disk_key_manager.h"
#include "src/server/ca/key_manager.h"
#include "src/server/datastore/datastore.h"

namespace signet::server {

// Every admin service, so that they live and die together.
class AdminServices {
 public:
  explicit AdminServices(const ApiContext* api)
      : entries(api), agents(api), bundles(api), svids(api), authorities(api), audit(api),
        health(api) {}
  void RegisterAll(grpc::ServerBuilder& builder) {
    builder.RegisterService(&entries);
    builder.RegisterService(&agents);
    builder.RegisterService(&bundles);
    builder.RegisterService(&svids);
    builder.RegisterService(&authorities);
    builder.RegisterService(&audit);
    builder.RegisterService(&health);
  }
  EntryService entries;
  AgentService agents;
  BundleService bundles;
  SvidService svids;
  AuthorityService authorities;
  AuditService audit;
  HealthService health;
};

namespace {

constexpr absl::Duration kTickInterval = absl::Seconds(1);
// The admin API's largest request (a batch of entries).
constexpr int kMaxAdminMessageBytes = 64 << 20;

absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("cannot create directory ", path, ": ", std::strerror(errno)));
}

}  // namespace

SignetServer::SignetServer(const ServerConfig& config, Clock& clock)
    : config_(config), clock_(clock) {}

absl::StatusOr<std::unique_ptr<SignetServer>> SignetServer::Start(const ServerConfig& config,
                                                                   Clock& clock) {
  std::unique_ptr<SignetServer> server(new SignetServer(config, clock));
  absl::Status status = server->Init();
  if (!status.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return status;
  }
  return server;
}

absl::Status SignetServer::Init() {
  SIGNET_RETURN_IF_ERROR(MakeDir(config_.data_dir, 0700));
  SIGNET_ASSIGN_OR_RETURN(
      store_, OpenDataStore({.driver = std::string(DatastoreDriverName(config_.datastore.driver)),
                             .connection_string = config_.datastore.connection_string}));
  if (config_.key_manager == KeyManagerKind::kDisk) {
    SIGNET_ASSIGN_OR_RETURN(keys_, DiskKeyManager::Create(config_.data_dir + "/keys"));
  } else {
    keys_ = std::make_unique<MemoryKeyManager>();
  }
  CaManagerOptions ca{.trust_domain = config_.trust_domain,
                      .clock = clock_,
                      .key_manager = *keys_,
                      .journal = *store_,
                      .bundle_store = *store_,
                      .ca_key_type = config_.ca.key_type,
                      .ca_ttl = config_.ca.ttl,
                      .ca_subject = {.country = config_.ca.subject.country,
                                     .organization = config_.ca.subject.organization,
                                     .common_name = config_.ca.subject.common_name},
                      .default_x509_svid_ttl = config_.default_x509_svid_ttl,
                      .default_jwt_svid_ttl = config_.default_jwt_svid_ttl};
  SIGNET_ASSIGN_OR_RETURN(ca_, CaManager::Create(ca));

  peers_ = std::make_unique<rpc::PeerRegistry>();
  api_ = std::make_unique<ApiContext>(
      ApiSettings{.trust_domain = config_.trust_domain,
                  .default_x509_svid_ttl = config_.default_x509_svid_ttl,
                  .default_jwt_svid_ttl = config_.default_jwt_svid_ttl,
                  .started_at = clock_.Now()},
      store_.get(), ca_.get(), &clock_, peers_.get());
  services_ = std::make_unique<AdminServices>(api_.get());
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxAdminMessageBytes);
  services_->RegisterAll(builder);
  admin_server_ = builder.BuildAndStart();
  if (admin_server_ == nullptr) return absl::InternalError("grpc: admin server did not start");
  deny_ = std::make_unique<rpc::DenyService>(grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      "the caller's uid is not allowed on the admin socket (root and admin_uids are)"));
  SIGNET_ASSIGN_OR_RETURN(deny_server_, rpc::StartPortlessServer(deny_.get()));
  SIGNET_ASSIGN_OR_RETURN(
      admin_listener_,
      rpc::UdsListener::Start({.path = config_.admin_socket,
                               // Anyone may connect; the uid decides (callers not allowed get
                               // PermissionDenied from the deny server).
                               .mode = 0666,
                               .router = [this](const rpc::PeerCred& cred) {
                                 return IsAdminUid(cred.uid) ? admin_server_.get()
                                                             : deny_server_.get();
                               },
                               .registry = peers_.get()}));
  ticker_ = std::thread([this] { TickLoop(); });
  LogInfo("server ready", {{"trust_domain", config_.trust_domain.name()},
                           {"admin_socket", config_.admin_socket},
                           {"datastore", DatastoreDriverName(config_.datastore.driver)}});
  return absl::OkStatus();
}

bool SignetServer::IsAdminUid(uint32_t uid) const {
  if (uid == 0) return true;
  return std::find(config_.admin_uids.begin(), config_.admin_uids.end(), uid) !=
         config_.admin_uids.end();
}

void SignetServer::TickLoop() {
  while (!stop_ticking_.WaitForNotificationWithTimeout(kTickInterval)) {
    absl::Status status = ca_->Tick();
    if (!status.ok()) LogError("ca rotation failed", {{"error", status}});
    auto pruned = store_->PruneJoinTokens(clock_.Now());
    if (!pruned.ok()) LogWarn("join token pruning failed", {{"error", pruned.status()}});
  }
}

void SignetServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (admin_listener_ != nullptr) admin_listener_->Stop();
  auto deadline = std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace);
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  if (deny_server_ != nullptr) deny_server_->Shutdown(deadline);
  if (ticker_.joinable()) {
    stop_ticking_.Notify();
    ticker_.join();
  }
  if (store_ != nullptr) store_->Close();
  LogInfo("server stopped", {{"trust_domain", config_.trust_domain.name()}});
}

SignetServer::~SignetServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace signet::server
