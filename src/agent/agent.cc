#include "src/agent/agent.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/channel_arguments.h>
#include <sys/stat.h>

#include <cerrno>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/common/file_util.h"
#include "src/common/https_get.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/crypto/csr.h"
#include "src/crypto/signature.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/x509_svid.h"

namespace signet::agent {
namespace {

namespace pb = ::signet::agent::v1;

constexpr char kSvidFile[] = "agent_svid.pem";
constexpr char kKeyFile[] = "agent_key.pem";
constexpr char kBundleFile[] = "bundle.pem";
constexpr char kStatusFile[] = "status.json";
// The name the server SVID carries for clients that check host names (ServerSvid).
constexpr char kServerName[] = "signet-server";
constexpr absl::Duration kMinBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);
// The most entries the server accepts in SyncEntriesRequest.known (kMaxKnownEntries there).
constexpr size_t kMaxKnownEntries = 50000;

std::string Path(const AgentConfig& c, const char* name) { return c.data_dir + "/" + name; }

absl::Status Status(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// Up to ±20 % of `d`, so that agents started together do not act together.
absl::Duration Jitter(absl::Duration d) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> f(0.8, 1.2);
  return d * f(rng);
}

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  return ctx;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignetAgent>> SignetAgent::Start(const AgentConfig& config,
                                                                Clock& clock,
                                                                absl::Duration attest_timeout) {
  std::unique_ptr<SignetAgent> agent(new SignetAgent(config, clock));
  absl::Status status = agent->Init(attest_timeout);
  if (!status.ok()) {
    agent->Shutdown();
    return status;
  }
  return agent;
}

absl::Status SignetAgent::Init(absl::Duration attest_timeout) {
  if (mkdir(config_.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent: cannot create data_dir ", config_.data_dir));
  }
  {
    absl::MutexLock lock(&mu_);
    WriteStatus();  // nothing held yet: a status.json of an earlier run must not linger
  }
  // The bootstrap trust is needed only to attest: an agent that resumes has its own bundle.
  const bool resumed = Resume();
  if (resumed) LoadWorkloadCache();
  if (!resumed) {
    if (config_.insecure_bootstrap) {
      LogWarn("agent: insecure_bootstrap: the server is not verified until the agent has a bundle",
              {});
    }
    const absl::Time deadline = absl::Now() + attest_timeout;
    absl::Duration backoff = kMinBackoff;
    while (true) {
      absl::Status attested = LoadBootstrapRoots();
      if (attested.ok()) attested = Attest();
      if (attested.ok()) break;
      // Only an unreachable server is worth waiting for; a refusal is final.
      if (!absl::IsUnavailable(attested) || absl::Now() + backoff > deadline) {
        return attested;
      }
      LogWarn("agent: server unreachable, retrying", {{"error", attested}});
      if (!Sleep(Jitter(backoff))) return absl::CancelledError("agent: stopped");
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  sync_thread_ = std::thread([this] { SyncLoop(); });
  renew_thread_ = std::thread([this] { RenewLoop(); });
  svid_thread_ = std::thread([this] { SvidLoop(); });
  return StartWorkloadApi();
}

absl::Status SignetAgent::LoadBootstrapRoots() {
  if (config_.insecure_bootstrap) return absl::OkStatus();
  if (!bootstrap_roots_.empty()) return absl::OkStatus();
  const bool from_url = !config_.trust_bundle_url.empty();
  const char* key = from_url ? "trust_bundle_url" : "trust_bundle_path";
  // An unreachable web server is Unavailable, retried like an unreachable Signet server.
  SIGNET_ASSIGN_OR_RETURN(
      std::string text,
      from_url ? HttpsGet(config_.trust_bundle_url,
                          {.ca_path = config_.trust_bundle_url_ca_path, .max_bytes = 4 << 20})
               : ReadFile(config_.trust_bundle_path, 4 << 20));
  absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParseBundleAuto(text);
  if (!bundle.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", bundle.status().message()));
  }
  SIGNET_ASSIGN_OR_RETURN(std::string roots, spiffe::X509AuthoritiesToPem(*bundle));
  if (roots.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": the bundle has no X.509 authorities"));
  }
  bootstrap_roots_ = std::move(roots);
  return absl::OkStatus();
}

bool SignetAgent::Resume() {
  absl::StatusOr<std::string> chain_pem = ReadFile(Path(config_, kSvidFile));
  absl::StatusOr<std::string> key_pem = ReadFile(Path(config_, kKeyFile));
  absl::StatusOr<std::string> bundle_pem = ReadFile(Path(config_, kBundleFile));
  if (!chain_pem.ok() || !key_pem.ok() || !bundle_pem.ok()) return false;
  absl::StatusOr<std::vector<crypto::Certificate>> chain = crypto::ParsePemChain(*chain_pem);
  absl::StatusOr<crypto::PrivateKey> key = crypto::PrivateKey::FromPem(*key_pem);
  absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParsePemBundle(*bundle_pem);
  if (!chain.ok() || !key.ok() || !bundle.ok()) {
    LogWarn("agent: stored svid unreadable; attesting again", {});
    return false;
  }
  spiffe::BundleSet set;
  set.Put(config_.trust_domain, *bundle);
  absl::StatusOr<spiffe::SpiffeId> id = spiffe::VerifyX509Svid(*chain, set, clock_.Now());
  absl::StatusOr<spiffe::X509Svid> svid = spiffe::X509Svid::FromParts(*chain, *key);
  if (!id.ok() || !svid.ok()) {
    LogInfo("agent: stored svid no longer valid; attesting again",
            {{"error", id.ok() ? svid.status() : id.status()}});
    return false;
  }
  absl::MutexLock lock(&mu_);
  svid_ = *std::move(chain);
  key_ = *std::move(key);
  bundle_pem_ = *std::move(bundle_pem);
  LogInfo("agent: resumed with the stored svid", {{"agent_id", id->String()}});
  WriteStatus();
  return true;
}

std::shared_ptr<grpc::Channel> SignetAgent::Channel(bool with_svid) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(kServerName);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  absl::MutexLock lock(&mu_);
  const std::string roots = bundle_pem_.empty() ? bootstrap_roots_ : bundle_pem_;
  if (roots.empty()) {  // insecure bootstrap, before the first bundle
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_verify_server_certs(false);
    options.set_check_call_host(false);
    return grpc::CreateCustomChannel(config_.server_address,
                                     grpc::experimental::TlsCredentials(options), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots;
  if (with_svid && key_.has_value()) {
    ssl.pem_private_key = key_->ToPkcs8Pem().value_or("");
    ssl.pem_cert_chain = crypto::ChainToPem(svid_).value_or("");
  }
  return grpc::CreateCustomChannel(config_.server_address, grpc::SslCredentials(ssl), args);
}

absl::Status SignetAgent::Adopt(const pb::AgentSvid& svid, crypto::PrivateKey key,
                                const std::vector<std::string>& bundle_der) {
  std::vector<crypto::Certificate> chain;
  for (const std::string& der : svid.cert_chain()) {
    SIGNET_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromDer(der));
    chain.push_back(std::move(cert));
  }
  if (chain.empty()) return absl::InternalError("agent: the server sent an empty svid");
  SIGNET_ASSIGN_OR_RETURN(std::string chain_pem, crypto::ChainToPem(chain));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, key.ToPkcs8Pem());
  std::string bundle_pem;
  if (!bundle_der.empty()) {
    std::vector<crypto::Certificate> cas;
    for (const std::string& der : bundle_der) {
      SIGNET_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::FromDer(der));
      cas.push_back(std::move(cert));
    }
    SIGNET_ASSIGN_OR_RETURN(bundle_pem, crypto::ChainToPem(cas));
  }
  absl::MutexLock lock(&mu_);
  if (bundle_pem.empty()) bundle_pem = bundle_pem_;
  // The key first and the SVID last: a crash in between leaves a pair that does not match,
  // which Resume() refuses (and the agent attests or renews again).
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(Path(config_, kKeyFile), key_pem, 0600));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(Path(config_, kBundleFile), bundle_pem, 0644));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(Path(config_, kSvidFile), chain_pem, 0644));
  svid_ = std::move(chain);
  key_ = std::move(key);
  bundle_pem_ = std::move(bundle_pem);
  WriteStatus();
  return absl::OkStatus();
}

