#include "src/server/ca/ca_manager.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/common/status_macros.h"
#include "src/spiffe/jwt_svid.h"
#include "src/spiffe/x509_svid.h"

namespace signet::server {

// What the signing and read paths see: replaced as a whole after every change.
struct CaManager::Snapshot {
  std::shared_ptr<const spiffe::Bundle> bundle;
  std::vector<CaSlot> x509;
  std::vector<CaSlot> jwt;
  // The active slots, only when they can sign and are in `bundle`.
  std::optional<CaSlot> x509_signer;
  std::optional<CaSlot> jwt_signer;
};

namespace {

constexpr absl::Duration kMinKeyTtl = absl::Minutes(1);

absl::StatusOr<std::string> SubjectString(const CaSubject& subject) {
  std::vector<std::string> parts;
  const std::pair<absl::string_view, absl::string_view> attributes[] = {
      {"C", subject.country}, {"O", subject.organization}, {"CN", subject.common_name}};
  for (const auto& [name, value] : attributes) {
    if (value.find_first_of(",=") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("ca: subject ", name, " may not contain ',' or '='"));
    }
    if (!value.empty()) {
      parts.push_back(absl::StrCat(name, "=", value));
    }
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError("ca: the ca subject needs a country, organization or name");
  }
  return absl::StrJoin(parts, ",");
}

absl::Duration JwtKeyTtl(const CaManagerOptions& options) {
  return options.jwt_key_ttl == absl::ZeroDuration() ? options.ca_ttl : options.jwt_key_ttl;
}

absl::Status ValidateOptions(const CaManagerOptions& options) {
  if (options.ca_ttl < kMinKeyTtl || JwtKeyTtl(options) < kMinKeyTtl) {
    return absl::InvalidArgumentError("ca: ca ttl and jwt key ttl must be at least one minute");
  }
  if (options.default_x509_svid_ttl <= absl::ZeroDuration() ||
      options.default_jwt_svid_ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ca: default svid ttls must be positive");
  }
  if (options.bundle_refresh_hint < absl::Seconds(1)) {
    return absl::InvalidArgumentError("ca: bundle refresh hint must be at least one second");
  }
  return absl::OkStatus();
}

CaSlotInfo InfoOf(const CaSlot& slot, const spiffe::Bundle& published) {
  return {.key_id = slot.key_id(),
          .kind = slot.record.kind,
          .state = slot.state(),
          .key_type = slot.record.key_type,
          .not_before = slot.record.not_before,
          .not_after = slot.record.not_after,
          .subject_key_id = slot.subject_key_id,
          .can_sign = slot.CanSign(),
          .published = BundleHasAuthority(published, slot)};
}

std::optional<CaSlot> PublishedSigner(const SlotMachine& machine, const spiffe::Bundle& bundle) {
  const CaSlot* active = machine.Find(CaSlotState::kActive);
  if (active == nullptr || !active->CanSign() || !BundleHasAuthority(bundle, *active)) {
    return std::nullopt;
  }
  return *active;
}

absl::Status CheckMember(const spiffe::SpiffeId& id, const spiffe::TrustDomain& td) {
  if (!id.MemberOf(td)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ca: ", id.String(), " is not in trust domain ", td.name()));
  }
  if (id.IsTrustDomainId()) {
    return absl::InvalidArgumentError("ca: an svid's spiffe id must have a path");
  }
  return absl::OkStatus();
}

SlotMachine::MintFn X509Mint(const CaManagerOptions& options, const std::string& subject) {
  spiffe::CaParams params{
      .trust_domain = options.trust_domain, .subject = subject, .ttl = options.ca_ttl};
  crypto::KeyType type = options.ca_key_type;
  return
      [params, type](const std::string& key_id, CaSlotState state, const crypto::PrivateKey& key,
                     absl::Time now) { return NewX509Slot(key_id, state, type, key, params, now); };
}

SlotMachine::MintFn JwtMint(const CaManagerOptions& options) {
  absl::Duration ttl = JwtKeyTtl(options);
  crypto::KeyType type = options.jwt_key_type;
  return [ttl, type](const std::string& key_id, CaSlotState state, const crypto::PrivateKey& key,
                     absl::Time now) { return NewJwtSlot(key_id, state, type, key, ttl, now); };
}

}  // namespace

CaManager::CaManager(const CaManagerOptions& options, std::string subject)
    : options_(options),
      subject_(std::move(subject)),
      x509_(CaKeyKind::kX509, options.ca_key_type, X509Mint(options, subject_), options.key_manager,
            options.journal),
      jwt_(CaKeyKind::kJwt, options.jwt_key_type, JwtMint(options), options.key_manager,
           options.journal),
      published_(std::make_shared<const spiffe::Bundle>()) {}

