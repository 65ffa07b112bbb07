// The mTLS SSL_CTXs of libsignet-client. Per handshake: cert_cb presents the source's current
// SVID; the certificate verify callback checks the peer's chain against its trust domain's
// bundle (spiffe::VerifyX509Svid) and asks the authorizer. Session resumption is off, so every
// connection is verified and authorized afresh.
#include "signet/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "src/crypto/ossl.h"
#include "src/spiffe/bundle.h"
#include "src/spiffe/spiffe_id.h"
#include "src/spiffe/x509_svid.h"

namespace signet {
namespace {

// What a context presents and trusts, parsed once per source update.
struct Material {
  uint64_t version = 0;
  absl::Time expires_at;                   // our SVID's: never presented past it
  std::vector<crypto::Certificate> chain;  // ours, leaf first
  std::optional<crypto::PrivateKey> key;
  spiffe::BundleSet bundles;
};

absl::StatusOr<std::shared_ptr<const Material>> BuildMaterial(const X509Source& source,
                                                              uint64_t version) {
  SIGNET_ASSIGN_OR_RETURN(X509Svid svid, source.Svid());
  auto m = std::make_shared<Material>();
  m->version = version;
  m->expires_at = absl::FromChrono(svid.expires_at);
  for (const std::string& der : svid.chain_der) {
    SIGNET_ASSIGN_OR_RETURN(crypto::Certificate c, crypto::Certificate::FromDer(der));
    m->chain.push_back(std::move(c));
  }
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::FromPkcs8Der(svid.private_key_der));
  m->key = std::move(key);
  for (const auto& [name, certs] : source.Bundles()) {
    SIGNET_ASSIGN_OR_RETURN(spiffe::TrustDomain td, spiffe::TrustDomain::Parse(name));
    spiffe::Bundle bundle;
    for (const std::string& der : certs) {
      SIGNET_ASSIGN_OR_RETURN(crypto::Certificate c, crypto::Certificate::FromDer(der));
      bundle.AddX509Authority(std::move(c));
    }
    m->bundles.Put(td, std::move(bundle));
  }
  return m;
}

struct ContextState {
  std::shared_ptr<X509Source> source;
  Authorizer authorize;
  std::function<SystemTime()> now;
  absl::Mutex mu;
  std::shared_ptr<const Material> material ABSL_GUARDED_BY(mu);

  absl::StatusOr<std::shared_ptr<const Material>> Current() {
    const uint64_t version = source->updates();
    {
      absl::MutexLock lock(&mu);
      if (material != nullptr && material->version == version &&
          material->expires_at > absl::FromChrono(now())) {
        return material;
      }
    }
    SIGNET_ASSIGN_OR_RETURN(std::shared_ptr<const Material> fresh, BuildMaterial(*source, version));
    absl::MutexLock lock(&mu);
    material = fresh;
    return fresh;
  }
};

// Per connection: who the peer is, or why it was refused.
struct PeerInfo {
  std::string id;
  std::string error;
  std::string refused_id;  // verified, but not authorized
};

void FreeState(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
               void* /*argp*/) {
  delete static_cast<ContextState*>(ptr);
}
void FreePeer(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
              void* /*argp*/) {
  delete static_cast<PeerInfo*>(ptr);
}

int StateIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeState);
  return index;
}
// SSL_dup copies the pointer; give the copy its own PeerInfo so that each is freed once.
int DupPeer(CRYPTO_EX_DATA* /*to*/, const CRYPTO_EX_DATA* /*from*/, void** from_d, int /*idx*/,
            long /*argl*/, void* /*argp*/) {
  auto** slot = reinterpret_cast<PeerInfo**>(from_d);
  if (*slot != nullptr) *slot = new PeerInfo(**slot);
  return 1;
}

int PeerIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, DupPeer, FreePeer);
  return index;
}

