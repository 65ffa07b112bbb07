// signet fetch x509|jwt|jwt-bundle, signet validate jwt, signet watch: a plain SPIFFE Workload
// API client. The endpoint is --socket, else $SPIFFE_ENDPOINT_SOCKET, else the agent's default.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "src/cli/core_commands.h"
#include "src/cli/output.h"
#include "src/cli/workload_client.h"
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "workload.grpc.pb.h"

namespace signet::cli {
namespace {

struct WorkloadFlags {
  std::string socket;
  int timeout_s = 10;
  OutputFormat output = OutputFormat::kText;
  std::string write_dir;
  std::vector<std::string> audience;
  std::string spiffe_id;
  std::string token;
};

int FetchX509(const WorkloadFlags& f) {
  absl::StatusOr<X509SVIDResponse> resp = FirstX509(f.socket, absl::Seconds(f.timeout_s));
  if (!resp.ok()) return Fail(resp.status());
  nlohmann::json out = nlohmann::json::array();
  for (const X509SVID& svid : resp->svids()) {
    absl::StatusOr<std::vector<crypto::Certificate>> chain =
        crypto::ParseDerChain(svid.x509_svid());
    out.push_back({{"spiffe_id", svid.spiffe_id()},
                   {"hint", svid.hint()},
                   {"expires_at", chain.ok() ? FormatRfc3339(chain->front().NotAfter()) : ""}});
  }
  if (!f.write_dir.empty()) {
    absl::Status written = WriteX509Files(*resp, f.write_dir);
    if (!written.ok()) return Fail(written);
  }
  if (f.output == OutputFormat::kJson) {
    PrintJson({{"svids", out}, {"written_to", f.write_dir}});
  } else {
    for (const auto& s : out) {
      std::cout << "spiffe id:   " << s["spiffe_id"].get<std::string>() << "\n"
                << "expires at:  " << s["expires_at"].get<std::string>() << "\n";
    }
    if (!f.write_dir.empty()) {
      std::cout << "written:     " << f.write_dir << "/svid.pem, svid.key (0600), bundle.pem\n";
    }
  }
  return kExitOk;
}

int FetchJwt(const WorkloadFlags& f) {
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = WorkloadStub(f.socket);
  if (!stub.ok()) return Fail(stub.status());
  JWTSVIDRequest req;
  for (const std::string& a : f.audience) req.add_audience(a);
  req.set_spiffe_id(f.spiffe_id);
  JWTSVIDResponse resp;
  absl::Status status = FromWorkloadGrpc(
      (*stub)->FetchJWTSVID(WorkloadContext(absl::Seconds(f.timeout_s)).get(), req, &resp));
  if (!status.ok()) return Fail(status);
  if (f.output == OutputFormat::kJson) {
    nlohmann::json out = nlohmann::json::array();
    for (const JWTSVID& s : resp.svids()) {
      out.push_back({{"spiffe_id", s.spiffe_id()}, {"token", s.svid()}, {"hint", s.hint()}});
    }
    PrintJson({{"svids", out}});
  } else {
    for (const JWTSVID& s : resp.svids()) std::cout << s.svid() << "\n";
  }
  return kExitOk;
}

int FetchJwtBundle(const WorkloadFlags& f) {
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = WorkloadStub(f.socket);
  if (!stub.ok()) return Fail(stub.status());
  auto ctx = WorkloadContext(absl::Seconds(f.timeout_s));
  auto reader = (*stub)->FetchJWTBundles(ctx.get(), JWTBundlesRequest());
  JWTBundlesResponse resp;
  if (!reader->Read(&resp)) return Fail(FromWorkloadGrpc(reader->Finish()));
  ctx->TryCancel();
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [td, jwks] : resp.bundles()) {
    out[td] = nlohmann::json::parse(jwks, nullptr, false);
  }
  PrintJson(out);
  return kExitOk;
}

int ValidateJwt(const WorkloadFlags& f) {
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = WorkloadStub(f.socket);
  if (!stub.ok()) return Fail(stub.status());
  std::string token = f.token;
  if (token == "-") std::getline(std::cin, token);
  ValidateJWTSVIDRequest req;
  req.set_audience(f.audience.empty() ? "" : f.audience.front());
  req.set_svid(std::string(absl::StripAsciiWhitespace(token)));
  ValidateJWTSVIDResponse resp;
  absl::Status status = FromWorkloadGrpc(
      (*stub)->ValidateJWTSVID(WorkloadContext(absl::Seconds(f.timeout_s)).get(), req, &resp));
  if (!status.ok()) return Fail(status);
  std::string claims;
  (void)google::protobuf::util::MessageToJsonString(resp.claims(), &claims);
  if (f.output == OutputFormat::kJson) {
    PrintJson({{"spiffe_id", resp.spiffe_id()},
               {"claims", nlohmann::json::parse(claims, nullptr, false)}});
  } else {
    std::cout << "valid:       yes\nspiffe id:   " << resp.spiffe_id()
              << "\nclaims:      " << claims << "\n";
  }
  return kExitOk;
}

int Watch(const WorkloadFlags& f) {
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = WorkloadStub(f.socket);
  if (!stub.ok()) return Fail(stub.status());
  auto ctx = WorkloadContext(absl::InfiniteDuration());
  auto reader = (*stub)->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse resp;
  while (reader->Read(&resp)) {
    for (const X509SVID& svid : resp.svids()) {
      absl::StatusOr<std::vector<crypto::Certificate>> chain =
          crypto::ParseDerChain(svid.x509_svid());
      std::cout << FormatRfc3339(absl::Now()) << " " << svid.spiffe_id() << " expires "
                << (chain.ok() ? FormatRfc3339(chain->front().NotAfter()) : "?") << "\n";
    }
    std::cout.flush();
    if (!f.write_dir.empty()) {
      absl::Status written = WriteX509Files(resp, f.write_dir);
      if (!written.ok()) return Fail(written);
    }
  }
  return Fail(FromWorkloadGrpc(reader->Finish()));
}

void AddSocketFlags(CLI::App* cmd, WorkloadFlags* f) {
  cmd->add_option("--socket", f->socket,
                  "Workload API endpoint: unix:///path, tcp://IP:port or a socket path "
                  "(default: $SPIFFE_ENDPOINT_SOCKET, else /run/signet/agent.sock)");
  cmd->add_option("--timeout", f->timeout_s, "Seconds to wait for the agent")
      ->check(CLI::Range(1, 3600));
}

}  // namespace

void RegisterWorkloadCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<WorkloadFlags>();
  CLI::App* fetch = app.add_subcommand("fetch", "Fetch this process's SVIDs from the local agent");
  fetch->require_subcommand(1);

  CLI::App* x509 = fetch->add_subcommand("x509", "Fetch X509-SVIDs (and write them with --write)");
  AddSocketFlags(x509, f.get());
  AddOutputFlag(x509, &f->output);
  x509->add_option("--write", f->write_dir,
                   "Write svid.pem, svid.key (0600), bundle.pem and federated/<td>.pem here");
  x509->callback([=] { *exit_code = FetchX509(*f); });

  CLI::App* jwt = fetch->add_subcommand("jwt", "Fetch JWT-SVIDs for an audience");
  AddSocketFlags(jwt, f.get());
  AddOutputFlag(jwt, &f->output);
  jwt->add_option("--audience", f->audience, "Audience (repeatable)")->required();
  jwt->add_option("--spiffe-id", f->spiffe_id, "Only this identity");
  jwt->callback([=] { *exit_code = FetchJwt(*f); });

  CLI::App* jwt_bundle = fetch->add_subcommand("jwt-bundle", "Print the JWT bundles (JWKS)");
  AddSocketFlags(jwt_bundle, f.get());
  jwt_bundle->callback([=] { *exit_code = FetchJwtBundle(*f); });

  CLI::App* validate = app.add_subcommand("validate", "Validate a token through the local agent");
  validate->require_subcommand(1);
  CLI::App* vjwt = validate->add_subcommand("jwt", "Validate a JWT-SVID (ValidateJWTSVID)");
  AddSocketFlags(vjwt, f.get());
  AddOutputFlag(vjwt, &f->output);
  vjwt->add_option("--audience", f->audience, "The audience the token must carry")
      ->required()
      ->expected(1);
  vjwt->add_option("--token", f->token, "The token, or - to read it from stdin")->required();
  vjwt->callback([=] { *exit_code = ValidateJwt(*f); });

  CLI::App* watch = app.add_subcommand(
      "watch", "Print every X509-SVID update until interrupted (and write it with --write)");
  AddSocketFlags(watch, f.get());
  watch->add_option("--write", f->write_dir, "Write each update as fetch x509 --write does");
  watch->callback([=] { *exit_code = Watch(*f); });
}

}  // namespace signet::cli
