#include "src/agent/workload/cgroup.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace signet::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

constexpr char kId[] = "3f5cd1e6a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";

TEST(CgroupTest, PathsPreferV2ThenSystemdAndSkipJunk) {
  EXPECT_THAT(CgroupPaths("0::/system.slice/nginx.service\n"),
              ElementsAre("/system.slice/nginx.service"));
  EXPECT_THAT(CgroupPaths("12:pids:/docker/abc\n1:name=systemd:/system.slice/x.service\n"
                          "garbage\n5:cpu,cpuacct:/docker/abc\n3:memory:relative\n"),
              ElementsAre("/system.slice/x.service", "/docker/abc"));
  EXPECT_THAT(CgroupPaths("0::/a:b/c\n"), ElementsAre("/a:b/c"));
  EXPECT_THAT(CgroupPaths(""), ElementsAre());
}

TEST(CgroupTest, SystemdUnits) {
  EXPECT_THAT(SystemdUnit("/system.slice/nginx.service"), Optional(std::string("nginx.service")));
  EXPECT_THAT(SystemdUnit("/user.slice/user-1000.slice/user@1000.service/app.slice/"
                          "dbus.service"),
              Optional(std::string("dbus.service")));
  EXPECT_THAT(SystemdUnit("/user.slice/user-1000.slice/session-3.scope"),
              Optional(std::string("session-3.scope")));
  EXPECT_EQ(SystemdUnit(std::string("/system.slice/docker-") + kId + ".scope"), std::nullopt);
  EXPECT_EQ(SystemdUnit("/"), std::nullopt);
  EXPECT_EQ(SystemdUnit("/user.slice"), std::nullopt);
}

TEST(CgroupTest, ContainerIdsInEveryRuntimeLayout) {
  const std::string id = kId;
  for (const std::string& path :
       {"/docker/" + id, "/system.slice/docker-" + id + ".scope",
        "/kubepods/besteffort/pod1b2c3d4e-0000-1111-2222-333344445555/" + id,
        "/kubepods.slice/kubepods-burstable.slice/"
        "kubepods-burstable-pod1b2c3d4e_0000_1111_2222_333344445555.slice/cri-containerd-" +
            id + ".scope",
        "/machine.slice/libpod-" + id + ".scope", "/kubepods.slice/crio-" + id + ".scope"}) {
    EXPECT_THAT(ContainerId(path), Optional(id)) << path;
  }
  EXPECT_EQ(ContainerId("/system.slice/nginx.service"), std::nullopt);
  EXPECT_EQ(ContainerId("/docker/" + id.substr(1)), std::nullopt);
  EXPECT_EQ(ContainerId("/docker/" + std::string(64, 'G')), std::nullopt);
}

TEST(CgroupTest, PodUidsFromCgroupfsAndSystemdDrivers) {
  const std::string uid = "1b2c3d4e-0000-1111-2222-333344445555";
  EXPECT_THAT(PodUid("/kubepods/besteffort/pod" + uid + "/" + kId), Optional(uid));
  EXPECT_THAT(PodUid("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                     "1b2c3d4e_0000_1111_2222_333344445555.slice/cri-containerd-x.scope"),
              Optional(uid));
  EXPECT_EQ(PodUid("/system.slice/nginx.service"), std::nullopt);
  EXPECT_EQ(PodUid("/kubepods/podnot-a-uid"), std::nullopt);
}

}  // namespace
}  // namespace signet::agent
