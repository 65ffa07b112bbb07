// The unix workload attestor against a fixture /proc tree, and the pidfd rule with real
// processes.
#include "src/agent/workload/workload_attestor.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/common/clock.h"
#include "tests/testing/test_ca.h"

namespace signet::agent {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Texts(const std::vector<spiffe::Selector>& selectors) {
  std::vector<std::string> out;
  for (const auto& s : selectors) out.push_back(s.ToString());
  return out;
}

// A /proc/<pid> with a status file and an exe link to `binary`.
void FixtureProcess(const testing::TempDir& root, int pid, const std::string& binary) {
  const std::string dir = root.File(std::to_string(pid));
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  testing::WriteTestFile(dir + "/status",
                         "Name:\tweb\nUid:\t1000\nGroups:\t4 27 1000 \nVmRSS:\t1\n");
  ASSERT_EQ(symlink(binary.c_str(), (dir + "/exe").c_str()), 0);
}

TEST(UnixAttestorTest, ReadsIdsGroupsPathAndDigestFromTheProcTree) {
  testing::TempDir root;
  const std::string binary = root.File("server-bin");
  testing::WriteTestFile(binary, "abc");
  FixtureProcess(root, 4242, binary);
  auto attestor = CreateUnixAttestor({.sha256 = true}, root.path());
  EXPECT_EQ(attestor->type(), "unix");
  absl::StatusOr<std::vector<spiffe::Selector>> s =
      attestor->Attest({.pid = 4242, .uid = 0, .gid = 0});
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> got = Texts(*s);
  EXPECT_THAT(got, Contains("unix:uid:0"));
  EXPECT_THAT(got, Contains("unix:gid:0"));
  EXPECT_THAT(got, Contains("unix:user:root"));
  EXPECT_THAT(got, Contains("unix:group:root"));
  EXPECT_THAT(got, Contains("unix:supplementary_gid:27"));
  EXPECT_THAT(got, Contains("unix:supplementary_gid:1000"));
  EXPECT_THAT(got, Contains("unix:path:" + binary));
  // sha256("abc")
  EXPECT_THAT(got, Contains("unix:sha256:"
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  // Without the option, no digest; a binary over the size limit gets none either.
  auto plain = CreateUnixAttestor({}, root.path());
  EXPECT_THAT(Texts(*plain->Attest({.pid = 4242})), Not(Contains(HasSubstr("sha256"))));
  auto small = CreateUnixAttestor({.sha256 = true, .max_binary_bytes = 2}, root.path());
  EXPECT_THAT(Texts(*small->Attest({.pid = 4242})), Not(Contains(HasSubstr("sha256"))));
}

TEST(UnixAttestorTest, AProcessWhoseProcEntryIsGoneKeepsOnlyKernelFacts) {
  testing::TempDir root;
  auto attestor = CreateUnixAttestor({.sha256 = true}, root.path());
  std::vector<std::string> got = Texts(*attestor->Attest({.pid = 99, .uid = 12345, .gid = 54321}));
  EXPECT_THAT(got, Contains("unix:uid:12345"));
  EXPECT_THAT(got, Not(Contains(HasSubstr("path:"))));
  EXPECT_THAT(got, Not(Contains(HasSubstr("user:"))));  // no such user
}

TEST(SystemdAttestorTest, NamesTheUnitFromTheCgroupFile) {
  testing::TempDir root;
  ASSERT_EQ(mkdir(root.File("7").c_str(), 0755), 0);
  testing::WriteTestFile(root.File("7/cgroup"), "0::/system.slice/nginx.service\n");
  ASSERT_EQ(mkdir(root.File("8").c_str(), 0755), 0);
  testing::WriteTestFile(root.File("8/cgroup"), "0::/user.slice\n");
  auto attestor = CreateSystemdAttestor(root.path());
  EXPECT_EQ(attestor->type(), "systemd");
  EXPECT_THAT(Texts(*attestor->Attest({.pid = 7})),
              ::testing::ElementsAre("systemd:id:nginx.service"));
  EXPECT_THAT(*attestor->Attest({.pid = 8}), ::testing::IsEmpty());
  EXPECT_THAT(*attestor->Attest({.pid = 9}), ::testing::IsEmpty());  // gone
}

TEST(AttestWorkloadTest, NeedsAPidfdAndACallerThatIsStillThere) {
  std::vector<std::unique_ptr<WorkloadAttestor>> attestors;
  attestors.push_back(CreateUnixAttestor({}));
  absl::StatusOr<std::vector<spiffe::Selector>> s =
      AttestWorkload(attestors, {.pid = getpid(), .uid = getuid(), .gid = getgid()});
  EXPECT_TRUE(absl::IsPermissionDenied(s.status())) << s.status();

  // A live process: attested, with its real path.
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  absl::StatusOr<std::shared_ptr<const rpc::PidFd>> pidfd = rpc::PidFd::Open(child);
  ASSERT_TRUE(pidfd.ok()) << pidfd.status();
  s = AttestWorkload(attestors, {.pid = child, .uid = getuid(), .gid = getgid(), .pidfd = *pidfd});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Texts(*s), Contains(HasSubstr("unix:path:")));
  // Once it has exited, nothing read under its PID counts any more.
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE((*pidfd)->Alive());
  s = AttestWorkload(attestors, {.pid = child, .uid = getuid(), .gid = getgid(), .pidfd = *pidfd});
  EXPECT_TRUE(absl::IsPermissionDenied(s.status())) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("exited during attestation"));
  EXPECT_TRUE(absl::IsNotFound(rpc::PidFd::Open(child).status()));
}

class CountingAttestor final : public WorkloadAttestor {
 public:
  absl::string_view type() const override { return "count"; }
  absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess&) override {
    ++calls;
    return std::vector<spiffe::Selector>{*spiffe::Selector::Parse("count:n:1")};
  }
  int calls = 0;
};

TEST(AttestationCacheTest, ReusesAResultPerConnectionForItsTtlAndNeverForADeadProcess) {
  std::vector<std::unique_ptr<WorkloadAttestor>> attestors;
  attestors.push_back(std::make_unique<CountingAttestor>());
  auto* counter = static_cast<CountingAttestor*>(attestors[0].get());
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  AttestationCache cache(clock, absl::Seconds(1));
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  WorkloadProcess p{.pid = child, .pidfd = *rpc::PidFd::Open(child)};
  ASSERT_TRUE(cache.Attest(attestors, p).ok());
  ASSERT_TRUE(cache.Attest(attestors, p).ok());
  EXPECT_EQ(counter->calls, 1);
  // Another connection of the same process has its own pidfd: attested on its own.
  WorkloadProcess other{.pid = child, .pidfd = *rpc::PidFd::Open(child)};
  ASSERT_TRUE(cache.Attest(attestors, other).ok());
  EXPECT_EQ(counter->calls, 2);
  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(cache.Attest(attestors, p).ok());
  EXPECT_EQ(counter->calls, 3);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  absl::StatusOr<SharedSelectors> dead = cache.Attest(attestors, p);
  EXPECT_TRUE(absl::IsPermissionDenied(dead.status())) << dead.status();
}

}  // namespace
}  // namespace signet::agent
