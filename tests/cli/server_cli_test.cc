// `signet server run|validate` and the admin commands, end to end: the real binary as the server
// (a child process) and as the client, checked against the openssl CLI where it fits.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::TempDir;
using ::signet::testing::WaitFor;
using ::signet::testing::WriteTestFile;
using ::testing::HasSubstr;

class ServerCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Other users must reach the socket to be refused by uid rather than by file permissions.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    socket_ = dir_.File("admin.sock");
    config_ = dir_.File("server.yaml");
    WriteTestFile(config_, absl::StrCat("trust_domain: example.org\n", "data_dir: ",
                                        dir_.File("data"), "\n", "admin_socket: ", socket_, "\n",
                                        "bind_address: 127.0.0.1:0\n", "log:\n  format: json\n"));
  }

  void StartServer() {
    server_ = std::make_unique<Subprocess>(
        std::vector<std::string>{SIGNET_BINARY, "server", "run", "-c", config_},
        dir_.File("server.log"));
    ASSERT_TRUE(WaitFor([&] { return Admin("healthcheck") == 0; }))
        << "server did not become healthy:\n"
        << server_->Log();
  }

  void StopServer() {
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->Wait(), 0) << server_->Log();
  }

  // Runs `signet <args> --socket <socket>`.
  int Admin(const std::string& args, std::string* out = nullptr) {
    return RunCommand(absl::StrCat(SIGNET_BINARY, " ", args, " --socket ", socket_, " 2>&1"), out);
  }

  nlohmann::json AdminJson(const std::string& args) {
    std::string out;
    int rc = Admin(args + " --output json", &out);
    EXPECT_EQ(rc, 0) << args << ": " << out;
    return rc == 0 ? nlohmann::json::parse(out) : nlohmann::json();
  }

  TempDir dir_;
  std::string socket_;
  std::string config_;
  std::unique_ptr<Subprocess> server_;
};

TEST_F(ServerCliTest, ValidateReportsEveryProblemWithLineNumbers) {
  std::string bad = dir_.File("bad.yaml");
  WriteTestFile(bad,
                "trust_domain: Example.ORG\ndata_dir: /x\nbogus_key: 1\nlog:\n  level: loud\n");
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " server validate -c ", bad, " 2>&1"), &out), 1);
  EXPECT_THAT(out, HasSubstr(bad + ":1: trust_domain"));
  EXPECT_THAT(out, HasSubstr(bad + ":3: bogus_key"));
  EXPECT_THAT(out, HasSubstr(bad + ":5: log.level"));
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " server validate -c ", config_), &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("configuration is valid"));
}

TEST_F(ServerCliTest, ValidateChecksEachNodeAttestorsOwnKeysWithoutTheNetwork) {
  std::string bad = dir_.File("plugins.yaml");
  WriteTestFile(bad, absl::StrCat("trust_domain: example.org\ndata_dir: ", dir_.File("d"),
                                  "\nnode_attestors:\n  x509pop:\n    ca_bundle_path: ",
                                  dir_.File("missing.pem"),
                                  "\n  jwt:\n    issuer: https://ci.example.com\n"
                                  "    audience: signet\n"
                                  // Never fetched by validate: nothing listens on port 1.
                                  "    jwks_url: https://127.0.0.1:1/jwks\n"
                                  "    agent_path_template: ci/{repository\n"
                                  "    colour: red\n"));
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " server validate -c ", bad, " 2>&1"), &out), 1);
  EXPECT_THAT(out, HasSubstr(bad + ":5: node_attestors.x509pop.ca_bundle_path: cannot read"));
  EXPECT_THAT(out, HasSubstr(bad + ":10: node_attestors.jwt.agent_path_template: an unclosed"));
  EXPECT_THAT(out, HasSubstr(bad + ":11: node_attestors.jwt.colour: unknown key"));
  EXPECT_THAT(out, HasSubstr("3 problems"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("127.0.0.1:1/jwks:")));
}

