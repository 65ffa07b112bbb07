// `signet proxy server|client` with a real agent and server: bytes through a client->server
// pair, each kind of refusal logged with its reason, Unix sockets on the plaintext sides,
// interop with the openssl CLI in both modes (s_client against the server proxy, s_server
// behind the client proxy), and 30 s of requests across 10 s SVID rotations with none failing
// while a connection opened before them carries on. Load and connection handling:
// proxy_load_cli_test.cc.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/proxy_cli_fixture.h"

namespace signet {
namespace {

using ::signet::testing::RunCommand;
using ::signet::testing::Subprocess;
using ::signet::testing::WaitFor;
using ::testing::HasSubstr;

TEST_F(ProxyCliTest, AClientServerPairCarriesBytesAndLogsThePeers) {
  CreateEntry();
  EchoServer echo;
  const int client = StartPair(echo.port());
  ASSERT_GT(client, 0);
  LineClient c(client);
  EXPECT_EQ(c.Ask("hello"), "hello");
  EXPECT_EQ(c.Ask(std::string(40000, 'x')), std::string(40000, 'x')) << "more than a record";
  EXPECT_TRUE(
      WaitFor([&] { return ProxyLog(0).find("connection accepted") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("peer_id=", kWeb)));
  EXPECT_THAT(ProxyLog(1), HasSubstr(absl::StrCat("peer_id=", kWeb)));
}

TEST_F(ProxyCliTest, PeersOffTheAllowListAreDeniedAndLogged) {
  CreateEntry();
  EchoServer echo;
  const std::string backend = absl::StrCat("127.0.0.1:", echo.port());
  const int strict = StartProxy("strict", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           backend, "--allow-id", "spiffe://example.org/db"});
  ASSERT_GT(strict, 0) << ProxyLog(0);
  const int via_strict = StartProxy(
      "client1", {"client", "--listen", "127.0.0.1:0", "--connect",
                  absl::StrCat("127.0.0.1:", strict), "--allow-trust-domain", "example.org"});
  ASSERT_GT(via_strict, 0);
  EXPECT_EQ(LineClient(via_strict).Ask("hello"), "");
  ASSERT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat(kWeb, " is not on the allow list")));
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("connection denied peer_id=", kWeb)));

  // The client side checks the server too.
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1:0 --backend ",
                                    backend, " --allow-prefix spiffe://example.org/ --socket ",
                                    SocketPath("w"), " 2>&1"),
                       &out),
            1);
  EXPECT_THAT(out, HasSubstr("must be a SPIFFE ID with a path")) << "a prefix needs a path";
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           backend, "--allow-trust-domain", "example.org"});
  ASSERT_GT(server, 0);
  const int wrong = StartProxy(
      "client2", {"client", "--listen", "127.0.0.1:0", "--connect",
                  absl::StrCat("127.0.0.1:", server), "--server-id", "spiffe://example.org/db"});
  ASSERT_GT(wrong, 0);
  EXPECT_EQ(LineClient(wrong).Ask("hello"), "");
  ASSERT_TRUE(WaitFor([&] { return ProxyLog(3).find("connection denied") != std::string::npos; }));
  EXPECT_THAT(ProxyLog(3), HasSubstr(absl::StrCat(kWeb, " is not on the allow list")));

  // Nothing allowed at all: refused at start.
  EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1:0 --backend ",
                                    backend, " --socket ", SocketPath("w"), " 2>&1"),
                       &out),
            1);
  EXPECT_THAT(out, HasSubstr("no peer is allowed"));
  // A malformed address is named, and nothing starts.
  EXPECT_EQ(
      RunCommand(absl::StrCat(SIGNET_BINARY, " proxy server --listen 127.0.0.1 --backend ", backend,
                              " --allow-id ", kWeb, " --socket ", SocketPath("w"), " 2>&1"),
                 &out),
      1);
  EXPECT_THAT(out, HasSubstr("address \"127.0.0.1\": want host:port"));
}

