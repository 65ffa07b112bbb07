// The docker attestor against a fake Docker Engine API (cpp-httplib on a Unix socket) that
// serves responses shaped like Docker's, with a fixture /proc tree for the cgroup.
#include <httplib.h>
#include <sys/stat.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/agent/workload/workload_attestor.h"
#include "src/common/logging.h"
#include "tests/testing/test_ca.h"

namespace signet::agent {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kId[] = "3f5cd1e6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
constexpr char kImageId[] =
    "sha256:9c7a54a9a43cca047013b82af109fe963fde787f63f9e016fdc3384500c2823d";

std::vector<std::string> Texts(const std::vector<spiffe::Selector>& selectors) {
  std::vector<std::string> out;
  for (const auto& s : selectors) out.push_back(s.ToString());
  return out;
}

class FakeDocker {
 public:
  FakeDocker(const std::string& socket, std::string image) : image_(std::move(image)) {
    server_.set_address_family(AF_UNIX);
    server_.Get("/containers/([0-9a-f]+)/json", [this](const httplib::Request& req,
                                                       httplib::Response& res) {
      if (req.matches[1] != kId) {
        res.status = 404;
        res.set_content(R"({"message":"No such container"})", "application/json");
        return;
      }
      nlohmann::json c = {{"Id", kId},
                          {"Image", kImageId},
                          {"State", {{"Status", "running"}, {"Pid", 4242}}},
                          {"Config",
                           {{"Image", image_},
                            {"Labels", {{"app", "api"}, {"team", "payments"}}},
                            {"Env", {"PATH=/usr/bin", "APP_ENV=prod", "DB_PASSWORD=hunter2"}}}}};
      res.set_content(c.dump(), "application/json");
    });
    server_.Get("/images/(.+)/json", [](const httplib::Request&, httplib::Response& res) {
      nlohmann::json img = {{"Id", kImageId},
                            {"RepoTags", {"registry.example.com/team/api:1.0"}},
                            {"RepoDigests",
                             {"registry.example.com/team/api@sha256:"
                              "aa0cc5a0c5c9b07f2e4ad2a3a1e0c7b6f2b8b1c6d0f8e7a6b5c4d3e2f1a0b9c8"}}};
      res.set_content(img.dump(), "application/json");
    });
    ok_ = server_.bind_to_port(socket, 80);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeDocker() {
    server_.stop();
    thread_.join();
  }
  bool ok() const { return ok_; }

 private:
  std::string image_;
  httplib::Server server_;
  bool ok_ = false;
  std::thread thread_;
};

class DockerAttestorTest : public ::testing::Test {
 protected:
  DockerAttestorTest() {
    mkdir(root_.File("proc").c_str(), 0755);
    Process(4242, std::string("0::/system.slice/docker-") + kId + ".scope\n");
    Process(4243, "0::/system.slice/nginx.service\n");
    Process(4244, "0::/docker/" + std::string(64, 'a') + "\n");  // a container Docker lacks
  }
  void Process(int pid, const std::string& cgroup) {
    const std::string dir = root_.File("proc/" + std::to_string(pid));
    mkdir(dir.c_str(), 0755);
    testing::WriteTestFile(dir + "/cgroup", cgroup);
  }
  std::unique_ptr<WorkloadAttestor> Attestor(std::vector<std::string> allowed = {}) {
    return CreateDockerAttestor({.socket_path = socket_, .env_keys = {"APP_ENV"}},
                                std::move(allowed), root_.File("proc"));
  }

  testing::TempDir root_;
  const std::string socket_ = root_.File("docker.sock");
};

TEST_F(DockerAttestorTest, ContainerFactsBecomeSelectors) {
  FakeDocker docker(socket_, "registry.example.com/team/api:1.0");
  ASSERT_TRUE(docker.ok());
  absl::StatusOr<std::vector<spiffe::Selector>> s = Attestor()->Attest({.pid = 4242});
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> got = Texts(*s);
  EXPECT_THAT(got, Contains("docker:image:registry.example.com/team/api:1.0"));
  EXPECT_THAT(got, Contains(HasSubstr("docker:image:registry.example.com/team/api@sha256:aa0c")));
  EXPECT_THAT(got, Contains(std::string("docker:image_id:") + kImageId));
  EXPECT_THAT(got, Contains("docker:label:app:api"));
  EXPECT_THAT(got, Contains("docker:label:team:payments"));
  EXPECT_THAT(got, Contains("docker:env:APP_ENV=prod"));
  EXPECT_THAT(got, Not(Contains(HasSubstr("DB_PASSWORD"))))
      << "only configured environment variables become selectors";
  // Not in a container: nothing, and no error.
  absl::StatusOr<std::vector<spiffe::Selector>> host = Attestor()->Attest({.pid = 4243});
  ASSERT_TRUE(host.ok());
  EXPECT_THAT(*host, IsEmpty());
  // A container Docker does not know: refused, not guessed.
  absl::StatusOr<std::vector<spiffe::Selector>> unknown = Attestor()->Attest({.pid = 4244});
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("HTTP 404"));
}

TEST_F(DockerAttestorTest, AnImageFromAnotherRegistryGetsNoIdentity) {
  FakeDocker docker(socket_, "evil.example.net/api:1.0");
  ASSERT_TRUE(docker.ok());
  ScopedLogCapture logs;
  absl::StatusOr<std::vector<spiffe::Selector>> s =
      Attestor({"registry.example.com"})->Attest({.pid = 4242});
  EXPECT_TRUE(absl::IsPermissionDenied(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("image evil.example.net/api:1.0 comes from registry evil.example.net"));
  EXPECT_THAT(logs.Lines(), Contains(HasSubstr("workload refused by the image registry policy")));
  // The same container is fine where its registry is allowed.
  absl::StatusOr<std::vector<spiffe::Selector>> ok =
      Attestor({"registry.example.com", "evil.example.net"})->Attest({.pid = 4242});
  EXPECT_TRUE(ok.ok()) << ok.status();
}

TEST_F(DockerAttestorTest, ADockerHubImageIsDockerIo) {
  EXPECT_EQ(ImageRegistry("nginx:1.25"), "docker.io");
  EXPECT_EQ(ImageRegistry("library/nginx"), "docker.io");
  EXPECT_EQ(ImageRegistry("registry.example.com/a/b:1"), "registry.example.com");
  EXPECT_EQ(ImageRegistry("localhost:5000/a"), "localhost:5000");
  EXPECT_EQ(ImageRegistry("localhost/a"), "localhost");
  FakeDocker docker(socket_, "nginx:1.25");
  ASSERT_TRUE(docker.ok());
  absl::StatusOr<std::vector<spiffe::Selector>> s =
      Attestor({"registry.example.com"})->Attest({.pid = 4242});
  EXPECT_TRUE(absl::IsPermissionDenied(s.status()));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("registry docker.io"));
}

TEST_F(DockerAttestorTest, AnUnreachableDockerApiIsARefusal) {
  absl::StatusOr<std::vector<spiffe::Selector>> s = Attestor()->Attest({.pid = 4242});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("docker.sock"));
}

}  // namespace
}  // namespace signet::agent
