// signet proxy server|client: mutual TLS with SPIFFE identities in front of (server) or behind
// (client) software that speaks plain TCP. See src/proxy/proxy.h.
//
//   signet proxy server --listen 0.0.0.0:8443 --backend 127.0.0.1:8080 \
//       --allow-trust-domain example.org
//   signet proxy client --listen 127.0.0.1:5432 --connect db.internal:8443 \
//       --server-id spiffe://example.org/db

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/cli/admin_commands.h"
#include "src/cli/output.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/proxy/endpoint.h"
#include "src/proxy/proxy.h"

namespace signet::cli {
namespace {

struct ProxyFlags {
  std::string listen;
  std::string target;
  std::string socket;
  std::vector<std::string> allow_ids;
  std::vector<std::string> server_ids;  // client mode's --server-id: more allowed IDs
  std::vector<std::string> allow_trust_domains;
  std::vector<std::string> allow_prefixes;
  std::string handshake_timeout = "10s";
  std::string drain_timeout = "5s";
  std::string listen_mode;  // unset: 0600
  int max_connections = 1024;
  int threads = 0;  // PumpLoops; 0: 2 per CPU, 4 to 16
};

absl::StatusOr<absl::Duration> ParseDurationFlag(const char* flag, const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\": want a duration such as 10s or 500ms"));
  }
  return d;
}

int RunProxy(proxy::Mode mode, const ProxyFlags& f) {
  InitLogging({});
  std::vector<std::string> ids = f.allow_ids;
  ids.insert(ids.end(), f.server_ids.begin(), f.server_ids.end());
  absl::StatusOr<proxy::AllowList> allow =
      proxy::AllowList::Create(ids, f.allow_trust_domains, f.allow_prefixes);
  if (!allow.ok()) return Fail(allow.status());
  absl::StatusOr<absl::Duration> handshake =
      ParseDurationFlag("--handshake-timeout", f.handshake_timeout);
  if (!handshake.ok()) return Fail(handshake.status());
  absl::StatusOr<absl::Duration> drain = ParseDurationFlag("--drain-timeout", f.drain_timeout);
  if (!drain.ok()) return Fail(drain.status());
  unsigned listen_mode = 0600;
  if (!f.listen_mode.empty()) {
    if (!absl::StartsWith(f.listen, "unix:")) {
      return Fail(absl::InvalidArgumentError("--listen-mode applies only to a unix: --listen"));
    }
    absl::StatusOr<unsigned> parsed = proxy::ParseSocketMode(f.listen_mode);
    if (!parsed.ok()) return Fail(parsed.status());
    listen_mode = *parsed;
    // Connecting takes write permission. In client mode whoever connects has TLS opened with
    // this workload's SVID: not for every local user.
    if (mode == proxy::Mode::kClient && (listen_mode & 0002) != 0) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--listen-mode ", f.listen_mode,
                       ": in client mode others may not write (connect), or every local user "
                       "could use this workload's identity")));
    }
  }
  if (f.max_connections < 1) {
    return Fail(absl::InvalidArgumentError("--max-connections: at least 1"));
  }
  if (f.threads < 0 || f.threads > 256) {
    return Fail(absl::InvalidArgumentError("--threads: from 1 to 256, or 0 for two per CPU"));
  }
  // Two descriptors per connection: raise the soft limit to the hard one, and say so when even
  // that is short of --max-connections.
  const size_t files = RaiseOpenFileLimit();
  if (files < static_cast<size_t>(f.max_connections) * 2 + 64) {
    LogWarn("proxy: the open-file limit is below what --max-connections needs",
            {{"limit", static_cast<int64_t>(files)}, {"max_connections", f.max_connections}});
  }
  const sigset_t stop_signals = BlockStopSignals();  // before the source starts its thread
  SourceOptions options;
  options.address = f.socket;
  absl::StatusOr<std::shared_ptr<X509Source>> source = X509Source::Create(options);
  if (!source.ok()) return Fail(source.status());
  absl::StatusOr<std::unique_ptr<proxy::Proxy>> p =
      proxy::Proxy::Start({.mode = mode,
                           .listen = f.listen,
                           .listen_mode = listen_mode,
                           .target = f.target,
                           .allow = *allow,
                           .source = *source,
                           .max_connections = f.max_connections,
                           .pump_threads = f.threads,
                           .handshake_timeout = *handshake});
  if (!p.ok()) return Fail(p.status());
  // The address as bound: a TCP port 0 becomes the port picked.
  const std::string address =
      absl::StartsWith(f.listen, "unix:")
          ? f.listen
          : absl::StrCat(f.listen.substr(0, f.listen.rfind(':')), ":", (*p)->port());
  LogInfo("proxy: listening",
          {{"mode", mode == proxy::Mode::kServer ? "server" : "client"},
           {"address", address},
           {"target", f.target},
           {"spiffe_id", (*source)->Svid().ok() ? (*source)->Svid()->spiffe_id : ""},
           {"allow", allow->Describe()}});
  AwaitStopSignal(stop_signals);
  (*p)->Stop(*drain);
  const proxy::ProxyStats stats = (*p)->stats();
  LogInfo("proxy: stopped", {{"accepted", static_cast<int64_t>(stats.accepted)},
                             {"denied", static_cast<int64_t>(stats.denied)},
                             {"failed", static_cast<int64_t>(stats.failed)}});
  return kExitOk;
}

