#include "src/server/server_svid.h"

#include <fcntl.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/server/ca/ca_manager.h"
#include "src/spiffe/bundle.h"

namespace signet::server {
namespace {

namespace fs = std::filesystem;

constexpr char kCurrentLink[] = "current";
constexpr char kSvidFile[] = "svid.pem";
constexpr char kKeyFile[] = "key.pem";
constexpr char kBundleFile[] = "bundle.pem";

absl::Status FsError(absl::string_view what, const fs::path& path, const std::error_code& ec) {
  return absl::InternalError(
      absl::StrCat("server svid: ", what, " ", path.string(), ": ", ec.message()));
}

// The generation number of a directory named "g<N>", or 0 for any other name.
uint64_t GenerationNumber(const std::string& name) {
  if (name.size() < 2 || name[0] != 'g') return 0;
  uint64_t n = 0;
  auto [end, err] = std::from_chars(name.data() + 1, name.data() + name.size(), n);
  return err == std::errc() && end == name.data() + name.size() ? n : 0;
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("server svid: open directory ", dir, ": ", std::strerror(errno)));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("server svid: fsync directory ", dir, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

// Points the symbolic link `link` at `target` with one rename(2), so that readers never find it
// missing.
absl::Status ReplaceSymlink(const fs::path& link, const fs::path& target) {
  fs::path tmp = link.parent_path() / ("." + link.filename().string() + ".tmp");
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) return FsError("create link", tmp, ec);
  fs::rename(tmp, link, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return FsError("rename link onto", link, ec);
  }
  return absl::OkStatus();
}

// The lowercase hex Authority Key Identifier of `cert`, or "" when it has none.
std::string AuthorityKeyId(const crypto::Certificate& cert) {
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
  if (aki == nullptr) return "";
  return crypto::HexEncode(
      absl::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki)),
                        static_cast<size_t>(ASN1_STRING_length(aki))));
}

}  // namespace

spiffe::SpiffeId ServerSpiffeId(const spiffe::TrustDomain& td) {
  // A trust domain and a fixed, valid path always make a valid ID.
  return *spiffe::SpiffeId::FromParts(td, "/signet/server");
}

absl::StatusOr<std::unique_ptr<ServerSvid>> ServerSvid::Create(const ServerSvidOptions& options) {
  std::unique_ptr<ServerSvid> svid(new ServerSvid(options));
  absl::Status status;
  {
    absl::MutexLock lock(&svid->tick_mu_);
    status = svid->Init();
  }
  if (!status.ok()) return status;
  return svid;
}

absl::Status ServerSvid::Init() {
  const fs::path dir(options_.dir);
  std::error_code ec;
  if (!fs::create_directory(dir, ec) && ec) return FsError("create directory", dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return FsError("chmod", dir, ec);
  // Nothing serves from an earlier run's files any more: start over with a new generation.
  std::vector<fs::path> stale;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (GenerationNumber(entry.path().filename().string()) != 0) stale.push_back(entry.path());
  }
  if (ec) return FsError("list", dir, ec);
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) return FsError("remove", path, ec);
  }
  absl::Time now = options_.clock.Now();
  SIGNET_ASSIGN_OR_RETURN(std::shared_ptr<const spiffe::X509Svid> first, Mint(now));
  SIGNET_RETURN_IF_ERROR(Publish(std::move(first), now));
  for (const char* name : {kSvidFile, kKeyFile, kBundleFile}) {
    SIGNET_RETURN_IF_ERROR(ReplaceSymlink(dir / name, fs::path(kCurrentLink) / name));
  }
  return SyncDir(options_.dir);
}

absl::StatusOr<std::shared_ptr<const spiffe::X509Svid>> ServerSvid::Mint(absl::Time now) const {
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::Generate(crypto::KeyType::kEcP256));
  std::vector<std::string> dns_names = {kServerSvidDnsName};
  for (const std::string& name : options_.dns_names) {
    if (name != kServerSvidDnsName) dns_names.push_back(name);
  }
  absl::StatusOr<std::vector<crypto::Certificate>> chain =
      options_.ca.SignX509Svid({.spiffe_id = ServerSpiffeId(options_.ca.trust_domain()),
                                .public_key = key.public_key(),
                                .ttl = options_.ttl,
                                .dns_names = std::move(dns_names)});
  if (!chain.ok()) return Annotate(chain.status(), "server svid: sign");
  absl::StatusOr<spiffe::X509Svid> svid =
      spiffe::X509Svid::FromParts(*std::move(chain), std::move(key));
  if (!svid.ok()) return Annotate(svid.status(), "server svid");
  return std::make_shared<const spiffe::X509Svid>(*std::move(svid));
}

