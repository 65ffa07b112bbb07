// The k8s attestor against a fake kubelet: cpp-httplib on the read-only port (with a pod that
// shows up late), and Python's https server for the authenticated port; pod lists shaped like
// the kubelet's /pods.
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "src/agent/workload/workload_attestor.h"
#include "tests/testing/https_server.h"
#include "tests/testing/test_ca.h"

namespace signet::agent {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kId[] = "3f5cd1e6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
constexpr char kPod[] = "1b2c3d4e-0000-1111-2222-333344445555";

std::vector<std::string> Texts(const std::vector<spiffe::Selector>& selectors) {
  std::vector<std::string> out;
  for (const auto& s : selectors) out.push_back(s.ToString());
  return out;
}

nlohmann::json PodList(bool with_ours, const std::string& image) {
  nlohmann::json other = {{"metadata",
                           {{"name", "other"},
                            {"namespace", "kube-system"},
                            {"uid", "99999999-0000-1111-2222-333344445555"}}},
                          {"spec", {{"serviceAccountName", "default"}}},
                          {"status", {{"containerStatuses", nlohmann::json::array()}}}};
  nlohmann::json pods = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"items", {other}}};
  if (with_ours) {
    pods["items"].push_back(
        {{"metadata",
          {{"name", "api-7d9f8-xk2p"},
           {"namespace", "payments"},
           {"uid", kPod},
           {"labels", {{"app", "api"}, {"pod-template-hash", "7d9f8"}}},
           {"ownerReferences", {{{"kind", "ReplicaSet"}, {"name", "api-7d9f8"}}}}}},
         {"spec",
          {{"serviceAccountName", "api"},
           {"nodeName", "node-3"},
           {"containers", {{{"name", "api"}, {"image", image}}}}}},
         {"status",
          {{"phase", "Running"},
           {"containerStatuses",
            {{{"name", "api"},
              {"image", image},
              {"imageID", "registry.example.com/api@sha256:abcd"},
              {"containerID", std::string("containerd://") + kId}}}}}}});
  }
  return pods;
}

class K8sAttestorTest : public ::testing::Test {
 protected:
  K8sAttestorTest() {
    mkdir(root_.File("proc").c_str(), 0755);
    Process(10, std::string("0::/kubepods.slice/kubepods-burstable.slice/"
                            "kubepods-burstable-pod1b2c3d4e_0000_1111_2222_333344445555.slice/"
                            "cri-containerd-") +
                    kId + ".scope\n");
    Process(11, "0::/system.slice/kubelet.service\n");
  }
  void Process(int pid, const std::string& cgroup) {
    const std::string dir = root_.File("proc/" + std::to_string(pid));
    mkdir(dir.c_str(), 0755);
    testing::WriteTestFile(dir + "/cgroup", cgroup);
  }

  testing::TempDir root_;
};

TEST_F(K8sAttestorTest, APodThatShowsUpLateIsAttestedFromTheReadOnlyPort) {
  httplib::Server kubelet;
  std::atomic<int> calls{0};
  kubelet.Get("/pods", [&](const httplib::Request&, httplib::Response& res) {
    // The pod is not listed on the first two polls, as right after it started.
    res.set_content(PodList(++calls > 2, "registry.example.com/api:2.1").dump(),
                    "application/json");
  });
  const int port = kubelet.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { kubelet.listen_after_bind(); });
  auto attestor = CreateK8sAttestor({.read_only_port = port,
                                     .max_poll_attempts = 5,
                                     .poll_retry_interval = absl::Milliseconds(10)},
                                    {}, root_.File("proc"));
  absl::StatusOr<std::vector<spiffe::Selector>> s = attestor->Attest({.pid = 10});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(calls.load(), 3);
  std::vector<std::string> got = Texts(*s);
  for (const char* want :
       {"k8s:ns:payments", "k8s:sa:api", "k8s:pod-name:api-7d9f8-xk2p",
        "k8s:pod-uid:1b2c3d4e-0000-1111-2222-333344445555", "k8s:pod-label:app:api",
        "k8s:pod-owner:ReplicaSet:api-7d9f8", "k8s:container-name:api",
        "k8s:container-image:registry.example.com/api:2.1", "k8s:node-name:node-3"}) {
    EXPECT_THAT(got, Contains(want));
  }
  // Not in a pod: nothing.
  EXPECT_THAT(*attestor->Attest({.pid = 11}), IsEmpty());
  // The registry policy applies to pods too.
  auto strict =
      CreateK8sAttestor({.read_only_port = port}, {"mirror.example.com"}, root_.File("proc"));
  absl::StatusOr<std::vector<spiffe::Selector>> refused = strict->Attest({.pid = 10});
  EXPECT_TRUE(absl::IsPermissionDenied(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("registry.example.com"));
  kubelet.stop();
  serve.join();
}

TEST_F(K8sAttestorTest, APodTheKubeletNeverListsIsRefusedAfterTheRetries) {
  httplib::Server kubelet;
  kubelet.Get("/pods", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(PodList(false, "").dump(), "application/json");
  });
  const int port = kubelet.bind_to_any_port("127.0.0.1");
  std::thread serve([&] { kubelet.listen_after_bind(); });
  auto attestor = CreateK8sAttestor({.read_only_port = port,
                                     .max_poll_attempts = 3,
                                     .poll_retry_interval = absl::Milliseconds(5)},
                                    {}, root_.File("proc"));
  absl::StatusOr<std::vector<spiffe::Selector>> s = attestor->Attest({.pid = 10});
  EXPECT_TRUE(absl::IsPermissionDenied(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("asked 3 times"));
  kubelet.stop();
  serve.join();
}

TEST_F(K8sAttestorTest, TheAuthenticatedPortIsHttpsWithTheTokenAndItsCa) {
  testing::TempDir web;
  testing::WriteTestFile(web.File("pods"), PodList(true, "registry.example.com/api:2.1").dump());
  testing::TestHttpsServer kubelet(web.path());
  testing::WriteTestFile(root_.File("token"), "eyJ.token.sig\n");
  auto attestor =
      CreateK8sAttestor({.kubelet_url = "https://127.0.0.1:" + std::to_string(kubelet.port()),
                         .kubelet_ca_path = kubelet.ca_path(),
                         .token_path = root_.File("token")},
                        {}, root_.File("proc"));
  absl::StatusOr<std::vector<spiffe::Selector>> s = attestor->Attest({.pid = 10});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Texts(*s), Contains("k8s:sa:api"));
  // Without the kubelet's CA the agent does not trust what it says.
  auto untrusted =
      CreateK8sAttestor({.kubelet_url = "https://127.0.0.1:" + std::to_string(kubelet.port()),
                         .token_path = root_.File("token")},
                        {}, root_.File("proc"));
  EXPECT_FALSE(untrusted->Attest({.pid = 10}).ok());
}

}  // namespace
}  // namespace signet::agent