PeerInfo* Peer(SSL* ssl) {
  auto* info = static_cast<PeerInfo*>(SSL_get_ex_data(ssl, PeerIndex()));
  if (info == nullptr) {
    info = new PeerInfo;
    SSL_set_ex_data(ssl, PeerIndex(), info);
  }
  return info;
}

// A new handshake on a reused SSL (SSL_clear) starts with no peer.
void ResetPeerOnHandshakeStart(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0) return;
  if (auto* info = static_cast<PeerInfo*>(SSL_get_ex_data(ssl, PeerIndex())); info != nullptr) {
    *info = PeerInfo();
  }
}

int PresentSvid(SSL* ssl, void* arg) {
  auto* state = static_cast<ContextState*>(arg);
  absl::StatusOr<std::shared_ptr<const Material>> m = state->Current();
  if (!m.ok()) {
    Peer(ssl)->error = absl::StrCat("no SVID to present: ", m.status().message());
    return 0;
  }
  const Material& material = **m;
  bool ok = SSL_use_certificate(ssl, material.chain.front().get()) == 1 &&
            SSL_use_PrivateKey(ssl, material.key->get()) == 1 && SSL_clear_chain_certs(ssl) == 1;
  for (size_t i = 1; ok && i < material.chain.size(); ++i) {
    ok = SSL_add1_chain_cert(ssl, material.chain[i].get()) == 1;
  }
  if (!ok) Peer(ssl)->error = "OpenSSL did not take our SVID";
  return ok ? 1 : 0;
}

int VerifyPeer(X509_STORE_CTX* store_ctx, void* arg) {
  auto* state = static_cast<ContextState*>(arg);
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  PeerInfo* peer = Peer(ssl);
  auto refuse = [&](std::string why) {
    peer->error = std::move(why);
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  };
  X509* leaf = X509_STORE_CTX_get0_cert(store_ctx);
  if (leaf == nullptr) return refuse("the peer presented no certificate");
  std::vector<crypto::Certificate> chain;
  auto add = [&](X509* x) {
    X509_up_ref(x);
    absl::StatusOr<crypto::Certificate> c = crypto::Certificate::FromX509(crypto::X509Ptr(x));
    if (c.ok()) chain.push_back(*std::move(c));
    return c.ok();
  };
  if (!add(leaf)) return refuse("the peer's certificate cannot be read");
  STACK_OF(X509)* untrusted = X509_STORE_CTX_get0_untrusted(store_ctx);
  for (int i = 0; untrusted != nullptr && i < sk_X509_num(untrusted); ++i) {
    X509* x = sk_X509_value(untrusted, i);
    if (X509_cmp(x, leaf) == 0) continue;
    if (!add(x)) return refuse("a certificate of the peer's chain cannot be read");
  }
  absl::StatusOr<std::shared_ptr<const Material>> m = state->Current();
  if (!m.ok()) return refuse(absl::StrCat("cannot verify peers: ", m.status().message()));
  absl::StatusOr<spiffe::SpiffeId> id =
      spiffe::VerifyX509Svid(chain, (*m)->bundles, absl::FromChrono(state->now()));
  if (!id.ok()) return refuse(absl::StrCat("the peer's X509-SVID: ", id.status().message()));
  const std::string peer_id = id->String();
  if (absl::Status allowed = state->authorize(peer_id); !allowed.ok()) {
    peer->refused_id = peer_id;
    return refuse(absl::StrCat(peer_id, " is not authorized: ", allowed.message()));
  }
  peer->id = peer_id;
  peer->error.clear();
  return 1;
}