absl::Status SignetAgent::Attest() {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  pb::AttestRequest req;
  std::optional<crypto::PrivateKey> node_key;  // x509pop: answers the challenge
  if (!config_.x509pop_certificate_path.empty()) {
    SIGNET_ASSIGN_OR_RETURN(std::string chain, ReadFile(config_.x509pop_certificate_path));
    SIGNET_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(config_.x509pop_private_key_path));
    SIGNET_ASSIGN_OR_RETURN(node_key, crypto::PrivateKey::FromPem(key_pem));
    req.mutable_data()->set_type("x509pop");
    req.mutable_data()->set_payload(chain);
  } else if (!config_.jwt_token_path.empty()) {
    // Read at each attestation: whoever writes the file (the kubelet, a CI runner) rotates it.
    absl::StatusOr<std::string> token = ReadFile(config_.jwt_token_path, 16 * 1024);
    if (!token.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("node_attestor.jwt.token_path: ", token.status().message()));
    }
    req.mutable_data()->set_type("jwt");
    req.mutable_data()->set_payload(std::string(absl::StripAsciiWhitespace(*token)));
  } else {
    req.mutable_data()->set_type("join_token");
    req.mutable_data()->set_payload(config_.join_token);
  }
  SIGNET_ASSIGN_OR_RETURN(*req.mutable_csr(), crypto::BuildCsrDer(key));
  auto stub = pb::Node::NewStub(Channel(/*with_svid=*/false));
  auto ctx = Deadline(absl::Seconds(30));
  auto stream = stub->Attest(ctx.get());
  stream->Write(req);
  pb::AttestResponse resp;
  std::optional<pb::AttestResponse> last;
  while (stream->Read(&resp)) {
    if (!resp.challenge().empty() && node_key.has_value()) {
      // The server's nonce, signed with the node certificate's key (x509pop).
      absl::StatusOr<std::string> signature = crypto::Sign(
          *node_key, {.key_algorithm = node_key->info().algorithm, .hash = crypto::Hash::kSha256},
          absl::StrCat("signet x509pop v1\n", resp.challenge()));
      if (!signature.ok()) {
        ctx->TryCancel();
        return signature.status();
      }
      pb::AttestRequest answer;
      answer.set_challenge_response(*std::move(signature));
      stream->Write(answer);
      continue;
    }
    last = resp;
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return Status(status);
  if (!last.has_value() || !last->has_svid()) {
    return absl::InternalError("agent: attestation ended without an svid");
  }
  std::vector<std::string> bundle(last->bundle().begin(), last->bundle().end());
  SIGNET_RETURN_IF_ERROR(Adopt(last->svid(), std::move(key), bundle));
  LogInfo("agent: attested", {{"agent_id", last->svid().spiffe_id()}});
  return absl::OkStatus();
}

