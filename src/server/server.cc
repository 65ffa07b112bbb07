#include "src/server/server.h"

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/rpc/deny_service.h"
#include "src/rpc/uds_listener.h"
#include "src/server/agentapi/agent_services.h"
#include "src/server/agentapi/node_service.h"
#include "src/server/api/agent_service.h"
#include "src/server/api/api_context.h"
#include "src/server/api/audit_service.h"
#include "src/server/api/entry_service.h"
#include "src/server/api/svid_service.h"
#include "src/server/ca/ca_manager.h"
#include "src/server/ca/disk_key_manager.h"
#include "src/server/ca/key_manager.h"
#include "src/server/datastore/datastore.h"
#include "src/server/entryindex/entry_index.h"
#include "src/server/server_svid.h"

namespace signet::server {

// Every admin service, so that they live and die together.
class AdminServices {
 public:
  explicit AdminServices(const ApiContext* api)
      : entries(api),
        agents(api),
        bundles(api),
        svids(api),
        authorities(api),
        audit(api),
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
// How often the entry index reads the change log: every entry write, this server's or another's
// on the same database, reaches the index within this.
constexpr absl::Duration kIndexFollowInterval = absl::Milliseconds(100);
// The admin API's largest request (a batch of entries).
constexpr int kMaxAdminMessageBytes = 64 << 20;
// How often gRPC re-reads the server SVID and bundle files: a renewed SVID or a new CA reaches
// new handshakes within a tick plus this.
constexpr unsigned int kSvidFileRefreshSeconds = 1;
// Every method of the admin services.
constexpr char kAdminMethodPrefix[] = "/signet.admin.v1.";
// Every method of the agent API, and the one an agent calls before it has an SVID.
constexpr char kAgentMethodPrefix[] = "/signet.agent.v1.";
constexpr char kAttestMethod[] = "/signet.agent.v1.Node/Attest";

// True for an IPv4 or IPv6 address literal (which cannot be a DNS SAN).
bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Creates `path` with `mode`, and any missing parents with 0755 (like mkdir -p).
absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  if (errno == ENOENT) {
    size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) {
      absl::Status parent = MakeDir(path.substr(0, slash), 0755);
      if (!parent.ok()) return parent;
      if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
    }
  }
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
  const absl::Time load_start = clock_.Now();
  SIGNET_ASSIGN_OR_RETURN(index_, EntryIndex::Load(*store_, *store_));
  LogInfo("entry index loaded", {{"entries", static_cast<int64_t>(index_->size())},
                                 {"revision", index_->revision()},
                                 {"seconds", absl::ToDoubleSeconds(clock_.Now() - load_start)}});
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
  // The server SVID names the listener's host when it is a DNS name (an address literal or a
  // wildcard cannot be a DNS SAN); kServerSvidDnsName is always there.
  std::vector<std::string> dns_names;
  if (!config_.bind_host.empty() && !IsIpLiteral(config_.bind_host)) {
    dns_names.push_back(config_.bind_host);
  }
  SIGNET_ASSIGN_OR_RETURN(svid_, ServerSvid::Create({.ca = *ca_,
                                                     .clock = clock_,
                                                     .dir = config_.data_dir + "/server-svid",
                                                     .dns_names = std::move(dns_names)}));

  peers_ = std::make_unique<rpc::PeerRegistry>();
  api_ = std::make_unique<ApiContext>(
      ApiSettings{.trust_domain = config_.trust_domain,
                  .default_x509_svid_ttl = config_.default_x509_svid_ttl,
                  .default_jwt_svid_ttl = config_.default_jwt_svid_ttl,
                  .started_at = clock_.Now(),
                  .admin_ids = config_.admin_ids},
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
                               .router =
                                   [this](const rpc::PeerCred& cred) {
                                     return IsAdminUid(cred.uid) ? admin_server_.get()
                                                                 : deny_server_.get();
                                   },
                               .registry = peers_.get()}));
  SIGNET_RETURN_IF_ERROR(StartTcpListener());
  ticker_ = std::thread([this] { TickLoop(); });
  follower_ = std::thread([this] { FollowLoop(); });
  ticker_started_ = true;
  LogInfo("server ready", {{"trust_domain", config_.trust_domain.name()},
                           {"admin_socket", config_.admin_socket},
                           {"bind_address", config_.bind_address},
                           {"tcp_port", tcp_port_},
                           {"datastore", DatastoreDriverName(config_.datastore.driver)}});
  return absl::OkStatus();
}