absl::StatusOr<SslCtxPtr> NewContext(const SSL_METHOD* method, std::shared_ptr<X509Source> source,
                                     Authorizer authorize, const TlsOptions& options, bool server) {
  if (source == nullptr || authorize == nullptr || options.now == nullptr) {
    return absl::InvalidArgumentError("an X509Source, an Authorizer and a clock are required");
  }
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  auto* state = new ContextState{
      .source = std::move(source), .authorize = std::move(authorize), .now = options.now};
  SSL_CTX_set_ex_data(ctx.get(), StateIndex(), state);  // freed with the context
  SSL_CTX_set_cert_cb(ctx.get(), PresentSvid, state);
  SSL_CTX_set_cert_verify_callback(ctx.get(), VerifyPeer, state);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_info_callback(ctx.get(), ResetPeerOnHandshakeStart);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  if (server) SSL_CTX_set_num_tickets(ctx.get(), 0);
  // Fail at once, not at the first handshake, when there is nothing to present.
  if (absl::StatusOr<std::shared_ptr<const Material>> m = state->Current(); !m.ok()) {
    return m.status();
  }
  return ctx;
}

absl::Status Deny(const std::string& peer_id, absl::string_view rule) {
  return absl::PermissionDeniedError(absl::StrCat(peer_id, " ", rule));
}

}  // namespace

Authorizer AuthorizeAny() {
  return [](const std::string&) { return absl::OkStatus(); };
}

Authorizer AuthorizeId(std::string spiffe_id) {
  return [want = std::move(spiffe_id)](const std::string& peer) {
    return peer == want ? absl::OkStatus() : Deny(peer, absl::StrCat("is not ", want));
  };
}

Authorizer AuthorizeOneOf(std::vector<std::string> spiffe_ids) {
  return [ids = std::move(spiffe_ids)](const std::string& peer) {
    for (const std::string& id : ids) {
      if (id == peer) return absl::OkStatus();
    }
    return Deny(peer, absl::StrCat("is not one of ", absl::StrJoin(ids, ", ")));
  };
}

Authorizer AuthorizeMemberOf(std::string trust_domain) {
  absl::StatusOr<spiffe::TrustDomain> parsed = spiffe::TrustDomain::Parse(trust_domain);
  if (!parsed.ok()) {  // fails closed, and says why
    return [why = absl::StrCat("cannot be checked: AuthorizeMemberOf(\"", trust_domain,
                               "\"): ", parsed.status().message())](const std::string& peer) {
      return Deny(peer, why);
    };
  }
  return [td = parsed->name()](const std::string& peer) {
    absl::StatusOr<spiffe::SpiffeId> id = spiffe::SpiffeId::Parse(peer);
    if (id.ok() && id->trust_domain().name() == td) return absl::OkStatus();
    return Deny(peer, absl::StrCat("is not a member of ", td));
  };
}

Authorizer AuthorizeIf(std::function<bool(const std::string& peer_id)> allowed) {
  return [allowed = std::move(allowed)](const std::string& peer) {
    return allowed(peer) ? absl::OkStatus() : Deny(peer, "is refused by the custom rule");
  };
}

absl::StatusOr<SslCtxPtr> NewMtlsServerContext(std::shared_ptr<X509Source> source,
                                               Authorizer authorize, const TlsOptions& options) {
  return NewContext(TLS_server_method(), std::move(source), std::move(authorize), options, true);
}

absl::StatusOr<SslCtxPtr> NewMtlsClientContext(std::shared_ptr<X509Source> source,
                                               Authorizer authorize, const TlsOptions& options) {
  return NewContext(TLS_client_method(), std::move(source), std::move(authorize), options, false);
}

std::string PeerSpiffeId(const SSL* ssl) {
  const auto* info = static_cast<const PeerInfo*>(SSL_get_ex_data(ssl, PeerIndex()));
  // A resumed session skipped our verification (a client given SSL_set_session): no peer.
  if (info == nullptr || !SSL_is_init_finished(ssl) || SSL_session_reused(ssl)) return "";
  return info->id;
}

std::string PeerError(const SSL* ssl) {
  const auto* info = static_cast<const PeerInfo*>(SSL_get_ex_data(ssl, PeerIndex()));
  return info == nullptr ? "" : info->error;
}

std::string RefusedPeerId(const SSL* ssl) {
  const auto* info = static_cast<const PeerInfo*>(SSL_get_ex_data(ssl, PeerIndex()));
  return info == nullptr ? "" : info->refused_id;
}

}  // namespace signet
