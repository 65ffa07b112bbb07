#include "src/rpc/uds_listener.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "signet/admin/v1/admin.grpc.pb.h"
#include "src/rpc/deny_service.h"
#include "tests/testing/test_ca.h"

namespace signet::rpc {
namespace {

using ::testing::HasSubstr;
namespace adminpb = ::signet::admin::v1;

// Reports the caller's uid and pid (as the registry saw them) in the health response.
class EchoPeerService final : public adminpb::Server::Service {
 public:
  explicit EchoPeerService(const PeerRegistry* registry) : registry_(registry) {}
  grpc::Status Health(grpc::ServerContext* ctx, const adminpb::HealthRequest*,
                      adminpb::HealthResponse* out) override {
    std::optional<PeerCred> cred = registry_->Lookup(ctx->peer());
    if (!cred) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown peer");
    out->set_trust_domain(std::to_string(cred->uid));
    out->set_revision(cred->pid);
    return grpc::Status::OK;
  }

 private:
  const PeerRegistry* registry_;
};

class UdsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&echo_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    auto deny = StartPortlessServer(&deny_service_);
    ASSERT_TRUE(deny.ok()) << deny.status();
    deny_server_ = *std::move(deny);
  }
  void TearDown() override {
    listener_.reset();
    server_->Shutdown();
    deny_server_->Shutdown();
  }

  std::string SocketPath() const { return dir_.path() + "/s.sock"; }

  absl::Status StartListener(UdsListener::Router router) {
    auto listener = UdsListener::Start(
        {.path = SocketPath(), .mode = 0666, .router = std::move(router), .registry = &registry_});
    if (!listener.ok()) return listener.status();
    listener_ = *std::move(listener);
    return absl::OkStatus();
  }

  grpc::Status CallHealth(adminpb::HealthResponse* out) {
    auto channel =
        grpc::CreateChannel("unix://" + SocketPath(), grpc::InsecureChannelCredentials());
    auto stub = adminpb::Server::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Health(&ctx, adminpb::HealthRequest(), out);
  }

  testing::TempDir dir_;
  PeerRegistry registry_;
  EchoPeerService echo_{&registry_};
  DenyService deny_service_{
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "uid not allowed on this socket")};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> deny_server_;
  std::unique_ptr<UdsListener> listener_;
};

TEST_F(UdsListenerTest, HandlerSeesCallerKernelCredentials) {
  ASSERT_TRUE(StartListener([this](const PeerCred&) { return server_.get(); }).ok());
  adminpb::HealthResponse out;
  grpc::Status status = CallHealth(&out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.trust_domain(), std::to_string(geteuid()));
  EXPECT_EQ(out.revision(), getpid());
}

TEST_F(UdsListenerTest, RouterSeesCredentialsAndCanDeny) {
  uid_t seen = 12345;
  ASSERT_TRUE(StartListener([&](const PeerCred& cred) {
                seen = cred.uid;
                return deny_server_.get();
              }).ok());
  adminpb::HealthResponse out;
  grpc::Status status = CallHealth(&out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("uid not allowed"));
  EXPECT_EQ(seen, geteuid());
}

