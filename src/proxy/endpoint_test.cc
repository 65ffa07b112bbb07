#include "src/proxy/endpoint.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

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
              HasSubstr("bytes"));
  EXPECT_THAT(CheckAddress(std::string("unix:/a\0b", 9), HostNames::kDial).message(),
              HasSubstr("without NUL"));
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
  int port = -1;
  absl::StatusOr<int> fd = ListenOn(address, 0660, &port);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(port, 0);
  struct stat st {};
  ASSERT_EQ(stat(dir.File("l.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  std::string error;
  const int client = ConnectTo(address, absl::Now() + absl::Seconds(5), &error);
  ASSERT_GE(client, 0) << error;
  const int accepted = accept(*fd, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(PeerAddress(accepted), "unix:uid=" + std::to_string(getuid()));
  close(accepted);
  close(client);
  close(*fd);
  RemoveListenSocket(address);
  EXPECT_NE(stat(dir.File("l.sock").c_str(), &st), 0);
  EXPECT_LT(ConnectTo(address, absl::Now() + absl::Seconds(5), &error), 0);
  EXPECT_THAT(error, HasSubstr("connect to " + address));
}

}  // namespace
}  // namespace signet::proxy