CaManager::~CaManager() = default;

absl::StatusOr<std::unique_ptr<CaManager>> CaManager::Create(const CaManagerOptions& options) {
  SIGNET_RETURN_IF_ERROR(ValidateOptions(options));
  SIGNET_ASSIGN_OR_RETURN(std::string subject, SubjectString(options.ca_subject));
  std::unique_ptr<CaManager> manager(new CaManager(options, std::move(subject)));
  absl::MutexLock lock(&manager->mu_);
  SIGNET_RETURN_IF_ERROR(manager->Start());
  return manager;
}

absl::Status CaManager::Start() {
  SIGNET_RETURN_IF_ERROR(x509_.Load(options_.trust_domain));
  SIGNET_RETURN_IF_ERROR(jwt_.Load(options_.trust_domain));
  SIGNET_RETURN_IF_ERROR(LoadPublishedBundle());
  SIGNET_RETURN_IF_ERROR(RotateAll(options_.clock.Now()));
  return Commit();
}

absl::Status CaManager::LoadPublishedBundle() {
  absl::StatusOr<StoredBundle> stored =
      options_.bundle_store.GetBundle(options_.trust_domain.name());
  if (absl::IsNotFound(stored.status())) {
    return absl::OkStatus();  // First start: the empty bundle, sequence 0.
  }
  SIGNET_RETURN_IF_ERROR(Annotate(stored.status(), "ca: read own bundle"));
  absl::StatusOr<spiffe::Bundle> bundle = spiffe::ParseSpiffeBundle(stored->spiffe_json);
  if (!bundle.ok()) {
    return absl::DataLossError(absl::StrCat("ca: stored bundle of ", options_.trust_domain.name(),
                                            " is invalid: ", bundle.status().message()));
  }
  published_ = std::make_shared<const spiffe::Bundle>(*std::move(bundle));
  return absl::OkStatus();
}

absl::Status CaManager::RotateAll(absl::Time now) {
  // The two kinds are independent: a failure of one does not hold back the other.
  absl::Status status = x509_.Rotate(now, *published_);
  status.Update(jwt_.Rotate(now, *published_));
  return status;
}

spiffe::Bundle CaManager::BuildBundle() const {
  spiffe::Bundle bundle;
  for (const SlotMachine* machine : {&x509_, &jwt_}) {
    for (const CaSlot& slot : machine->slots()) {
      // Kids are random and unique: AddJwtAuthority cannot fail on our own slots.
      (void)AddAuthority(slot, bundle);
    }
  }
  bundle.set_refresh_hint_seconds(
      static_cast<uint64_t>(absl::ToInt64Seconds(options_.bundle_refresh_hint)));
  return bundle;
}

absl::Status CaManager::Commit() {
  absl::Status status;
  spiffe::Bundle next = BuildBundle();
  if (!SameContent(next, *published_)) {
    next.set_sequence(published_->sequence().value_or(0) + 1);
    absl::StatusOr<std::string> json = spiffe::ToSpiffeBundleJson(next);
    status = json.ok()
                 ? options_.bundle_store.SetBundle({.trust_domain = options_.trust_domain.name(),
                                                    .spiffe_json = *std::move(json)})
                 : json.status();
    if (status.ok()) {
      published_ = std::make_shared<const spiffe::Bundle>(std::move(next));
    }
    status = Annotate(status, "ca: publish bundle");
  }
  RefreshSnapshot();
  return status;
}

void CaManager::RefreshSnapshot() {
  auto next = std::make_shared<Snapshot>();
  next->bundle = published_;
  next->x509 = x509_.slots();
  next->jwt = jwt_.slots();
  next->x509_signer = PublishedSigner(x509_, *published_);
  next->jwt_signer = PublishedSigner(jwt_, *published_);
  absl::MutexLock lock(&snapshot_mu_);
  snapshot_ = std::move(next);
}

std::shared_ptr<const CaManager::Snapshot> CaManager::snapshot() const {
  absl::ReaderMutexLock lock(&snapshot_mu_);
  return snapshot_;
}

SlotMachine& CaManager::Machine(CaKeyKind kind) { return kind == CaKeyKind::kX509 ? x509_ : jwt_; }

absl::Status CaManager::Tick() {
  absl::MutexLock lock(&mu_);
  absl::Status status = RotateAll(options_.clock.Now());
  status.Update(Commit());
  return status;
}

