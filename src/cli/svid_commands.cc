// signet x509 mint, signet jwt mint, signet authority ..., signet audit list, signet healthcheck
#include <sys/stat.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/cli/admin_client.h"
#include "src/cli/admin_commands.h"
#include "src/cli/admin_print.h"
#include "src/common/file_util.h"
#include "src/crypto/certificate.h"
#include "src/crypto/csr.h"
#include "src/crypto/key.h"

namespace signet::cli {
namespace {

namespace pb = ::signet::admin::v1;

struct SvidFlags {
  AdminFlags admin;
  std::string spiffe_id;
  std::string ttl;
  std::vector<std::string> dns_names;
  std::vector<std::string> audience;
  std::string write_dir;
  std::string key_type = "ec-p256";
  std::string key_id;
  std::string since;
};

int X509Mint(const SvidFlags& f) {
  auto type = crypto::ParseKeyType(f.key_type);
  if (!type.ok()) return Fail(type.status());
  auto key = crypto::PrivateKey::Generate(*type);
  if (!key.ok()) return Fail(key.status());
  auto csr = crypto::BuildCsrDer(*key);
  if (!csr.ok()) return Fail(csr.status());
  pb::MintX509SvidRequest req;
  req.set_csr(*csr);
  req.set_spiffe_id(f.spiffe_id);
  if (!f.ttl.empty()) {
    auto ttl = ParseTtlFlag("--ttl", f.ttl);
    if (!ttl.ok()) return Fail(ttl.status());
    req.set_ttl(*ttl);
  }
  for (const std::string& d : f.dns_names) req.add_dns_names(d);
  AdminClient client(f.admin);
  auto stub = pb::Svids::NewStub(client.channel());
  pb::MintX509SvidResponse resp;
  grpc::Status status = stub->MintX509Svid(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "x509 mint", f.admin);
  std::string chain_pem;
  for (const std::string& der : resp.chain()) {
    auto cert = crypto::Certificate::FromDer(der);
    if (!cert.ok()) return Fail(cert.status());
    auto pem = cert->ToPem();
    if (!pem.ok()) return Fail(pem.status());
    chain_pem += *pem;
  }
  pb::Bundle bundle;
  auto bundles = pb::Bundles::NewStub(client.channel());
  status = bundles->GetBundle(client.Context().get(), pb::GetBundleRequest(), &bundle);
  if (!status.ok()) return FailRpc(status, "x509 mint: bundle", f.admin);
  std::string bundle_pem;
  for (const std::string& der : bundle.x509_authorities()) {
    auto cert = crypto::Certificate::FromDer(der);
    if (!cert.ok()) return Fail(cert.status());
    auto pem = cert->ToPem();
    if (!pem.ok()) return Fail(pem.status());
    bundle_pem += *pem;
  }
  auto key_pem_or = key->ToPkcs8Pem();
  if (!key_pem_or.ok()) return Fail(key_pem_or.status());
  std::string key_pem = *std::move(key_pem_or);
  if (!f.write_dir.empty()) {
    if (mkdir(f.write_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Fail(absl::FailedPreconditionError(absl::StrCat("cannot create ", f.write_dir)));
    }
    // svid.pem last: a reader that reloads when it changes finds the matching key in place.
    for (auto [name, data, mode] :
         {std::tuple{"bundle.pem", &bundle_pem, 0644}, std::tuple{"key.pem", &key_pem, 0600},
          std::tuple{"svid.pem", &chain_pem, 0644}}) {
      absl::Status written =
          WriteFileAtomic(absl::StrCat(f.write_dir, "/", name), *data, static_cast<mode_t>(mode));
      if (!written.ok()) return Fail(written);
    }
    if (client.json()) {
      PrintJson({{"svid", f.write_dir + "/svid.pem"},
                 {"key", f.write_dir + "/key.pem"},
                 {"bundle", f.write_dir + "/bundle.pem"},
                 {"expires_at", UnixToText(resp.expires_at())}});
    } else {
      std::cout << "X509-SVID written to " << f.write_dir << "/svid.pem\n"
                << "Private key written to " << f.write_dir << "/key.pem\n"
                << "Root CAs written to " << f.write_dir << "/bundle.pem\n";
    }
    return kExitOk;
  }
  if (client.json()) {
    PrintJson({{"svid", chain_pem},
               {"key", key_pem},
               {"bundle", bundle_pem},
               {"expires_at", UnixToText(resp.expires_at())}});
  } else {
    std::cout << "X509-SVID:\n"
              << chain_pem << "\nPrivate key:\n"
              << key_pem << "\nRoot CAs:\n"
              << bundle_pem;
  }
  return kExitOk;
}

int JwtMint(const SvidFlags& f) {
  pb::MintJwtSvidRequest req;
  req.set_spiffe_id(f.spiffe_id);
  for (const std::string& a : f.audience) req.add_audience(a);
  if (!f.ttl.empty()) {
    auto ttl = ParseTtlFlag("--ttl", f.ttl);
    if (!ttl.ok()) return Fail(ttl.status());
    req.set_ttl(*ttl);
  }
  AdminClient client(f.admin);
  auto stub = pb::Svids::NewStub(client.channel());
  pb::MintJwtSvidResponse resp;
  grpc::Status status = stub->MintJwtSvid(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "jwt mint", f.admin);
  if (client.json()) {
    PrintJson({{"token", resp.token()}, {"expires_at", UnixToText(resp.expires_at())}});
  } else {
    std::cout << resp.token() << "\n";
  }
  return kExitOk;
}

using AuthorityRpc = grpc::Status (pb::Authorities::Stub::*)(grpc::ClientContext*,
                                                             const pb::AuthorityRequest&,
                                                             pb::AuthorityResponse*);

int AuthorityCall(const SvidFlags& f, pb::AuthorityKind kind, AuthorityRpc rpc,
                  const std::string& what) {
  AdminClient client(f.admin);
  auto stub = pb::Authorities::NewStub(client.channel());
  pb::AuthorityRequest req;
  req.set_kind(kind);
  req.set_key_id(f.key_id);
  pb::AuthorityResponse resp;
  grpc::Status status = ((*stub).*rpc)(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, what, f.admin);
  if (client.json()) {
    PrintProtoJson(resp);
    return kExitOk;
  }
  for (const pb::Authority& a : resp.authorities()) {
    std::cout << "Key ID     : " << a.key_id() << "\n"
              << "State      : " << a.state() << "\n"
              << "Key type   : " << a.key_type() << "\n"
              << "Not before : " << UnixToText(a.not_before(), "-") << "\n"
              << "Not after  : " << UnixToText(a.not_after(), "-") << "\n\n";
  }
  return kExitOk;
}

int AuditList(const SvidFlags& f) {
  pb::ListAuditEventsRequest req;
  if (!f.since.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, f.since, &t, &err)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--since: \"", f.since, "\" is not an RFC 3339 time")));
    }
    req.set_since(absl::ToUnixSeconds(t));
  }
  req.set_spiffe_id(f.spiffe_id);
  req.set_limit(1000);
  AdminClient client(f.admin);
  auto stub = pb::Audit::NewStub(client.channel());
  nlohmann::json events = nlohmann::json::array();
  while (true) {
    pb::ListAuditEventsResponse resp;
    grpc::Status status = stub->ListAuditEvents(client.Context().get(), req, &resp);
    if (!status.ok()) return FailRpc(status, "audit list", f.admin);
    for (const pb::AuditEvent& e : resp.events()) {
      if (client.json()) {
        events.push_back(nlohmann::json::parse(ProtoToJson(e)));
      } else {
        std::cout << UnixToText(e.time()) << "  " << e.caller() << "  " << e.action() << "  "
                  << (e.target().empty() ? "-" : e.target()) << "  " << e.result()
                  << (e.detail().empty() ? "" : "  " + e.detail()) << "\n";
      }
    }
    if (resp.events_size() < req.limit()) break;
    req.set_after_id(resp.events(resp.events_size() - 1).id());
  }
  if (client.json()) PrintJson({{"events", events}});
  return kExitOk;
}

