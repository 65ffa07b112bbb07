// `signet dev`: a server and an agent in one process, driven with the real admin and workload
// commands against the sockets it prints.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/common/file_util.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::TempDir;
using ::signet::testing::WaitFor;
using ::testing::HasSubstr;

class DevCliTest : public ::testing::Test {
 protected:
  // Starts `signet dev` on the data dir and waits for its JSON line.
  nlohmann::json Start(std::unique_ptr<Subprocess>* dev, const std::string& log) {
    *dev =
        std::make_unique<Subprocess>(std::vector<std::string>{SIGNET_BINARY, "dev", "--data-dir",
                                                              dir_.File("d"), "--output", "json"},
                                     dir_.File(log));
    nlohmann::json ready;
    WaitFor([&] {
      for (absl::string_view line : absl::StrSplit((*dev)->Log(), '\n')) {
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("admin_socket")) {
          ready = j;
          return true;
        }
      }
      return false;
    });
    return ready;
  }
  int Run(const std::string& args, std::string* out) {
    return RunCommand(absl::StrCat(SIGNET_BINARY, " ", args, " 2>&1"), out);
  }

  TempDir dir_;
};

TEST_F(DevCliTest, PrintsWhereEverythingIsServesWorkloadsAndResumes) {
  std::unique_ptr<Subprocess> dev;
  nlohmann::json ready = Start(&dev, "dev1.log");
  ASSERT_TRUE(ready.is_object()) << dev->Log();
  for (const char* key : {"trust_domain", "admin_socket", "workload_socket", "agent_id",
                          "server_address", "data_dir"}) {
    EXPECT_TRUE(ready[key].is_string() && !ready[key].get<std::string>().empty()) << key;
  }
  EXPECT_EQ(ready["trust_domain"], "example.org");
  const std::string admin = ready["admin_socket"];
  const std::string workload = ready["workload_socket"];
  EXPECT_THAT(admin, HasSubstr(dir_.File("d")));
  std::string out;
  ASSERT_EQ(
      Run(absl::StrCat("entry create --socket ", admin,
                       " --spiffe-id spiffe://example.org/web --parent-id ",
                       ready["agent_id"].get<std::string>(), " --selector unix:uid:", getuid()),
          &out),
      0)
      << out;
  EXPECT_TRUE(
      WaitFor([&] { return Run("fetch x509 --socket " + workload, &out) == 0; }, absl::Seconds(10)))
      << out << dev->Log();
  EXPECT_THAT(out, HasSubstr("spiffe://example.org/web"));
  std::string bundle_before;
  ASSERT_EQ(Run("bundle show --format pem --socket " + admin, &bundle_before), 0);
  dev->Signal(SIGTERM);
  EXPECT_EQ(dev->Wait(), 0) << dev->Log();

  // The same data dir again: the same CA, the same entries, and the agent resumes.
  ready = Start(&dev, "dev2.log");
  ASSERT_TRUE(ready.is_object()) << dev->Log();
  std::string bundle_after;
  ASSERT_EQ(Run("bundle show --format pem --socket " + admin, &bundle_after), 0);
  EXPECT_EQ(bundle_after, bundle_before);
  EXPECT_TRUE(
      WaitFor([&] { return Run("fetch x509 --socket " + workload, &out) == 0; }, absl::Seconds(10)))
      << out << dev->Log();
  EXPECT_THAT(out, HasSubstr("spiffe://example.org/web"));
  dev->Signal(SIGINT);
  EXPECT_EQ(dev->Wait(), 0) << dev->Log();
}

TEST_F(DevCliTest, TextOutputGivesNextStepsAndABadDataDirIsRefused) {
  Subprocess dev({SIGNET_BINARY, "dev", "--data-dir", dir_.File("t")}, dir_.File("t.log"));
  ASSERT_TRUE(WaitFor([&] { return dev.Log().find("Next steps") != std::string::npos; }))
      << dev.Log();
  EXPECT_THAT(dev.Log(), HasSubstr("signet fetch x509 --socket " + dir_.File("t/agent.sock")));
  dev.Signal(SIGTERM);
  EXPECT_EQ(dev.Wait(), 0);
  std::string out;
  EXPECT_EQ(Run("dev --data-dir /tmp/" + std::string(120, 'x'), &out), 1);
  EXPECT_THAT(out, HasSubstr("too long for the sockets inside it"));
  EXPECT_EQ(Run("dev --trust-domain Bad_TD --data-dir " + dir_.File("b"), &out), 1);
}

}  // namespace
}  // namespace signet
