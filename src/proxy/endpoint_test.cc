#include "src/proxy/endpoint.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_ca.h"

namespace signet::proxy {
namespace {

using ::testing::HasSubstr;

TEST(EndpointTest, AddressesAreHostPortOrAbsoluteUnixPaths) {
  EXPECT_TRUE(CheckAddress("127.0.0.1:8443", HostNames::kDial).ok());
  EXPECT_TRUE(CheckAddress("signet_db:5432", HostNames::kDial).ok());
  EXPECT_TRUE(CheckAddress("unix:/run/app.sock", HostNames::kDial).ok());
  EXPECT_THAT(CheckAddress("unix:run/app.sock", HostNames::kDial).message(),
              HasSubstr("want unix:/absolute/path"));
  EXPECT_THAT(CheckAddress("unix:/" + std::string(200, 'a'), HostNames::kDial).message(),
              HasSubstr("longer than 107 bytes"));
  EXPECT_THAT(CheckAddress(std::string("unix:/a\0b", 9), HostNames::kDial).message(),
              HasSubstr("NUL byte"));
  EXPECT_THAT(CheckAddress("dns:///db:5432", HostNames::kDial).message(),
              HasSubstr("not a URL or gRPC target"));
  EXPECT_FALSE(CheckAddress("signet_db:5432", HostNames::kListen).ok());
}

TEST(EndpointTest, SocketModesAreOctalAndKeepTheOwnersAccess) {
  EXPECT_EQ(*ParseSocketMode("0600"), 0600u);
  EXPECT_EQ(*ParseSocketMode("660"), 0660u);
  EXPECT_EQ(*ParseSocketMode("0666"), 0666u);
  for (const char* bad : {"", "0800", "rw", "07777", "-600", "0400", "0200", "0060"}) {
    EXPECT_FALSE(ParseSocketMode(bad).ok()) << bad;
  }
}

TEST(EndpointTest, AUnixListenerGetsItsModeAndAConnectionNamesThePeersUid) {
  testing::TempDir dir;
  const std::string address = "unix:" + dir.File("l.sock");
  const mode_t old_mask = umask(0);  // the mode must come from ListenOn, not the umask
  absl::StatusOr<Listener> listener = ListenOn(address, 0660);
  umask(old_mask);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ(listener->port, 0);
  struct stat st {};
  ASSERT_EQ(stat(dir.File("l.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  std::string error;
  const int client = ConnectTo(address, absl::Now() + absl::Seconds(5), &error);
  ASSERT_GE(client, 0) << error;
  const int accepted = accept(listener->fd, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(PeerAddress(accepted), "unix:uid=" + std::to_string(getuid()));
  close(accepted);
  close(client);
  RemoveListenSocket(*listener);
  close(listener->fd);
  EXPECT_NE(stat(dir.File("l.sock").c_str(), &st), 0);
  EXPECT_LT(ConnectTo(address, absl::Now() + absl::Seconds(5), &error), 0);
  EXPECT_THAT(error, HasSubstr("connect to " + address));
}

// Another process took the path after this listener: stopping must not remove its socket.
TEST(EndpointTest, RemovalLeavesASocketThatIsNoLongerOurs) {
  testing::TempDir dir;
  const std::string address = "unix:" + dir.File("l.sock");
  absl::StatusOr<Listener> ours = ListenOn(address, 0600);
  ASSERT_TRUE(ours.ok()) << ours.status();
  ASSERT_EQ(unlink(dir.File("l.sock").c_str()), 0);  // as a rival that found it stale would
  absl::StatusOr<Listener> theirs = ListenOn(address, 0600);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  RemoveListenSocket(*ours);
  struct stat st {};
  EXPECT_EQ(stat(dir.File("l.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, theirs->unix_file.ino);
  RemoveListenSocket(*theirs);
  EXPECT_NE(stat(dir.File("l.sock").c_str(), &st), 0);
  close(ours->fd);
  close(theirs->fd);
}

// A listener whose backlog is full is alive: a second ListenOn must neither hang nor take it.
TEST(EndpointTest, AListenerWithAFullBacklogIsNotTakenForStale) {
  testing::TempDir dir;
  const std::string address = "unix:" + dir.File("l.sock");
  absl::StatusOr<Listener> first = ListenOn(address, 0600);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(listen(first->fd, 0), 0);  // backlog 0: the next connection queues, then EAGAIN
  std::vector<int> queued;
  for (int i = 0; i < 8; ++i) {
    std::string error;
    const int fd = ConnectTo(address, absl::Now(), &error);  // no time to wait
    if (fd < 0) {
      EXPECT_THAT(error, HasSubstr("backlog is full"));
      break;
    }
    queued.push_back(fd);
  }
  EXPECT_LT(queued.size(), 8u) << "the backlog never filled";
  absl::StatusOr<Listener> second = ListenOn(address, 0600);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  for (int fd : queued) close(fd);
  RemoveListenSocket(*first);
  close(first->fd);
}

}  // namespace
}  // namespace signet::proxy