absl::Status ServerSvid::Publish(std::shared_ptr<const spiffe::X509Svid> svid,
                                 absl::Time issued_at) {
  std::shared_ptr<const spiffe::Bundle> bundle = options_.ca.Bundle();
  SIGNET_ASSIGN_OR_RETURN(std::string chain_pem, crypto::ChainToPem(svid->chain()));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, svid->key().ToPkcs8Pem());
  SIGNET_ASSIGN_OR_RETURN(std::string bundle_pem, spiffe::X509AuthoritiesToPem(*bundle));

  const std::string name = absl::StrCat("g", next_generation_++);
  const fs::path dir = fs::path(options_.dir) / name;
  std::error_code ec;
  fs::create_directory(dir, ec);
  if (ec) return FsError("create directory", dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  absl::Status status = ec ? FsError("chmod", dir, ec) : absl::OkStatus();
  if (status.ok()) status = WriteFileAtomic((dir / kKeyFile).string(), key_pem, 0600);
  if (status.ok()) status = WriteFileAtomic((dir / kSvidFile).string(), chain_pem, 0644);
  if (status.ok()) status = WriteFileAtomic((dir / kBundleFile).string(), bundle_pem, 0644);
  if (status.ok()) status = ReplaceSymlink(fs::path(options_.dir) / kCurrentLink, name);
  if (!status.ok()) {
    fs::remove_all(dir, ec);  // never made current: nobody reads it
    return status;
  }
  // `current` now points at the new generation: on failure it must stay, only unsynced.
  SIGNET_RETURN_IF_ERROR(SyncDir(options_.dir));
  // Generations before the previous one can no longer be in a reader's hands. A leftover is
  // harmless (the next change tries again), so failures to remove are not reported.
  std::vector<fs::path> old;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.dir, ec)) {
    std::string entry_name = entry.path().filename().string();
    if (GenerationNumber(entry_name) != 0 && entry_name != name &&
        entry_name != previous_generation_) {
      old.push_back(entry.path());
    }
  }
  for (const fs::path& path : old) fs::remove_all(path, ec);
  previous_generation_ = name;
  written_bundle_sequence_ = bundle->sequence();

  const crypto::Certificate& leaf = svid->leaf();
  absl::MutexLock lock(&mu_);
  if (svid_ != svid) renew_at_ = issued_at + (leaf.NotAfter() - issued_at) / 2;
  svid_ = std::move(svid);
  return absl::OkStatus();
}

std::string ServerSvid::RenewalReason(absl::Time now) const {
  std::shared_ptr<const spiffe::X509Svid> current = svid();
  if (now >= renew_at()) return "half of its lifetime has passed";
  if (options_.ca.IsTainted(AuthorityKeyId(current->leaf()))) return "its ca is tainted";
  spiffe::BundleSet own;
  own.Put(options_.ca.trust_domain(), *options_.ca.Bundle());
  absl::StatusOr<spiffe::SpiffeId> verified = spiffe::VerifyX509Svid(current->chain(), own, now);
  if (!verified.ok()) {
    return absl::StrCat("it no longer verifies (", verified.status().message(), ")");
  }
  return "";
}

absl::Status ServerSvid::Tick() {
  absl::MutexLock lock(&tick_mu_);
  absl::Time now = options_.clock.Now();
  std::string reason = RenewalReason(now);
  if (!reason.empty()) {
    absl::StatusOr<std::shared_ptr<const spiffe::X509Svid>> renewed = Mint(now);
    if (!renewed.ok()) {
      return Annotate(renewed.status(), absl::StrCat("renew because ", reason));
    }
    std::string serial = (*renewed)->leaf().SerialHex();
    absl::Time not_after = (*renewed)->leaf().NotAfter();
    SIGNET_RETURN_IF_ERROR(Publish(*std::move(renewed), now));
    LogInfo("server svid renewed",
            {{"reason", reason},
             {"serial", serial},
             {"not_after", absl::FormatTime(absl::RFC3339_sec, not_after, absl::UTCTimeZone())}});
    return absl::OkStatus();
  }
  if (options_.ca.Bundle()->sequence() != written_bundle_sequence_) {
    return Publish(svid(), now);
  }
  return absl::OkStatus();
}

std::shared_ptr<const spiffe::X509Svid> ServerSvid::svid() const {
  absl::MutexLock lock(&mu_);
  return svid_;
}

absl::Time ServerSvid::renew_at() const {
  absl::MutexLock lock(&mu_);
  return renew_at_;
}

std::shared_ptr<grpc::ServerCredentials> MtlsServerCredentials(const ServerSvid& svid,
                                                               unsigned int refresh_seconds) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      svid.key_path(), svid.svid_path(), svid.bundle_path(), refresh_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // Asked for and verified against the bundle when presented, but not required: agents attest
  // before they have an SVID. Every other method requires one (SvidAuthProcessor).
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace signet::server