TEST_F(ServerCliTest, RunServesAdminCommandsAndStopsGracefullyOnSigterm) {
  StartServer();
  nlohmann::json created = AdminJson(
      "entry create --spiffe-id spiffe://example.org/web "
      "--parent-id spiffe://example.org/signet/agent/join_token/t1 "
      "--selector unix:uid:1000 --selector unix:gid:1000 --x509-svid-ttl 10m --dns "
      "web.example.org");
  ASSERT_EQ(created["results"].size(), 1u);
  EXPECT_EQ(created["results"][0]["status"]["code"], 0);
  std::string id = created["results"][0]["entry"]["id"];

  nlohmann::json shown = AdminJson("entry show --spiffe-id spiffe://example.org/web");
  ASSERT_EQ(shown["entries"].size(), 1u);
  EXPECT_EQ(shown["entries"][0]["id"], id);
  EXPECT_EQ(shown["entries"][0]["x509_svid_ttl"], 600);
  EXPECT_EQ(AdminJson("entry count")["count"], 1);

  std::string out;
  EXPECT_EQ(Admin("entry create --spiffe-id spiffe://example.org/x --parent-id "
                  "spiffe://example.org/p --selector nocolon",
                  &out),
            1);
  EXPECT_THAT(out, HasSubstr("--selector"));
  EXPECT_EQ(Admin("entry create --spiffe-id spiffe://example.org/x --parent-id "
                  "spiffe://example.org/p --selector madeup:1",
                  &out),
            1);
  EXPECT_THAT(out, HasSubstr("unknown selector type \"madeup\""));
  EXPECT_EQ(Admin("entry delete", &out), 2) << "missing required flag is a usage error";

  nlohmann::json token = AdminJson("token generate --ttl 5m");
  EXPECT_EQ(token["token"].get<std::string>().size(), 32u);

  // An X509-SVID minted by the CLI verifies with the openssl CLI against the written bundle.
  std::string svid_dir = dir_.File("svid");
  ASSERT_EQ(
      Admin("x509 mint --spiffe-id spiffe://example.org/op --ttl 1h --write " + svid_dir, &out), 0)
      << out;
  struct stat st {};
  ASSERT_EQ(stat((svid_dir + "/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(RunCommand(absl::StrCat("openssl verify -x509_strict -CAfile ", svid_dir,
                                    "/bundle.pem ", svid_dir, "/svid.pem"),
                       &out),
            0)
      << out;

  nlohmann::json jwt = AdminJson("jwt mint --spiffe-id spiffe://example.org/op --audience db");
  std::string token_text = jwt["token"].get<std::string>();
  EXPECT_EQ(std::count(token_text.begin(), token_text.end(), '.'), 2);
  nlohmann::json authorities = AdminJson("authority x509 show");
  ASSERT_EQ(authorities["authorities"].size(), 1u);
  EXPECT_EQ(authorities["authorities"][0]["state"], "active");

  nlohmann::json audit = AdminJson("audit list");
  std::set<std::string> actions;
  for (const auto& e : audit["events"]) actions.insert(e["action"].get<std::string>());
  EXPECT_TRUE(actions.count("entry.create") && actions.count("x509.mint") &&
              actions.count("jwt.mint") && actions.count("token.create"));

  StopServer();
  EXPECT_THAT(server_->Log(), HasSubstr("server stopped"));
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "the socket file is removed on shutdown";
}

TEST_F(ServerCliTest, RestartKeepsEntriesCaAndBundle) {
  StartServer();
  std::string bundle_before;
  ASSERT_EQ(Admin("bundle show --format spiffe", &bundle_before), 0) << bundle_before;
  AdminJson(
      "entry create --spiffe-id spiffe://example.org/a --parent-id "
      "spiffe://example.org/p --selector unix:uid:1");
  StopServer();
  StartServer();
  std::string bundle_after;
  ASSERT_EQ(Admin("bundle show --format spiffe", &bundle_after), 0);
  EXPECT_EQ(bundle_after, bundle_before);
  EXPECT_EQ(AdminJson("entry count")["count"], 1);
  StopServer();
}

TEST_F(ServerCliTest, NonAdminUidIsDeniedOnTheAdminSocket) {
  StartServer();
  std::string out;
  int rc = RunCommand(absl::StrCat("setpriv --reuid=65534 --regid=65534 --clear-groups ",
                                   SIGNET_BINARY, " entry count --socket ", socket_, " 2>&1"),
                      &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("not allowed on the admin socket"));
  // The denied call changed nothing and root still works.
  EXPECT_EQ(AdminJson("entry count")["count"], 0);
  StopServer();
}

TEST_F(ServerCliTest, AdminUidsGrantAccess) {
  WriteTestFile(config_, absl::StrCat("trust_domain: example.org\n", "data_dir: ",
                                      dir_.File("data"), "\n", "admin_socket: ", socket_, "\n",
                                      "bind_address: 127.0.0.1:0\n", "admin_uids: [65534]\n"));
  StartServer();
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat("setpriv --reuid=65534 --regid=65534 --clear-groups ",
                                    SIGNET_BINARY, " entry count --socket ", socket_, " 2>&1"),
                       &out),
            0)
      << out;
  StopServer();
}

