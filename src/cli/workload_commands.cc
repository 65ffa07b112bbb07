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
#include "src/common/file_util.h"
#include "src/common/status_macros.h"
#include "src/crypto/certificate.h"
#include "src/crypto/key.h"
#include "workload.grpc.pb.h"

namespace signet::cli {
namespace {

constexpr char kDefaultSocket[] = "/run/signet/agent.sock";

struct WorkloadFlags {
  std::string socket;
  int timeout_s = 10;
  OutputFormat output = OutputFormat::kText;
  std::string write_dir;
  std::vector<std::string> audience;
  std::string spiffe_id;
  std::string token;
};

// The gRPC target for a Workload API address (spiffe-conformance.md §6.1): unix:///abs/path or
// tcp://IP:port; a bare absolute path is taken as a Unix socket.
absl::StatusOr<std::string> Target(const std::string& flag) {
  std::string address = flag;
  if (address.empty()) {
    const char* env = std::getenv("SPIFFE_ENDPOINT_SOCKET");
    address = env != nullptr && *env != '\0' ? env : kDefaultSocket;
  }
  absl::string_view rest = address;
  if (absl::ConsumePrefix(&rest, "unix://")) {
    if (!absl::StartsWith(rest, "/")) {
      return absl::InvalidArgumentError(
          absl::StrCat("workload endpoint \"", address, "\": unix:// needs an absolute path"));
    }
    return absl::StrCat("unix:", rest);
  }
  if (absl::ConsumePrefix(&rest, "tcp://")) {
    if (rest.empty() || rest.find_first_of("/?#@") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("workload endpoint \"", address, "\": tcp:// takes IP:port only"));
    }
    return std::string(rest);
  }
  if (absl::StartsWith(address, "/")) return absl::StrCat("unix:", address);
  return absl::InvalidArgumentError(absl::StrCat(
      "workload endpoint \"", address, "\": use unix:///path, tcp://IP:port or an absolute path"));
}

std::unique_ptr<grpc::ClientContext> Context(const WorkloadFlags& f, bool stream) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("workload.spiffe.io", "true");
  if (!stream) ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(f.timeout_s)));
  return ctx;
}

absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> Stub(const WorkloadFlags& f) {
  SIGNET_ASSIGN_OR_RETURN(std::string target, Target(f.socket));
  return SpiffeWorkloadAPI::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
}

absl::Status FromGrpc(const grpc::Status& s) {
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  return absl::Status(code, absl::StrCat("workload api: ", absl::StatusCodeToString(code), ": ",
                                         s.error_message()));
}

absl::StatusOr<std::string> DerToPem(absl::string_view der) {
  SIGNET_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain, crypto::ParseDerChain(der));
  return crypto::ChainToPem(chain);
}

// The first message of FetchX509SVID, within the timeout.
absl::StatusOr<X509SVIDResponse> FirstX509(const WorkloadFlags& f) {
  SIGNET_ASSIGN_OR_RETURN(auto stub, Stub(f));
  auto ctx = Context(f, /*stream=*/false);
  auto reader = stub->FetchX509SVID(ctx.get(), X509SVIDRequest());
  X509SVIDResponse resp;
  if (reader->Read(&resp)) {
    ctx->TryCancel();
    return resp;
  }
  SIGNET_RETURN_IF_ERROR(FromGrpc(reader->Finish()));
  return absl::UnavailableError("workload api: the stream ended without a message");
}

absl::Status WriteX509(const X509SVIDResponse& resp, const std::string& dir) {
  const X509SVID& svid = resp.svids(0);
  SIGNET_ASSIGN_OR_RETURN(std::string chain, DerToPem(svid.x509_svid()));
  SIGNET_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                          crypto::PrivateKey::FromPkcs8Der(svid.x509_svid_key()));
  SIGNET_ASSIGN_OR_RETURN(std::string key_pem, key.ToPkcs8Pem());
  SIGNET_ASSIGN_OR_RETURN(std::string bundle, DerToPem(svid.bundle()));
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir));
  }
  // The key first: svid.pem never names a key that is not there yet.
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/svid.key", key_pem, 0600));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/svid.pem", chain, 0644));
  SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/bundle.pem", bundle, 0644));
  for (const auto& [td, der] : resp.federated_bundles()) {
    SIGNET_ASSIGN_OR_RETURN(std::string pem, DerToPem(der));
    std::string name(absl::StripPrefix(td, "spiffe://"));
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (mkdir((dir + "/federated").c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat("cannot create ", dir, "/federated"));
    }
    SIGNET_RETURN_IF_ERROR(WriteFileAtomic(dir + "/federated/" + name + ".pem", pem, 0644));
  }
  return absl::OkStatus();
}

int FetchX509(const WorkloadFlags& f) {
  absl::StatusOr<X509SVIDResponse> resp = FirstX509(f);
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
    absl::Status written = WriteX509(*resp, f.write_dir);
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
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = Stub(f);
  if (!stub.ok()) return Fail(stub.status());
  JWTSVIDRequest req;
  for (const std::string& a : f.audience) req.add_audience(a);
  req.set_spiffe_id(f.spiffe_id);
  JWTSVIDResponse resp;
  absl::Status status = FromGrpc((*stub)->FetchJWTSVID(Context(f, false).get(), req, &resp));
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
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = Stub(f);
  if (!stub.ok()) return Fail(stub.status());
  auto ctx = Context(f, /*stream=*/false);
  auto reader = (*stub)->FetchJWTBundles(ctx.get(), JWTBundlesRequest());
  JWTBundlesResponse resp;
  if (!reader->Read(&resp)) return Fail(FromGrpc(reader->Finish()));
  ctx->TryCancel();
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [td, jwks] : resp.bundles()) {
    out[td] = nlohmann::json::parse(jwks, nullptr, false);
  }
  PrintJson(out);
  return kExitOk;
}

int ValidateJwt(const WorkloadFlags& f) {
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = Stub(f);
  if (!stub.ok()) return Fail(stub.status());
  std::string token = f.token;
  if (token == "-") std::getline(std::cin, token);
  ValidateJWTSVIDRequest req;
  req.set_audience(f.audience.empty() ? "" : f.audience.front());
  req.set_svid(std::string(absl::StripAsciiWhitespace(token)));
  ValidateJWTSVIDResponse resp;
  absl::Status status = FromGrpc((*stub)->ValidateJWTSVID(Context(f, false).get(), req, &resp));
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
  absl::StatusOr<std::unique_ptr<SpiffeWorkloadAPI::Stub>> stub = Stub(f);
  if (!stub.ok()) return Fail(stub.status());
  auto ctx = Context(f, /*stream=*/true);
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
      absl::Status written = WriteX509(resp, f.write_dir);
      if (!written.ok()) return Fail(written);
    }
  }
  return Fail(FromGrpc(reader->Finish()));
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