absl::Status SignetAgent::Renew() {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  pb::RenewAgentRequest req;
  SIGNET_ASSIGN_OR_RETURN(*req.mutable_csr(), crypto::BuildCsrDer(key));
  pb::RenewAgentResponse resp;
  grpc::Status status = pb::Node::NewStub(Channel(/*with_svid=*/true))
                            ->RenewAgent(Deadline(absl::Seconds(30)).get(), req, &resp);
  if (!status.ok()) return Status(status);
  SIGNET_RETURN_IF_ERROR(Adopt(resp.svid(), std::move(key), {}));
  LogInfo("agent: svid renewed", {{"expires_at", resp.svid().expires_at()}});
  return absl::OkStatus();
}

void SignetAgent::RenewLoop() {
  while (!stop_.HasBeenNotified()) {
    absl::Time not_before, not_after;
    {
      absl::MutexLock lock(&mu_);
      not_before = svid_.front().NotBefore();
      not_after = svid_.front().NotAfter();
    }
    const absl::Time due = not_before + Jitter((not_after - not_before) / 2);
    if (clock_.Now() < due) {
      // Checked at least every second, so that a clock that moves (tests) is noticed.
      if (!Sleep(std::min(due - clock_.Now(), absl::Seconds(1)))) return;
      continue;
    }
    absl::Status renewed = Renew();
    if (!renewed.ok()) {
      LogWarn("agent: renewal failed", {{"error", renewed}});
      SetReachable(false, std::string(renewed.message()));
      if (!Sleep(Jitter(absl::Seconds(5)))) return;
    }
  }
}

void SignetAgent::SyncLoop() {
  absl::Duration backoff = kMinBackoff;
  while (!stop_.HasBeenNotified()) {
    const absl::Time started = absl::Now();
    grpc::Status status = SyncOnce();
    if (stop_.HasBeenNotified()) return;
    // Logged before status.json changes, so that whoever watches the file finds the reason.
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      LogError("agent: the server refuses this agent (banned or evicted)",
               {{"error", Status(status)}});
      // An evicted agent with evidence that works again (x509pop, jwt) attests again.
      if ((!config_.x509pop_certificate_path.empty() || !config_.jwt_token_path.empty()) &&
          absl::StrContains(status.error_message(), "not an attested agent")) {
        absl::Status attested = Attest();
        LogInfo("agent: attesting again after eviction", {{"result", attested}});
        if (attested.ok()) {
          backoff = kMinBackoff;
          continue;
        }
      }
    } else {
      LogWarn("agent: entry sync interrupted; reconnecting", {{"error", Status(status)}});
    }
    SetReachable(false, status.error_message());
    // A stream that lasted resets the backoff; quick failures back off exponentially.
    backoff =
        absl::Now() - started > kMaxBackoff ? kMinBackoff : std::min(backoff * 2, kMaxBackoff);
    if (!Sleep(Jitter(backoff))) return;
  }
}