void AddCommonFlags(CLI::App* cmd, ProxyFlags* f) {
  cmd->add_option("--allow-id", f->allow_ids, "A SPIFFE ID the peer may have (repeatable)");
  cmd->add_option("--allow-trust-domain", f->allow_trust_domains,
                  "Admit any SPIFFE ID of this trust domain (repeatable)");
  cmd->add_option("--allow-prefix", f->allow_prefixes,
                  "Admit SPIFFE IDs at or under this ID, e.g. spiffe://example.org/ns/prod "
                  "(repeatable)");
  cmd->add_option("--socket", f->socket,
                  "Workload API address (default: $SPIFFE_ENDPOINT_SOCKET, else "
                  "/run/signet/agent.sock)");
  cmd->add_option("--listen-mode", f->listen_mode,
                  "File mode of a unix: --listen socket, octal (default 0600: only this uid; "
                  "0660 adds this process's group)");
  cmd->add_option("--max-connections", f->max_connections,
                  "Open connections at most; more are closed at once")
      ->default_val(1024);
  cmd->add_option("--threads", f->threads,
                  "Threads that carry the bytes of established connections, each for many "
                  "(0: two per CPU, from 4 to 16; handshakes run on threads of their own)")
      ->default_val(0);
  cmd->add_option("--handshake-timeout", f->handshake_timeout, "How long a TLS handshake may take")
      ->default_val("10s");
  cmd->add_option("--drain-timeout", f->drain_timeout,
                  "On SIGTERM/SIGINT, how long open connections may finish before they are cut")
      ->default_val("5s");
}

}  // namespace

void RegisterProxyCommands(CLI::App& app, int* exit_code) {
  CLI::App* proxy = app.add_subcommand(
      "proxy", "Mutual TLS with SPIFFE identities for software that speaks plain TCP");
  proxy->require_subcommand(1);
  proxy->footer(
      "Nobody is admitted unless named by --allow-id, --allow-trust-domain or --allow-prefix "
      "(client mode: or --server-id). Every connection is logged with the peer's SPIFFE ID.");

  auto server_flags = std::make_shared<ProxyFlags>();
  CLI::App* server = proxy->add_subcommand(
      "server", "Terminate mTLS from allowed SPIFFE peers and forward plaintext to --backend");
  server
      ->add_option("--listen", server_flags->listen,
                   "host:port (or unix:/path: see --listen-mode) to accept mTLS on")
      ->required();
  server
      ->add_option("--backend", server_flags->target,
                   "host:port, or unix:/path, of the plaintext backend")
      ->required();
  AddCommonFlags(server, server_flags.get());
  server->callback([=] { *exit_code = RunProxy(proxy::Mode::kServer, *server_flags); });

  auto client_flags = std::make_shared<ProxyFlags>();
  CLI::App* client = proxy->add_subcommand(
      "client", "Accept plaintext locally and open mTLS to --connect with this workload's SVID");
  client
      ->add_option("--listen", client_flags->listen,
                   "host:port, or unix:/path (see --listen-mode), to accept plaintext on")
      ->required();
  client
      ->add_option("--connect", client_flags->target,
                   "host:port (or unix:/path) of the mTLS server")
      ->required();
  client->add_option("--server-id", client_flags->server_ids,
                     "The SPIFFE ID the server must have (same as --allow-id)");
  AddCommonFlags(client, client_flags.get());
  client->callback([=] { *exit_code = RunProxy(proxy::Mode::kClient, *client_flags); });
}

}  // namespace signet::cli