int Healthcheck(const SvidFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Server::NewStub(client.channel());
  pb::HealthResponse resp;
  grpc::Status status = stub->Health(client.Context().get(), pb::HealthRequest(), &resp);
  if (!status.ok()) return FailRpc(status, "healthcheck", f.admin);
  if (client.json()) {
    PrintJson({{"healthy", true},
               {"trust_domain", resp.trust_domain()},
               {"version", resp.version()},
               {"revision", resp.revision()}});
  } else {
    std::cout << "Server is healthy (trust domain " << resp.trust_domain() << ", revision "
              << resp.revision() << ")\n";
  }
  return kExitOk;
}

void RegisterAuthority(CLI::App& app, const std::shared_ptr<SvidFlags>& f, int* exit_code) {
  CLI::App* authority = app.add_subcommand("authority", "Show and rotate signing authorities");
  authority->require_subcommand(1);
  for (auto [kind_name, kind] :
       {std::pair{"x509", pb::AUTHORITY_KIND_X509}, std::pair{"jwt", pb::AUTHORITY_KIND_JWT}}) {
    CLI::App* k = authority->add_subcommand(
        kind_name, absl::StrCat("The ", kind_name == std::string("x509") ? "X.509 CA" : "JWT",
                                " signing keys"));
    k->require_subcommand(1);
    struct Op {
      const char* name;
      const char* help;
      AuthorityRpc rpc;
      bool needs_key;
    };
    for (const Op& op : {Op{"show", "List the keys and their states",
                            &pb::Authorities::Stub::ShowAuthorities, false},
                         Op{"prepare", "Prepare the next key (published in the bundle at once)",
                            &pb::Authorities::Stub::PrepareAuthority, false},
                         Op{"activate", "Sign with the prepared key from now on",
                            &pb::Authorities::Stub::ActivateAuthority, false},
                         Op{"taint", "Mark an old key tainted: what it signed must be re-signed",
                            &pb::Authorities::Stub::TaintAuthority, true},
                         Op{"revoke", "Remove a tainted key from the bundle",
                            &pb::Authorities::Stub::RevokeAuthority, true}}) {
      CLI::App* cmd = k->add_subcommand(op.name, op.help);
      AddAdminFlags(cmd, &f->admin);
      if (op.needs_key) cmd->add_option("--key-id", f->key_id, "The key")->required();
      std::string what = absl::StrCat("authority ", kind_name, " ", op.name);
      pb::AuthorityKind k_kind = kind;
      cmd->callback([=] { *exit_code = AuthorityCall(*f, k_kind, op.rpc, what); });
    }
  }
}

}  // namespace

void RegisterSvidAdminCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<SvidFlags>();
  CLI::App* x509 = app.add_subcommand("x509", "Work with X509-SVIDs");
  x509->require_subcommand(1);
  CLI::App* mint = x509->add_subcommand("mint", "Mint an X509-SVID (the key is made locally)");
  AddAdminFlags(mint, &f->admin);
  mint->add_option("--spiffe-id", f->spiffe_id, "The SPIFFE ID")->required();
  mint->add_option("--ttl", f->ttl, "Lifetime, e.g. 1h (default: server's)");
  mint->add_option("--dns", f->dns_names, "A DNS SAN (repeatable)");
  mint->add_option("--key-type", f->key_type, "ec-p256, ec-p384 or rsa-2048")
      ->check(CLI::IsMember({"ec-p256", "ec-p384", "rsa-2048"}));
  mint->add_option("--write", f->write_dir,
                   "Write svid.pem, key.pem (0600) and bundle.pem into this directory");
  mint->callback([=] { *exit_code = X509Mint(*f); });

  CLI::App* jwt = app.get_subcommand("jwt");
  CLI::App* jmint = jwt->add_subcommand("mint", "Mint a JWT-SVID");
  AddAdminFlags(jmint, &f->admin);
  jmint->add_option("--spiffe-id", f->spiffe_id, "The SPIFFE ID")->required();
  jmint->add_option("--audience", f->audience, "An audience (repeatable)")->required();
  jmint->add_option("--ttl", f->ttl, "Lifetime, e.g. 5m (default: server's)");
  jmint->callback([=] { *exit_code = JwtMint(*f); });

  RegisterAuthority(app, f, exit_code);

  CLI::App* audit = app.add_subcommand("audit", "Read the audit log");
  audit->require_subcommand(1);
  CLI::App* list = audit->add_subcommand("list", "List audit events, oldest first");
  AddAdminFlags(list, &f->admin);
  list->add_option("--since", f->since, "Only events at or after this time (RFC 3339)");
  list->add_option("--spiffe-id", f->spiffe_id, "Only events whose caller or target is this ID");
  list->callback([=] { *exit_code = AuditList(*f); });

  CLI::App* health = app.add_subcommand("healthcheck", "Check that the server answers");
  AddAdminFlags(health, &f->admin);
  health->callback([=] { *exit_code = Healthcheck(*f); });
}

}  // namespace signet::cli