absl::StatusOr<std::vector<crypto::Certificate>> CaManager::SignX509Svid(
    const X509SvidRequest& request) const {
  SIGNET_RETURN_IF_ERROR(CheckMember(request.spiffe_id, options_.trust_domain));
  if (request.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ca: ttl may not be negative");
  }
  std::shared_ptr<const Snapshot> snap = snapshot();
  if (!snap->x509_signer.has_value()) {
    return absl::UnavailableError("ca: no published x509 ca key can sign");
  }
  const CaSlot& signer = *snap->x509_signer;
  spiffe::LeafParams params{
      .id = request.spiffe_id,
      .dns_names = request.dns_names,
      .ttl = request.ttl == absl::ZeroDuration() ? options_.default_x509_svid_ttl : request.ttl};
  SIGNET_ASSIGN_OR_RETURN(crypto::Certificate leaf,
                          spiffe::IssueLeafSvid(params, request.public_key, *signer.certificate,
                                                *signer.private_key, options_.clock.Now()));
  return std::vector<crypto::Certificate>{std::move(leaf)};
}

absl::StatusOr<std::string> CaManager::SignJwtSvid(const JwtSvidRequest& request) const {
  SIGNET_RETURN_IF_ERROR(CheckMember(request.spiffe_id, options_.trust_domain));
  if (request.ttl < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ca: ttl may not be negative");
  }
  std::shared_ptr<const Snapshot> snap = snapshot();
  if (!snap->jwt_signer.has_value()) {
    return absl::UnavailableError("ca: no published jwt key can sign");
  }
  const CaSlot& signer = *snap->jwt_signer;
  absl::Time now = options_.clock.Now();
  absl::Duration left = signer.record.not_after - now;
  if (left <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError("ca: the active jwt key has expired");
  }
  absl::Duration ttl =
      request.ttl == absl::ZeroDuration() ? options_.default_jwt_svid_ttl : request.ttl;
  return signer.jwt_signer->Mint({.subject = request.spiffe_id,
                                  .audience = request.audience,
                                  .issued_at = now,
                                  .ttl = std::min(ttl, left)});
}

std::shared_ptr<const spiffe::Bundle> CaManager::Bundle() const { return snapshot()->bundle; }

std::vector<CaSlotInfo> CaManager::Show(CaKeyKind kind) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  std::vector<CaSlotInfo> out;
  for (const CaSlot& slot : kind == CaKeyKind::kX509 ? snap->x509 : snap->jwt) {
    out.push_back(InfoOf(slot, *snap->bundle));
  }
  return out;
}

absl::StatusOr<CaSlotInfo> CaManager::Prepare(CaKeyKind kind) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CaSlot> slot = Machine(kind).Prepare(options_.clock.Now());
  absl::Status committed = Commit();
  SIGNET_RETURN_IF_ERROR(slot.status());
  SIGNET_RETURN_IF_ERROR(committed);
  return InfoOf(*slot, *published_);
}

absl::StatusOr<CaSlotInfo> CaManager::Activate(CaKeyKind kind) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<CaSlot> slot = Machine(kind).Activate(*published_);
  absl::Status committed = Commit();
  SIGNET_RETURN_IF_ERROR(slot.status());
  SIGNET_RETURN_IF_ERROR(committed);
  return InfoOf(*slot, *published_);
}

absl::Status CaManager::Taint(CaKeyKind kind, absl::string_view key_id) {
  absl::MutexLock lock(&mu_);
  absl::Status status = Machine(kind).Taint(key_id);
  status.Update(Commit());
  return status;
}

absl::Status CaManager::Revoke(CaKeyKind kind, absl::string_view key_id) {
  absl::MutexLock lock(&mu_);
  absl::Status status = Machine(kind).Revoke(key_id);
  status.Update(Commit());
  return status;
}

bool CaManager::IsTainted(absl::string_view authority_id) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  std::string lower = absl::AsciiStrToLower(authority_id);
  auto tainted = [](const CaSlot& slot) { return slot.state() == CaSlotState::kTainted; };
  return std::any_of(
             snap->x509.begin(), snap->x509.end(),
             [&](const CaSlot& slot) { return tainted(slot) && slot.subject_key_id == lower; }) ||
         std::any_of(snap->jwt.begin(), snap->jwt.end(), [&](const CaSlot& slot) {
           return tainted(slot) && slot.key_id() == authority_id;
         });
}

std::vector<std::string> CaManager::TaintedX509AuthorityKeyIds() const {
  std::vector<std::string> out;
  for (const CaSlot& slot : snapshot()->x509) {
    if (slot.state() == CaSlotState::kTainted) {
      out.push_back(slot.subject_key_id);
    }
  }
  return out;
}

std::vector<std::string> CaManager::TaintedJwtKeyIds() const {
  std::vector<std::string> out;
  for (const CaSlot& slot : snapshot()->jwt) {
    if (slot.state() == CaSlotState::kTainted) {
      out.push_back(slot.key_id());
    }
  }
  return out;
}

}  // namespace signet::server
