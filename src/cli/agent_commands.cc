// signet agent list|show|evict|ban, signet token generate, signet bundle show|set|list|delete
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/cli/admin_client.h"
#include "src/cli/admin_commands.h"
#include "src/cli/admin_print.h"
#include "src/common/file_util.h"
#include "src/crypto/certificate.h"
#include "src/spiffe/bundle.h"

namespace signet::cli {
namespace {

namespace pb = ::signet::admin::v1;

struct AgentFlags {
  AdminFlags admin;
  std::string spiffe_id;
  std::string ttl;
  std::string trust_domain;
  std::string path;
  std::string format = "pem";
};

int AgentList(const AgentFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Agents::NewStub(client.channel());
  pb::ListAgentsRequest req;
  req.set_page_size(1000);
  nlohmann::json agents = nlohmann::json::array();
  size_t count = 0;
  do {
    pb::ListAgentsResponse resp;
    grpc::Status status = stub->ListAgents(client.Context().get(), req, &resp);
    if (!status.ok()) return FailRpc(status, "agent list", f.admin);
    for (const pb::Agent& a : resp.agents()) {
      ++count;
      if (client.json()) {
        agents.push_back(nlohmann::json::parse(ProtoToJson(a)));
      } else {
        PrintAgentText(a);
      }
    }
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  if (client.json()) {
    PrintJson({{"agents", agents}});
  } else if (count == 0) {
    std::cout << "No attested agents found\n";
  }
  return kExitOk;
}

using AgentRpc = grpc::Status (pb::Agents::Stub::*)(grpc::ClientContext*, const pb::AgentRequest&,
                                                    pb::Agent*);

int AgentCall(const AgentFlags& f, AgentRpc rpc, const char* what, const char* done) {
  AdminClient client(f.admin);
  auto stub = pb::Agents::NewStub(client.channel());
  pb::AgentRequest req;
  req.set_spiffe_id(f.spiffe_id);
  pb::Agent agent;
  grpc::Status status = ((*stub).*rpc)(client.Context().get(), req, &agent);
  if (!status.ok()) return FailRpc(status, what, f.admin);
  if (client.json()) {
    PrintProtoJson(agent);
  } else if (done != nullptr) {
    std::cout << done << " " << agent.spiffe_id() << "\n";
  } else {
    PrintAgentText(agent);
  }
  return kExitOk;
}

int TokenGenerate(const AgentFlags& f) {
  pb::CreateJoinTokenRequest req;
  if (!f.ttl.empty()) {
    auto ttl = ParseTtlFlag("--ttl", f.ttl);
    if (!ttl.ok()) return Fail(ttl.status());
    req.set_ttl(*ttl);
  }
  req.set_spiffe_id(f.spiffe_id);
  AdminClient client(f.admin);
  auto stub = pb::Agents::NewStub(client.channel());
  pb::JoinToken token;
  grpc::Status status = stub->CreateJoinToken(client.Context().get(), req, &token);
  if (!status.ok()) return FailRpc(status, "token generate", f.admin);
  if (client.json()) {
    PrintProtoJson(token);
  } else {
    std::cout << "Token: " << token.token() << "\n"
              << "Expires at: " << UnixToText(token.expires_at()) << "\n";
    if (!token.spiffe_id().empty()) std::cout << "Agent ID: " << token.spiffe_id() << "\n";
  }
  return kExitOk;
}

void PrintBundle(const pb::Bundle& b, const AgentFlags& f, bool json_output) {
  if (json_output) {
    PrintProtoJson(b);
  } else if (f.format == "spiffe") {
    std::cout << b.spiffe_json() << "\n";
  } else {
    for (const std::string& der : b.x509_authorities()) {
      auto cert = crypto::Certificate::FromDer(der);
      absl::StatusOr<std::string> pem = cert.ok() ? cert->ToPem() : cert.status();
      if (pem.ok()) std::cout << *pem;
    }
  }
}

int BundleShow(const AgentFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Bundles::NewStub(client.channel());
  pb::Bundle bundle;
  grpc::Status status = stub->GetBundle(client.Context().get(), pb::GetBundleRequest(), &bundle);
  if (!status.ok()) return FailRpc(status, "bundle show", f.admin);
  PrintBundle(bundle, f, client.json());
  return kExitOk;
}

int BundleSet(const AgentFlags& f) {
  pb::SetFederatedBundleRequest req;
  req.set_trust_domain(f.trust_domain);
  std::string text;
  if (f.path.empty() || f.path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto read = ReadFile(f.path, 4 << 20);
    if (!read.ok()) return Fail(read.status());
    text = *std::move(read);
  }
  req.set_bundle(text);
  AdminClient client(f.admin);
  auto stub = pb::Bundles::NewStub(client.channel());
  pb::Bundle bundle;
  grpc::Status status = stub->SetFederatedBundle(client.Context().get(), req, &bundle);
  if (!status.ok()) return FailRpc(status, "bundle set", f.admin);
  if (client.json()) {
    PrintProtoJson(bundle);
  } else {
    std::cout << "Bundle set for " << bundle.trust_domain() << " ("
              << bundle.x509_authorities_size() << " X.509 authorities)\n";
  }
  return kExitOk;
}

int BundleList(const AgentFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Bundles::NewStub(client.channel());
  pb::ListFederatedBundlesResponse resp;
  grpc::Status status =
      stub->ListFederatedBundles(client.Context().get(), pb::ListFederatedBundlesRequest(), &resp);
  if (!status.ok()) return FailRpc(status, "bundle list", f.admin);
  if (client.json()) {
    PrintProtoJson(resp);
    return kExitOk;
  }
  if (resp.bundles_size() == 0) std::cout << "No federated bundles\n";
  for (const pb::Bundle& b : resp.bundles()) {
    std::cout << "****************************************\n* " << b.trust_domain()
              << "\n****************************************\n";
    PrintBundle(b, f, false);
  }
  return kExitOk;
}

int BundleDelete(const AgentFlags& f) {
  AdminClient client(f.admin);
  auto stub = pb::Bundles::NewStub(client.channel());
  pb::DeleteFederatedBundleRequest req;
  req.set_trust_domain(f.trust_domain);
  pb::DeleteFederatedBundleResponse resp;
  grpc::Status status = stub->DeleteFederatedBundle(client.Context().get(), req, &resp);
  if (!status.ok()) return FailRpc(status, "bundle delete", f.admin);
  if (client.json()) {
    PrintJson({{"deleted", f.trust_domain}});
  } else {
    std::cout << "Bundle deleted for " << f.trust_domain << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterAgentCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* agent =
      app.add_subcommand("agent", "Run this node's agent, or manage attested agents (admin)");
  agent->require_subcommand(1);
  RegisterAgentRunCommands(agent, exit_code);
  CLI::App* list = agent->add_subcommand("list", "List attested agents");
  AddAdminFlags(list, &f->admin);
  list->callback([=] { *exit_code = AgentList(*f); });
  struct Action {
    const char* name;
    const char* help;
    AgentRpc rpc;
    const char* done;
  };
  for (const Action& a : {Action{"show", "Show one agent", &pb::Agents::Stub::GetAgent, nullptr},
                          Action{"evict", "Delete an agent's record; it must re-attest",
                                 &pb::Agents::Stub::EvictAgent, "Agent evicted:"},
                          Action{"ban", "Ban an agent: nothing more is signed for it",
                                 &pb::Agents::Stub::BanAgent, "Agent banned:"}}) {
    CLI::App* cmd = agent->add_subcommand(a.name, a.help);
    AddAdminFlags(cmd, &f->admin);
    cmd->add_option("--spiffe-id", f->spiffe_id, "The agent's SPIFFE ID")->required();
    std::string what = absl::StrCat("agent ", a.name);
    cmd->callback([=] { *exit_code = AgentCall(*f, a.rpc, what.c_str(), a.done); });
  }

  CLI::App* token = app.add_subcommand("token", "Manage join tokens");
  token->require_subcommand(1);
  CLI::App* generate = token->add_subcommand("generate", "Create a single-use join token");
  AddAdminFlags(generate, &f->admin);
  generate->add_option("--spiffe-id", f->spiffe_id, "The agent ID to assign (optional)");
  generate->add_option("--ttl", f->ttl, "Token lifetime, e.g. 600 or 10m (default 10m)");
  generate->callback([=] { *exit_code = TokenGenerate(*f); });
}

void RegisterBundleAdminCommands(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* bundle = app.get_subcommand("bundle");
  CLI::App* show = bundle->add_subcommand("show", "Show the server's own trust bundle");
  AddAdminFlags(show, &f->admin);
  show->add_option("--format", f->format, "pem or spiffe")->check(CLI::IsMember({"pem", "spiffe"}));
  show->callback([=] { *exit_code = BundleShow(*f); });

  CLI::App* set = bundle->add_subcommand("set", "Set a federated trust domain's bundle");
  AddAdminFlags(set, &f->admin);
  set->add_option("--trust-domain", f->trust_domain, "The federated trust domain")->required();
  set->add_option("--path", f->path, "Bundle file (SPIFFE JSON or PEM); default stdin");
  set->callback([=] { *exit_code = BundleSet(*f); });

  CLI::App* list = bundle->add_subcommand("list", "List federated bundles");
  AddAdminFlags(list, &f->admin);
  list->add_option("--format", f->format, "pem or spiffe")->check(CLI::IsMember({"pem", "spiffe"}));
  list->callback([=] { *exit_code = BundleList(*f); });

  CLI::App* del = bundle->add_subcommand("delete", "Delete a federated bundle");
  AddAdminFlags(del, &f->admin);
  del->add_option("--trust-domain", f->trust_domain, "The federated trust domain")->required();
  del->callback([=] { *exit_code = BundleDelete(*f); });
}

}  // namespace signet::cli