TEST_F(UdsListenerTest, RouterReturningNullDropsConnection) {
  ASSERT_TRUE(StartListener([](const PeerCred&) -> grpc::Server* { return nullptr; }).ok());
  adminpb::HealthResponse out;
  grpc::Status status = CallHealth(&out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(UdsListenerTest, SocketModeIsApplied) {
  ASSERT_TRUE(StartListener([this](const PeerCred&) { return server_.get(); }).ok());
  struct stat st {};
  ASSERT_EQ(stat(SocketPath().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
}

TEST_F(UdsListenerTest, RefusesLiveSocketAndReplacesStaleOne) {
  ASSERT_TRUE(StartListener([this](const PeerCred&) { return server_.get(); }).ok());
  auto second = UdsListener::Start({.path = SocketPath(),
                                    .router = [](const PeerCred&) { return nullptr; },
                                    .registry = &registry_});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already in use"));

  // A socket file left behind by a dead process is replaced.
  listener_.reset();
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = SocketPath();
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);  // bound but never listening: stale
  ASSERT_TRUE(StartListener([this](const PeerCred&) { return server_.get(); }).ok());
  adminpb::HealthResponse out;
  EXPECT_TRUE(CallHealth(&out).ok());
}

TEST_F(UdsListenerTest, NeverRemovesARegularFile) {
  testing::WriteTestFile(SocketPath(), "precious");
  auto listener = UdsListener::Start({.path = SocketPath(),
                                      .router = [](const PeerCred&) { return nullptr; },
                                      .registry = &registry_});
  ASSERT_FALSE(listener.ok());
  EXPECT_THAT(listener.status().message(), HasSubstr("is not a socket"));
  struct stat st {};
  ASSERT_EQ(stat(SocketPath().c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(UdsListenerTest, RejectsOverlongPathAndMissingRegistry) {
  auto too_long = UdsListener::Start({.path = "/tmp/" + std::string(120, 'x'),
                                      .router = [](const PeerCred&) { return nullptr; },
                                      .registry = &registry_});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(), HasSubstr("longer than 107 bytes"));
  auto no_registry =
      UdsListener::Start({.path = SocketPath(), .router = [](const PeerCred&) { return nullptr; }});
  EXPECT_EQ(no_registry.status().code(), absl::StatusCode::kInvalidArgument);
}

// Adopt mode with pidfds: the pidfd names the process that connected, from the kernel
// (SO_PEERPIDFD) wherever the kernel has it, and stops being alive when that process exits.
TEST_F(UdsListenerTest, AdoptedConnectionsCarryAPidfdOfTheConnectingProcess) {
  absl::Mutex mu;
  std::vector<std::pair<int, PeerCred>> adopted;
  auto listener = UdsListener::Start({.path = SocketPath(),
                                      .adopt =
                                          [&](int fd, const PeerCred& cred) {
                                            absl::MutexLock lock(&mu);
                                            adopted.emplace_back(fd, cred);
                                          },
                                      .open_pidfd = true});
  ASSERT_TRUE(listener.ok()) << listener.status();
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t child = fork();
  if (child == 0) {  // connects, then waits to be told to exit
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = SocketPath();
    std::copy(path.begin(), path.end(), addr.sun_path);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) _exit(1);
    char c;
    (void)!read(go[0], &c, 1);
    _exit(0);
  }
  PeerCred cred;
  int fd = -1;
  for (int i = 0; i < 500 && fd < 0; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (!adopted.empty()) std::tie(fd, cred) = adopted[0];
    }
    if (fd < 0) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GE(fd, 0);
  EXPECT_EQ(cred.pid, child);
  ASSERT_NE(cred.pidfd, nullptr);
  EXPECT_TRUE(cred.pidfd->Alive());
  // Whether this kernel has SO_PEERPIDFD, asked of a socket pair here: if it has, it was used.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int probe = -1;
  socklen_t len = sizeof(probe);
  const bool kernel_has_it = getsockopt(pair[0], SOL_SOCKET, 77, &probe, &len) == 0;
  if (probe >= 0) close(probe);
  close(pair[0]);
  close(pair[1]);
  EXPECT_EQ(cred.pidfd->from_socket(), kernel_has_it);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(cred.pidfd->Alive());
  close(fd);
  close(go[0]);
  close(go[1]);
}

TEST(PeerRegistryTest, LookupParsesGrpcPeerNames) {
  PeerRegistry registry;
  registry.Set(7, {.pid = 1, .uid = 2, .gid = 3});
  ASSERT_TRUE(registry.Lookup("fd:7").has_value());
  EXPECT_EQ(registry.Lookup("fd:7")->uid, 2u);
  EXPECT_FALSE(registry.Lookup("fd:8").has_value());
  EXPECT_FALSE(registry.Lookup("unix:/x").has_value());
  EXPECT_FALSE(registry.Lookup("fd:7x").has_value());
  EXPECT_FALSE(registry.Lookup("ipv4:127.0.0.1:5").has_value());
}

}  // namespace
}  // namespace signet::rpc