absl::Status SignetServer::StartTcpListener() {
  // Its own service objects: gRPC services are not meant to be registered with two servers.
  tcp_services_ = std::make_unique<AdminServices>(api_.get());
  SIGNET_ASSIGN_OR_RETURN(
      std::vector<std::unique_ptr<NodeAttestor>> attestors,
      CreateNodeAttestors(
          config_.node_attestors,
          {.trust_domain = config_.trust_domain, .join_tokens = *store_, .clock = clock_}));
  limiter_ = std::make_unique<AgentLimiter>(config_.agent_limits, clock_);
  node_service_ = std::make_unique<NodeService>(api_.get(), std::move(attestors),
                                                config_.agent_svid_ttl, limiter_.get());
  const AgentApiDeps agent_deps{
      .api = api_.get(), .index = index_.get(), .stopping = &stopping_, .limiter = limiter_.get()};
  sync_service_ = std::make_unique<EntrySyncService>(agent_deps);
  agent_svid_service_ = std::make_unique<AgentSvidService>(agent_deps);
  const ApiContext* api = api_.get();
  tcp_auth_ = std::make_shared<SvidAuthProcessor>(
      api,
      std::vector<SvidRule>{
          {.method_prefix = kAttestMethod, .anonymous = true},
          {.method_prefix = kAgentMethodPrefix,
           .policy = [api](const spiffe::SpiffeId& caller) { return AgentPolicy(*api, caller); }},
          {.method_prefix = kAdminMethodPrefix, .policy = [api](const spiffe::SpiffeId& caller) {
             return api->AuthorizeAdmin(caller);
           }}});
  std::shared_ptr<grpc::ServerCredentials> creds =
      MtlsServerCredentials(*svid_, kSvidFileRefreshSeconds);
  creds->SetAuthMetadataProcessor(tcp_auth_);
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(kMaxAdminMessageBytes);
  // A second server on the same port must fail loudly, not share the port's connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config_.bind_address, creds, &tcp_port_);
  tcp_services_->RegisterAll(builder);
  builder.RegisterService(node_service_.get());
  builder.RegisterService(sync_service_.get());
  builder.RegisterService(agent_svid_service_.get());
  tcp_server_ = builder.BuildAndStart();
  if (tcp_server_ == nullptr || tcp_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("grpc: cannot listen on ", config_.bind_address, " (bind_address)"));
  }
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
    status = svid_->Tick();
    if (!status.ok()) LogError("server svid renewal failed", {{"error", status}});
    auto pruned = store_->PruneJoinTokens(clock_.Now());
    if (!pruned.ok()) LogWarn("join token pruning failed", {{"error", pruned.status()}});
  }
}

void SignetServer::FollowLoop() {
  bool failing = false;
  while (!stop_ticking_.WaitForNotificationWithTimeout(kIndexFollowInterval)) {
    absl::Status status = index_->CatchUp().status();
    // Logged when it starts failing and when it recovers, not every 100 ms in between.
    if (!status.ok() && !failing) {
      LogError("entry index cannot read the change log", {{"error", status}});
    } else if (status.ok() && failing) {
      LogInfo("entry index follows the change log again", {{"revision", index_->revision()}});
    }
    failing = !status.ok();
  }
}

void SignetServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  stopping_ = true;
  if (admin_listener_ != nullptr) admin_listener_->Stop();
  auto deadline = std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace);
  if (admin_server_ != nullptr) admin_server_->Shutdown(deadline);
  if (tcp_server_ != nullptr) tcp_server_->Shutdown(deadline);
  if (deny_server_ != nullptr) deny_server_->Shutdown(deadline);
  if (ticker_.joinable() || follower_.joinable()) {
    stop_ticking_.Notify();
    if (ticker_.joinable()) ticker_.join();
    if (follower_.joinable()) follower_.join();
  }
  if (store_ != nullptr) store_->Close();
  if (ticker_started_) LogInfo("server stopped", {{"trust_domain", config_.trust_domain.name()}});
}

SignetServer::~SignetServer() { Shutdown(absl::ZeroDuration()); }

}  // namespace signet::server