// Unix sockets on the plaintext sides (a sidecar's app, a backend that only listens on one):
// the client proxy's socket is mode 0600 and replaces a stale one; a live listener, a file
// that is not a socket and a relative path are refused; the socket goes when the proxy stops.
TEST_F(ProxyCliTest, UnixSocketsOnThePlaintextSides) {
  CreateEntry();
  EchoServer echo(dir_.File("b.sock"));
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           "unix:" + dir_.File("b.sock"), "--allow-id", kWeb});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const std::string path = dir_.File("c.sock");
  close(ListenUnix(path));  // a socket left by a process that has gone
  const std::vector<std::string> client = {
      "client",      "--listen", "unix:" + path, "--connect", absl::StrCat("127.0.0.1:", server),
      "--server-id", kWeb};
  const mode_t old_mask = umask(0);  // the proxy inherits it: 0600 must come from the proxy
  const bool started = StartUnixProxy("client", client);
  umask(old_mask);
  ASSERT_TRUE(started) << ProxyLog(1);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  LineClient c(path);
  EXPECT_EQ(c.Ask("hello"), "hello");
  EXPECT_EQ(c.Ask(std::string(40000, 'u')), std::string(40000, 'u'));
  EXPECT_THAT(ProxyLog(1), HasSubstr(absl::StrCat("from=\"unix:uid=", getuid(), "\"")));

  auto refused = [&](const std::string& listen) {
    std::string out;
    EXPECT_EQ(RunCommand(absl::StrCat(SIGNET_BINARY, " proxy client --listen ", listen,
                                      " --connect 127.0.0.1:", server, " --server-id ", kWeb,
                                      " --socket ", SocketPath("w"), " 2>&1"),
                         &out),
              1)
        << listen;
    return out;
  };
  const ino_t live = st.st_ino;
  EXPECT_THAT(refused("unix:" + path), HasSubstr("is already in use by another process"));
  testing::WriteTestFile(dir_.File("plain"), "x");
  EXPECT_THAT(refused("unix:" + dir_.File("plain")), HasSubstr("exists and is not a socket"));
  EXPECT_THAT(refused("unix:c.sock"), HasSubstr("want unix:/absolute/path"));
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "a refused proxy leaves the live socket alone";
  EXPECT_EQ(st.st_ino, live) << "and does not replace it";
  EXPECT_EQ(LineClient(path).Ask("still"), "still");

  proxies_[1]->Signal(SIGTERM);
  EXPECT_EQ(proxies_[1]->Wait(), 0);
  EXPECT_NE(stat(path.c_str(), &st), 0) << "the socket goes with the proxy";

  // --listen-mode: a group may be let in; the owner keeps access; TCP has no mode.
  std::vector<std::string> grouped = client;
  grouped.insert(grouped.end(), {"--listen-mode", "0660"});
  ASSERT_TRUE(StartUnixProxy("grouped", grouped)) << ProxyLog(2);
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(LineClient(path).Ask("again"), "again");
  EXPECT_THAT(refused(dir_.File("x.sock").insert(0, "unix:") + " --listen-mode 0400"),
              HasSubstr("the owner must be able to read and write"));
  EXPECT_THAT(refused("127.0.0.1:0 --listen-mode 0660"),
              HasSubstr("--listen-mode applies only to a unix: --listen"));
  EXPECT_THAT(refused(dir_.File("y.sock").insert(0, "unix:") + " --listen-mode 0666"),
              HasSubstr("every local user could use this workload's identity"));
}

// A peer that connects and never finishes its handshake is cut after --handshake-timeout, so
// idle sockets cannot hold the proxy's connection slots.
TEST_F(ProxyCliTest, AStalledHandshakeIsCutAfterTheTimeout) {
  CreateEntry();
  EchoServer echo;
  const int server = StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                                           absl::StrCat("127.0.0.1:", echo.port()), "--allow-id",
                                           kWeb, "--handshake-timeout", "1s"});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const absl::Time start = absl::Now();
  LineClient silent(server);  // connects, sends nothing
  EXPECT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; },
                      absl::Seconds(5)))
      << ProxyLog(0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_THAT(ProxyLog(0), HasSubstr("the TLS handshake timed out"));
  // A peer that trickles a byte every 300 ms is cut by the same overall deadline.
  LineClient trickle(server);
  const absl::Time trickle_start = absl::Now();
  std::string reply = "x";
  for (int i = 0; i < 15 && !reply.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(300));
    reply = trickle.Ask("");  // one byte; the answer is "" once the proxy has closed
  }
  EXPECT_LT(absl::Now() - trickle_start, absl::Seconds(4)) << ProxyLog(0);
}

