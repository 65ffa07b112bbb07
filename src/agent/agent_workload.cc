// SignetAgent's Workload API half: the socket, the SPIFFE Workload API server on it, and the
// loop that keeps an X509-SVID signed for every cached entry.
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"
#include "src/agent/agent.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/crypto/csr.h"
#include "src/rpc/h2/reflection.h"

namespace signet::agent {
namespace {

namespace pb = ::signet::agent::v1;

constexpr size_t kMaxBatch = 1000;  // the server's limit per BatchNewX509Svid call
constexpr absl::Duration kRefusedRetry = absl::Seconds(30);
constexpr char kWorkloadCacheFile[] = "workload_cache.pb";

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// Creates every missing directory of `dir` with mode 0755.
absl::Status MakeDirs(const std::string& dir) {
  for (size_t at = 1; at != std::string::npos; at = dir.find('/', at + 1)) {
    const std::string prefix = dir.substr(0, dir.find('/', at));
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create ", prefix));
    }
    if (dir.find('/', at) == std::string::npos) break;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SignetAgent::StartWorkloadApi() {
  if (config_.unix_attestor) {
    attestors_.push_back(CreateUnixAttestor(config_.unix_attestor_config));
  }
  if (config_.systemd_attestor) attestors_.push_back(CreateSystemdAttestor());
  if (config_.docker_attestor) {
    attestors_.push_back(
        CreateDockerAttestor(config_.docker_attestor_config, config_.allowed_image_registries));
  }
  if (config_.k8s_attestor) {
    attestors_.push_back(
        CreateK8sAttestor(config_.k8s_attestor_config, config_.allowed_image_registries));
  }
  workload_service_ = std::make_unique<WorkloadApiService>(
      WorkloadApiDeps{.trust_domain = config_.trust_domain,
                      .cache = &cache_,
                      .attestors = &attestors_,
                      .mint_jwt =
                          [this](const pb::Entry& entry, const std::vector<std::string>& audience) {
                            return MintJwt(entry, audience);
                          },
                      .clock = &clock_,
                      .stopping = &stopping_});
  sds_service_ =
      std::make_unique<SdsService>(workload_service_->deps(), workload_service_->callers());
  // Our own gRPC server (src/rpc/h2): requests are capped at 64 KiB; a call whose answer is
  // cached is answered on its event loop.
  // Two descriptors per connection (the socket and the caller's pidfd), with room left for the
  // agent's own files and server channel.
  const size_t files = RaiseOpenFileLimit();
  const size_t max_connections = files > 512 ? std::min<size_t>(4096, (files - 256) / 2) : 128;
  absl::StatusOr<std::unique_ptr<rpc::h2::Server>> server = rpc::h2::Server::Create(
      {.loops = 2,
       .max_request_bytes = 64 << 10,
       .max_connections = max_connections,
       .max_connections_per_uid = static_cast<size_t>(config_.max_connections_per_uid)});
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("agent: Workload API server: ", server.status().message()));
  }
  workload_server_ = *std::move(server);
  workload_service_->Register(workload_server_.get());
  sds_service_->Register(workload_server_.get());
  rpc::h2::RegisterReflection(workload_server_.get());
  const std::string dir = config_.socket_path.substr(0, config_.socket_path.rfind('/'));
  if (!dir.empty()) SIGNET_RETURN_IF_ERROR(MakeDirs(dir));
  absl::StatusOr<std::unique_ptr<rpc::UdsListener>> listener = rpc::UdsListener::Start(
      {.path = config_.socket_path,
       .mode = 0777,  // any local process may ask; attestation decides what it gets
       .adopt = [this](int fd, const rpc::PeerCred& peer) { workload_server_->Adopt(fd, peer); },
       .open_pidfd = true});
  if (!listener.ok()) {
    return absl::Status(listener.status().code(),
                        absl::StrCat("agent: socket_path: ", listener.status().message()));
  }
  listener_ = *std::move(listener);
  LogInfo("agent: Workload API listening", {{"socket_path", config_.socket_path}});
  return absl::OkStatus();
}

void SignetAgent::StopWorkloadApi() {
  stopping_ = true;
  if (listener_ != nullptr) listener_->Stop();
  if (workload_service_ != nullptr) workload_service_->Stop();
  if (workload_server_ != nullptr) workload_server_->Shutdown(absl::Seconds(5));
}

void SignetAgent::SvidLoop() {
  std::map<std::string, absl::Time> retry;  // entries the server refused, until when
  absl::Duration backoff = absl::Milliseconds(200);
  while (!stop_.HasBeenNotified()) {
    const uint64_t seen = cache_.version();
    const absl::Time now = clock_.Now();
    absl::Time next;
    std::vector<pb::Entry> due = cache_.Due(now, SIZE_MAX, &next);
    std::vector<pb::Entry> batch;
    for (pb::Entry& entry : due) {
      auto it = retry.find(entry.id());
      if (it != retry.end() && it->second > now) {
        next = std::min(next, it->second);
      } else if (batch.size() < kMaxBatch) {
        batch.push_back(std::move(entry));
      }
    }
    if (batch.empty()) {
      const absl::Duration wait = std::clamp(next - now, absl::Milliseconds(10), absl::Seconds(1));
      cache_.WaitForChange(seen, absl::Now() + wait);
      continue;
    }
    absl::Status status = SignBatch(batch, &retry);
    if (status.ok()) {
      backoff = absl::Milliseconds(200);
      SaveWorkloadCache();
      malloc_trim(0);  // a large batch leaves its key generation and response memory behind
      absl::MutexLock lock(&mu_);
      WriteStatus();
      continue;
    }
    LogWarn("agent: cannot sign workload SVIDs; retrying",
            {{"entries", static_cast<int64_t>(batch.size())}, {"error", status}});
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
}

absl::Status SignetAgent::SignBatch(const std::vector<pb::Entry>& due,
                                    std::map<std::string, absl::Time>* retry) {
  pb::BatchNewX509SvidRequest req;
  std::vector<crypto::PrivateKey> keys;
  keys.reserve(due.size());
  for (const pb::Entry& entry : due) {
    SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                            crypto::PrivateKey::Generate(config_.workload_key_type));
    pb::X509SvidRequest* item = req.add_requests();
    item->set_entry_id(entry.id());
    SIGNET_ASSIGN_OR_RETURN(*item->mutable_csr(), crypto::BuildCsrDer(key));
    keys.push_back(std::move(key));
  }
  auto stub = pb::Svids::NewStub(Channel(/*with_svid=*/true));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  pb::BatchNewX509SvidResponse resp;
  SIGNET_RETURN_IF_ERROR(FromGrpc(stub->BatchNewX509Svid(&ctx, req, &resp)));
  const absl::Time now = clock_.Now();
  if (resp.results_size() != req.requests_size()) {
    return absl::InternalError("agent: the server answered a different number of SVIDs");
  }
  for (int i = 0; i < resp.results_size(); ++i) {
    const pb::X509SvidResult& result = resp.results(i);
    const pb::Entry& entry = due[static_cast<size_t>(i)];
    absl::StatusOr<crypto::Certificate> leaf =
        result.cert_chain().empty() ? absl::InvalidArgumentError("empty chain")
                                    : crypto::Certificate::FromDer(result.cert_chain(0));
    if (result.status().code() != 0 || !leaf.ok()) {
      LogWarn("agent: the server refused a workload SVID",
              {{"entry_id", entry.id()},
               {"spiffe_id", entry.spiffe_id()},
               {"error", result.status().code() != 0 ? result.status().message()
                                                     : std::string(leaf.status().message())}});
      (*retry)[entry.id()] = clock_.Now() + kRefusedRetry;
      continue;
    }
    std::vector<std::string> chain(result.cert_chain().begin(), result.cert_chain().end());
    absl::StatusOr<std::string> key_der = keys[static_cast<size_t>(i)].ToPkcs8Der();
    if (!key_der.ok()) return key_der.status();
    retry->erase(entry.id());
    // The lifetime counts from now: servers backdate not_before for clock skew, which would
    // put a short-lived SVID's half-life in the past.
    cache_.Put(entry, std::move(chain), *std::move(key_der), std::max(leaf->NotBefore(), now),
               leaf->NotAfter());
  }
  return absl::OkStatus();
}

void SignetAgent::SaveWorkloadCache() {
  pb::WorkloadCache state;
  {
    absl::MutexLock lock(&mu_);
    state.set_revision(revision_);
    state.set_bundle_json(bundle_json_);
  }
  cache_.Export(&state);
  absl::Status written =
      WriteFileAtomic(config_.data_dir + "/" + kWorkloadCacheFile, state.SerializeAsString(), 0600);
  if (!written.ok()) LogWarn("agent: cannot write the workload cache", {{"error", written}});
}

namespace {

// The cached SVID if it holds up: its chain parses, its leaf names the entry's SPIFFE ID and
// is unexpired at `now`, and the key is the leaf's.
bool Usable(const pb::CachedX509Svid& svid, const pb::Entry& entry, absl::Time now) {
  absl::StatusOr<std::vector<crypto::Certificate>> chain = crypto::ParseDerChain(svid.chain_der());
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::FromPkcs8Der(svid.key_der());
  if (!chain.ok() || !key.ok()) return false;
  const crypto::Certificate& leaf = chain->front();
  std::vector<std::string> uris = leaf.UriSans();
  return uris.size() == 1 && uris[0] == entry.spiffe_id() && leaf.NotAfter() > now &&
         leaf.public_key().Equals(key->public_key()) && svid.entry_revision() == entry.revision();
}

}  // namespace

void SignetAgent::LoadWorkloadCache() {
  absl::StatusOr<std::string> text =
      ReadFile(config_.data_dir + "/" + kWorkloadCacheFile, 256 << 20);
  if (!text.ok()) return;  // none yet
  pb::WorkloadCache state;
  absl::StatusOr<spiffe::Bundle> bundle = absl::InvalidArgumentError("not read");
  const bool parsed = state.ParseFromString(*text) && state.revision() >= 0;
  if (parsed) bundle = spiffe::ParseSpiffeBundle(state.bundle_json());
  std::map<std::string, pb::Entry> entries;
  for (const pb::Entry& e : state.entries()) entries[e.id()] = e;
  const absl::Time now = clock_.Now();
  bool ok = parsed && bundle.ok() && entries.size() == static_cast<size_t>(state.entries_size());
  for (const pb::CachedX509Svid& svid : state.svids()) {
    auto e = entries.find(svid.entry_id());
    ok = ok && e != entries.end() && Usable(svid, e->second, now);
  }
  if (!ok) {
    LogWarn("agent: ignoring a workload cache that does not hold up",
            {{"path", config_.data_dir + "/" + kWorkloadCacheFile}});
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    entries_ = entries;
    revision_ = state.revision();
    bundle_json_ = state.bundle_json();
  }
  cache_.SetEntries(entries);
  cache_.SetBundle(std::make_shared<const spiffe::Bundle>(*std::move(bundle)));
  for (const pb::CachedX509Svid& svid : state.svids()) {
    std::vector<std::string> chain;
    absl::StatusOr<std::vector<crypto::Certificate>> certs =
        crypto::ParseDerChain(svid.chain_der());
    for (const crypto::Certificate& c : *certs) chain.push_back(c.ToDer());  // Usable() parsed it
    cache_.Put(entries.at(svid.entry_id()), std::move(chain), svid.key_der(),
               absl::FromUnixSeconds(svid.not_before()), absl::FromUnixSeconds(svid.not_after()));
  }
  LogInfo("agent: serving from the workload cache until the server answers",
          {{"entries", static_cast<int64_t>(entries.size())},
           {"svids", static_cast<int64_t>(state.svids_size())},
           {"revision", state.revision()}});
}

absl::StatusOr<MintedJwt> SignetAgent::MintJwt(const pb::Entry& entry,
                                               const std::vector<std::string>& audience) {
  pb::NewJwtSvidRequest req;
  req.set_entry_id(entry.id());
  for (const std::string& a : audience) req.add_audience(a);
  auto stub = pb::Svids::NewStub(Channel(/*with_svid=*/true));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  pb::NewJwtSvidResponse resp;
  SIGNET_RETURN_IF_ERROR(FromGrpc(stub->NewJwtSvid(&ctx, req, &resp)));
  return MintedJwt{.token = resp.token(),
                   .issued_at = clock_.Now(),
                   .expires_at = absl::FromUnixSeconds(resp.expires_at())};
}

}  // namespace signet::agent