grpc::Status SignetAgent::SyncOnce() {
  auto stub = pb::Entries::NewStub(Channel(/*with_svid=*/true));
  grpc::ClientContext ctx;
  pb::SyncEntriesRequest req;
  {
    absl::MutexLock lock(&mu_);
    if (stop_.HasBeenNotified()) return grpc::Status::CANCELLED;
    req.set_since_revision(revision_);
    // What it holds, so that the server resumes with a delta instead of a snapshot. Past the
    // server's limit (50,000) the agent asks for a snapshot instead.
    if (revision_ > 0 && entries_.size() <= kMaxKnownEntries) {
      for (const auto& [id, entry] : entries_) {
        pb::KnownEntry* known = req.add_known();
        known->set_id(id);
        known->set_revision(entry.revision());
      }
    }
    stream_ctx_ = &ctx;
  }
  auto stream = stub->SyncEntries(&ctx, req);
  pb::SyncEntriesResponse m;
  while (stream->Read(&m)) {
    Apply(m);
    if (!m.more()) SaveWorkloadCache();
  }
  grpc::Status status = stream->Finish();
  absl::MutexLock lock(&mu_);
  stream_ctx_ = nullptr;
  return status;
}

void SignetAgent::Apply(const pb::SyncEntriesResponse& m) {
  absl::MutexLock lock(&mu_);
  if (m.snapshot()) entries_.clear();
  for (const pb::Entry& e : m.entries()) entries_[e.id()] = e;
  for (const std::string& id : m.deleted_ids()) entries_.erase(id);
  revision_ = m.revision();
  reachable_ = true;
  last_error_.clear();
  if (!m.bundle().empty()) {
    absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParseSpiffeBundle(m.bundle());
    absl::StatusOr<std::string> pem =
        bundle.ok() ? spiffe::X509AuthoritiesToPem(*bundle) : bundle.status();
    if (bundle.ok()) {
      cache_.SetBundle(std::make_shared<const spiffe::Bundle>(*bundle));
      bundle_json_ = m.bundle();
    }
    if (pem.ok() && !pem->empty() && *pem != bundle_pem_) {
      absl::Status written = WriteFileAtomic(Path(config_, kBundleFile), *pem, 0644);
      if (written.ok()) bundle_pem_ = *std::move(pem);
    }
  }
  if (!m.more()) {
    cache_.SetEntries(entries_);
    LogInfo("agent: entries synced", {{"revision", revision_},
                                      {"entries", static_cast<int64_t>(entries_.size())},
                                      {"changed", m.entries_size()},
                                      {"deleted", m.deleted_ids_size()},
                                      {"snapshot", m.snapshot()}});
  }
  WriteStatus();
}

void SignetAgent::SetReachable(bool reachable, const std::string& error) {
  absl::MutexLock lock(&mu_);
  reachable_ = reachable;
  last_error_ = error;
  WriteStatus();
}

void SignetAgent::WriteStatus() {
  nlohmann::json status = {
      {"attested", !svid_.empty()},
      {"agent_id", svid_.empty()                     ? ""
                   : svid_.front().UriSans().empty() ? ""
                                                     : svid_.front().UriSans().front()},
      {"svid_expires_at", svid_.empty() ? 0 : absl::ToUnixSeconds(svid_.front().NotAfter())},
      {"server_reachable", reachable_},
      {"revision", revision_},
      {"entries", entries_.size()},
      {"svids", cache_.svid_count()},
      {"last_error", last_error_}};
  absl::Status written = WriteFileAtomic(Path(config_, kStatusFile), status.dump() + "\n", 0644);
  if (!written.ok()) LogWarn("agent: cannot write status.json", {{"error", written}});
}

bool SignetAgent::Sleep(absl::Duration d) { return !stop_.WaitForNotificationWithTimeout(d); }

std::string SignetAgent::agent_id() const {
  absl::MutexLock lock(&mu_);
  return svid_.empty() || svid_.front().UriSans().empty() ? "" : svid_.front().UriSans().front();
}

std::map<std::string, pb::Entry> SignetAgent::Entries() const {
  absl::MutexLock lock(&mu_);
  return entries_;
}

int64_t SignetAgent::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

void SignetAgent::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (!stop_.HasBeenNotified()) stop_.Notify();
    if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
  }
  StopWorkloadApi();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (renew_thread_.joinable()) renew_thread_.join();
  if (svid_thread_.joinable()) svid_thread_.join();
}

SignetAgent::~SignetAgent() { Shutdown(); }

}  // namespace signet::agent