TEST_F(ProxyCliTest, OpensslSClientTalksToTheServerProxy) {
  CreateEntry();
  WriteSvidFiles();
  EchoServer echo;
  const int server =
      StartProxy("server", {"server", "--listen", "127.0.0.1:0", "--backend",
                            absl::StrCat("127.0.0.1:", echo.port()), "--allow-id", kWeb});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const std::string s_client =
      absl::StrCat("openssl s_client -connect 127.0.0.1:", server, " -CAfile ", File("bundle.pem"),
                   " -verify_return_error -quiet");
  std::string out;
  EXPECT_EQ(RunCommand(absl::StrCat("printf 'ping\\nbye\\n' | timeout 10 ", s_client, " -cert ",
                                    File("svid.pem"), " -key ", File("svid.key"), " 2>&1"),
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("ping\nbye"));
  // Without a client certificate: refused by the proxy, and logged.
  EXPECT_NE(
      RunCommand(absl::StrCat("printf 'ping\\nbye\\n' | timeout 10 ", s_client, " 2>&1"), &out), 0);
  EXPECT_THAT(out, ::testing::Not(HasSubstr("ping\nbye")));
  EXPECT_TRUE(WaitFor([&] { return ProxyLog(0).find("connection denied") != std::string::npos; }))
      << ProxyLog(0);
}

TEST_F(ProxyCliTest, TheClientProxyTalksToOpensslSServer) {
  CreateEntry();
  WriteSvidFiles();
  int port = 0;
  close(Listen(&port));  // a free port for s_server
  Subprocess s_server({"/usr/bin/openssl", "s_server", "-accept", absl::StrCat("127.0.0.1:", port),
                       "-cert", File("svid.pem"), "-key", File("svid.key"), "-CAfile",
                       File("bundle.pem"), "-Verify", "3", "-verify_return_error", "-rev"},
                      dir_.File("s_server.log"));
  ASSERT_TRUE(WaitFor([&] { return s_server.Log().find("ACCEPT") != std::string::npos; }))
      << s_server.Log();
  const int client = StartProxy("client", {"client", "--listen", "127.0.0.1:0", "--connect",
                                           absl::StrCat("127.0.0.1:", port), "--server-id", kWeb});
  ASSERT_GT(client, 0) << ProxyLog(0);
  // s_server -rev answers each line reversed, after verifying our client SVID (-Verify).
  EXPECT_EQ(LineClient(client).Ask("ping"), "gnip") << s_server.Log() << ProxyLog(0);
  EXPECT_THAT(ProxyLog(0), HasSubstr(absl::StrCat("peer_id=", kWeb)));
}

TEST_F(ProxyCliTest, RequestsKeepFlowingAcrossRotations) {
  CreateEntry("--x509-svid-ttl 10s");
  EchoServer echo;
  const int server = StartProxy(
      "server", {"server", "--listen", "127.0.0.1:0", "--backend",
                 absl::StrCat("127.0.0.1:", echo.port()), "--allow-trust-domain", "example.org"});
  ASSERT_GT(server, 0) << ProxyLog(0);
  const int client =
      StartProxy("client", {"client", "--listen", "127.0.0.1:0", "--connect",
                            absl::StrCat("127.0.0.1:", server), "--server-id", kWeb});
  ASSERT_GT(client, 0) << ProxyLog(1);
  LineClient long_lived(client);
  ASSERT_EQ(long_lived.Ask("first"), "first");
  const std::string serial_cmd = absl::StrCat(SIGNET_BINARY, " fetch x509 --socket ",
                                              SocketPath("w"), " --output json 2>/dev/null");
  std::string first_svid;
  RunCommand(serial_cmd, &first_svid);
  int ok = 0;
  int failed = 0;
  const absl::Time end = absl::Now() + absl::Seconds(30);
  while (absl::Now() < end) {
    (LineClient(client).Ask("ping") == "ping" ? ok : failed)++;
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::string last_svid;
  RunCommand(serial_cmd, &last_svid);
  EXPECT_EQ(failed, 0) << ok << " ok\n" << ProxyLog(0) << ProxyLog(1);
  EXPECT_GT(ok, 50);
  EXPECT_NE(first_svid, last_svid) << "the SVID rotated meanwhile";
  EXPECT_EQ(long_lived.Ask("still here"), "still here") << "the old connection carries on";
}

}  // namespace
}  // namespace signet