TEST_F(ServerCliTest, AdminCommandWithoutServerExplainsWhatToDo) {
  std::string out;
  EXPECT_EQ(Admin("entry count", &out), 1);
  EXPECT_THAT(out, HasSubstr("cannot reach the server on " + socket_));
}

TEST_F(ServerCliTest, BatchFileBundlesAgentsAuthoritiesAndAuditFilters) {
  StartServer();
  std::string data = dir_.File("entries.json");
  WriteTestFile(data, R"({"entries": [
    {"spiffe_id": "spiffe://example.org/a", "parent_id": "spiffe://example.org/p",
     "selectors": [{"type": "unix", "value": "uid:1"}]},
    {"spiffe_id": "spiffe://example.org/b", "parent_id": "spiffe://example.org/p",
     "selectors": [{"type": "unix", "value": "uid:2"}], "x509_svid_ttl": 3600},
    {"spiffe_id": "spiffe://other.org/c", "parent_id": "spiffe://example.org/p",
     "selectors": [{"type": "unix", "value": "uid:3"}]}]})");
  std::string out;
  // One item fails (foreign trust domain): exit 1, the other two are created.
  EXPECT_EQ(Admin("entry create --data " + data + " --output json", &out), 1);
  nlohmann::json results = nlohmann::json::parse(out)["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["status"]["code"], 0);
  EXPECT_EQ(results[2]["status"]["code"], 3);  // INVALID_ARGUMENT
  EXPECT_EQ(AdminJson("entry count --parent-id spiffe://example.org/p")["count"], 2);
  WriteTestFile(data, "{\"entries\": [ {\"spiffe_id\": ");
  EXPECT_EQ(Admin("entry create --data " + data, &out), 1);
  EXPECT_THAT(out, HasSubstr("--data"));

  // Federated bundles: set from a PEM file, list, delete.
  signet::testing::TestCa other("other.org");
  std::string pem = dir_.File("other.pem");
  WriteTestFile(pem, *other.root().ToPem());
  EXPECT_EQ(Admin("bundle set --trust-domain other.org --path " + pem, &out), 0) << out;
  nlohmann::json listed = AdminJson("bundle list");
  ASSERT_EQ(listed["bundles"].size(), 1u);
  EXPECT_EQ(listed["bundles"][0]["trust_domain"], "other.org");
  EXPECT_EQ(Admin("bundle set --trust-domain example.org --path " + pem, &out), 1);
  EXPECT_THAT(out, HasSubstr("own trust domain"));
  EXPECT_EQ(Admin("bundle delete --trust-domain other.org", &out), 0) << out;
  EXPECT_EQ(Admin("bundle delete --trust-domain other.org", &out), 1);

  // Agents: none attested yet; unknown agent is NotFound.
  EXPECT_EQ(AdminJson("agent list")["agents"].size(), 0u);
  EXPECT_EQ(Admin("agent ban --spiffe-id spiffe://example.org/signet/agent/x", &out), 1);
  EXPECT_THAT(out, HasSubstr("agent ban"));

  // Forced JWT key rotation through the CLI: prepare, activate; the bundle gains the new key.
  nlohmann::json prepared = AdminJson("authority jwt prepare");
  EXPECT_EQ(prepared["authorities"].size(), 2u);
  nlohmann::json activated = AdminJson("authority jwt activate");
  std::set<std::string> states;
  for (const auto& a : activated["authorities"]) states.insert(a["state"].get<std::string>());
  EXPECT_EQ(states, (std::set<std::string>{"active", "old"}));
  EXPECT_EQ(Admin("authority jwt activate", &out), 1) << "nothing prepared any more";

  // Audit filters: --spiffe-id matches the target; --since in the future matches nothing.
  nlohmann::json by_id = AdminJson("audit list --spiffe-id spiffe://example.org/a");
  for (const auto& e : by_id["events"]) EXPECT_EQ(e["target"], "spiffe://example.org/a");
  EXPECT_EQ(AdminJson("audit list --since 2099-01-01T00:00:00Z")["events"].size(), 0u);
  EXPECT_EQ(Admin("audit list --since yesterday", &out), 1);
  EXPECT_THAT(out, HasSubstr("RFC 3339"));
  StopServer();
}

}  // namespace
}  // namespace signet
