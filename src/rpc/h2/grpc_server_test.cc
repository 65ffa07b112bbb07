// The h2 gRPC server against grpc++ clients (gRPC C-core: an independent HTTP/2 + gRPC stack).
#include "src/rpc/h2/grpc_server.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/rpc/h2/unary_client.h"
#include "tests/testing/test_ca.h"
#include "workload.grpc.pb.h"

namespace signet::rpc::h2 {
namespace {

using ::testing::HasSubstr;

constexpr char kJwt[] = "/SpiffeWorkloadAPI/FetchJWTSVID";
constexpr char kX509[] = "/SpiffeWorkloadAPI/FetchX509SVID";

class GrpcServerTest : public ::testing::Test {
 protected:
  void Start(Server::Options options = {.loops = 2}) {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // Unary: answers with the audiences joined and the caller's uid, or the error asked for.
    server_->Register(
        kJwt, SingleRequest([](std::shared_ptr<Call> call, std::string bytes) {
          JWTSVIDRequest req;
          if (!req.ParseFromString(bytes)) {
            return call->Finish(absl::InvalidArgumentError("bad request"));
          }
          if (req.spiffe_id() == "fail-long") {
            return call->Finish(absl::PermissionDeniedError(std::string(20000, 'a')));
          }
          if (req.spiffe_id() == "fail") {
            return call->Finish(absl::PermissionDeniedError("denied:\nnon-ascii é %"));
          }
          JWTSVIDResponse resp;
          JWTSVID* svid = resp.add_svids();
          for (const std::string& a : req.audience()) svid->mutable_svid()->append(a);
          svid->set_spiffe_id(std::to_string(call->info().peer.uid));
          const std::string* header = call->info().Find("workload.spiffe.io");
          svid->set_hint(header == nullptr ? "" : *header);
          call->Write(resp);
          call->Finish(absl::OkStatus());
        }));
    // Server streaming: three messages from another thread, then OK; or never answers.
    server_->Register(kX509,
                      SingleRequest(
                          [this](std::shared_ptr<Call> call, std::string) {
                            if (call->info().Find("hang") != nullptr) {
                              absl::MutexLock lock(&mu_);
                              hanging_ = call;
                              return;
                            }
                            std::thread([call] {
                              for (int i = 0; i < 3; ++i) {
                                X509SVIDResponse resp;
                                resp.add_svids()->set_spiffe_id("spiffe://t/" + std::to_string(i));
                                call->Write(resp);
                              }
                              call->Finish(absl::OkStatus());
                            }).detach();
                          },
                          [this](const std::shared_ptr<Call>&) {
                            if (cancels_.fetch_add(1) == 0) cancelled_.Notify();
                          }));
    absl::StatusOr<std::unique_ptr<UdsListener>> listener = UdsListener::Start(
        {.path = dir_.File("s.sock"),
         .adopt = [this](int fd, const PeerCred& peer) { server_->Adopt(fd, peer); }});
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = *std::move(listener);
    stub_ = SpiffeWorkloadAPI::NewStub(
        grpc::CreateChannel("unix:" + dir_.File("s.sock"), grpc::InsecureChannelCredentials()));
  }
  // A plain socket to the server, for bytes no gRPC client would send; -1 on failure.
  int RawConnect() {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = dir_.File("s.sock");
    std::copy(path.begin(), path.end(), addr.sun_path);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  void ExpectAUnaryCallWorks() {
    grpc::ClientContext ctx;
    JWTSVIDRequest req;
    req.add_audience("x");
    JWTSVIDResponse resp;
    EXPECT_TRUE(stub_->FetchJWTSVID(&ctx, req, &resp).ok());
  }
  // Until the handler has parked a "hang" call (at most 5 s).
  void WaitForTheHangingCall() {
    for (int i = 0; i < 500; ++i) {
      {
        absl::MutexLock lock(&mu_);
        if (hanging_ != nullptr) return;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  void TearDown() override {
    listener_.reset();
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  }

  testing::TempDir dir_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<UdsListener> listener_;
  std::unique_ptr<SpiffeWorkloadAPI::Stub> stub_;
  absl::Mutex mu_;
  std::shared_ptr<Call> hanging_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> cancels_{0};
  absl::Notification cancelled_;  // the first cancel
};

TEST_F(GrpcServerTest, UnaryCallsCarryMetadataAndThePeer) {
  Start();
  for (int i = 0; i < 50; ++i) {  // many calls on one connection
    grpc::ClientContext ctx;
    ctx.AddMetadata("workload.spiffe.io", "true");
    JWTSVIDRequest req;
    req.add_audience("a");
    req.add_audience(std::string(1000, 'b'));
    JWTSVIDResponse resp;
    grpc::Status status = stub_->FetchJWTSVID(&ctx, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(resp.svids_size(), 1);
    EXPECT_EQ(resp.svids(0).svid(), "a" + std::string(1000, 'b'));
    EXPECT_EQ(resp.svids(0).spiffe_id(), std::to_string(getuid()));
    EXPECT_EQ(resp.svids(0).hint(), "true");
  }
}

TEST_F(GrpcServerTest, ErrorsArriveWithTheirCodeAndExactMessage) {
  Start();
  grpc::ClientContext ctx;
  JWTSVIDRequest req;
  req.set_spiffe_id("fail");
  JWTSVIDResponse resp;
  grpc::Status status = stub_->FetchJWTSVID(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "denied:\nnon-ascii é %");
}

// The lean client the Workload API benchmark drives the agent with.
TEST_F(GrpcServerTest, TheLeanUnaryClientGetsAnswersAndExactErrors) {
  Start();
  absl::StatusOr<std::unique_ptr<UnaryClient>> client = UnaryClient::Connect(dir_.File("s.sock"));
  ASSERT_TRUE(client.ok()) << client.status();
  JWTSVIDRequest req;
  req.add_audience("a");
  req.add_audience(std::string(30000, 'b'));  // larger than one DATA frame
  for (int i = 0; i < 20; ++i) {              // many calls on one connection
    absl::StatusOr<std::string> bytes =
        (*client)->Call(kJwt, req.SerializeAsString(), {{"workload.spiffe.io", "true"}});
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    JWTSVIDResponse resp;
    ASSERT_TRUE(resp.ParseFromString(*bytes));
    ASSERT_EQ(resp.svids_size(), 1);
    EXPECT_EQ(resp.svids(0).svid(), "a" + std::string(30000, 'b'));
    EXPECT_EQ(resp.svids(0).spiffe_id(), std::to_string(getuid()));
    EXPECT_EQ(resp.svids(0).hint(), "true");
  }
  req.set_spiffe_id("fail");
  absl::StatusOr<std::string> denied = (*client)->Call(kJwt, req.SerializeAsString(), {});
  EXPECT_EQ(denied.status(), absl::PermissionDeniedError("denied:\nnon-ascii é %"));
  absl::StatusOr<std::string> unknown = (*client)->Call("/SpiffeWorkloadAPI/Nope", "", {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(UnaryClient::Connect(dir_.File("nothing.sock")).ok());
}

TEST_F(GrpcServerTest, TheLeanClientGivesUpOnASilentServerAndStaysDown) {
  Start();
  absl::StatusOr<std::unique_ptr<UnaryClient>> client =
      UnaryClient::Connect(dir_.File("s.sock"), absl::Milliseconds(200));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::string> silent = (*client)->Call(kX509, "", {{"hang", "1"}});
  EXPECT_EQ(silent.status().code(), absl::StatusCode::kDeadlineExceeded) << silent.status();
  // The unanswered stream is still open: the connection is not used for another call.
  JWTSVIDRequest req;
  req.add_audience("a");
  EXPECT_EQ((*client)->Call(kJwt, req.SerializeAsString(), {}).status(), silent.status());
}

TEST_F(GrpcServerTest, AStreamDeliversEveryMessageThenItsStatus) {
  Start();
  for (int round = 0; round < 5; ++round) {
    grpc::ClientContext ctx;
    auto reader = stub_->FetchX509SVID(&ctx, X509SVIDRequest());
    X509SVIDResponse resp;
    int n = 0;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.svids(0).spiffe_id(), "spiffe://t/" + std::to_string(n));
      ++n;
    }
    EXPECT_EQ(n, 3);
    EXPECT_TRUE(reader->Finish().ok());
  }
}

// Open, take the first message, cancel: thousands of times on one connection, which nghttp2's
// default rapid-reset limit (1,000 then 33/s) would end with GOAWAY.
TEST_F(GrpcServerTest, ManyStreamsCancelledAfterTheirFirstMessageKeepTheConnection) {
  Start();
  for (int i = 0; i < 3000; ++i) {
    grpc::ClientContext ctx;
    auto reader = stub_->FetchX509SVID(&ctx, X509SVIDRequest());
    X509SVIDResponse resp;
    ASSERT_TRUE(reader->Read(&resp)) << "stream " << i << ": " << reader->Finish().error_message();
    ctx.TryCancel();
    reader->Finish();
  }
}

TEST_F(GrpcServerTest, AnUnknownMethodIsUnimplemented) {
  Start();
  grpc::ClientContext ctx;
  X509BundlesRequest req;
  auto reader = stub_->FetchX509Bundles(&ctx, req);
  X509BundlesResponse resp;
  EXPECT_FALSE(reader->Read(&resp));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("/SpiffeWorkloadAPI/FetchX509Bundles"));
}

TEST_F(GrpcServerTest, AnOversizedRequestIsResourceExhausted) {
  Start();
  grpc::ClientContext ctx;
  JWTSVIDRequest req;
  req.add_audience(std::string(70 << 10, 'x'));
  JWTSVIDResponse resp;
  grpc::Status status = stub_->FetchJWTSVID(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("over the limit of 65536 bytes"));
  // The connection is still good.
  grpc::ClientContext again;
  JWTSVIDRequest small;
  small.add_audience("x");
  EXPECT_TRUE(stub_->FetchJWTSVID(&again, small, &resp).ok());
}

TEST_F(GrpcServerTest, TheClientsDeadlineEndsAStreamAndTheHandlerHearsOfIt) {
  Start();
  grpc::ClientContext ctx;
  ctx.AddMetadata("hang", "1");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  auto reader = stub_->FetchX509SVID(&ctx, X509SVIDRequest());
  X509SVIDResponse resp;
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(cancelled_.WaitForNotificationWithTimeout(absl::Seconds(5)));
  absl::MutexLock lock(&mu_);
  ASSERT_NE(hanging_, nullptr);
  EXPECT_TRUE(hanging_->done());
  EXPECT_FALSE(hanging_->Write(X509SVIDResponse()));  // a write after the end is refused
}

TEST_F(GrpcServerTest, ACancelledStreamIsCancelledOnTheServer) {
  Start();
  grpc::ClientContext ctx;
  ctx.AddMetadata("hang", "1");
  auto reader = stub_->FetchX509SVID(&ctx, X509SVIDRequest());
  WaitForTheHangingCall();
  ctx.TryCancel();
  EXPECT_TRUE(cancelled_.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(GrpcServerTest, ShutdownEndsOpenStreamsAndRefusesNewConnections) {
  Start();
  grpc::ClientContext ctx;
  ctx.AddMetadata("hang", "1");
  auto reader = stub_->FetchX509SVID(&ctx, X509SVIDRequest());
  WaitForTheHangingCall();
  std::thread finisher([this] {
    absl::SleepFor(absl::Milliseconds(100));
    absl::MutexLock lock(&mu_);
    hanging_->Finish(absl::UnavailableError("shutting down"));
  });
  server_->Shutdown(absl::Seconds(5));
  finisher.join();
  EXPECT_EQ(server_->connections(), 0u);
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A peer gone before the server's SETTINGS are written must not raise SIGPIPE (which would end
// the process: this test's, or the agent's).
TEST_F(GrpcServerTest, PeersThatHangUpAtOnceDoNotKillTheServer) {
  Start();
  for (int i = 0; i < 50; ++i) {
    const int fd = RawConnect();
    ASSERT_GE(fd, 0);
    // Half a client preface, then gone.
    ASSERT_EQ(write(fd, "PRI * HTTP/2.0", 14), 14);
    close(fd);
  }
  absl::SleepFor(absl::Milliseconds(200));
  ExpectAUnaryCallWorks();
}

// Bytes that are not HTTP/2 close the connection and nothing else.
TEST_F(GrpcServerTest, GarbageClosesOnlyItsConnection) {
  Start();
  const int fd = RawConnect();
  ASSERT_GE(fd, 0);
  const std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
  }
  EXPECT_EQ(n, 0);  // the server hung up
  close(fd);
  ExpectAUnaryCallWorks();
}

// A status message longer than a header block may be is cut, not left unsent (the client would
// wait for trailers that never come).
TEST_F(GrpcServerTest, AVeryLongStatusMessageIsCutAndStillArrives) {
  Start();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  JWTSVIDRequest req;
  req.set_spiffe_id("fail-long");
  JWTSVIDResponse resp;
  grpc::Status status = stub_->FetchJWTSVID(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), std::string(1024, 'a'));
}

TEST_F(GrpcServerTest, OneUidCannotTakeEveryConnectionSlot) {
  Start({.loops = 2, .max_connections_per_uid = 2});
  const int a = RawConnect();
  const int b = RawConnect();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // The third from the same uid is closed at once.
  const int c = RawConnect();
  ASSERT_GE(c, 0);
  char buf[256];
  ssize_t n = 0;
  while ((n = read(c, buf, sizeof(buf))) > 0) {
  }
  EXPECT_EQ(n, 0);
  close(c);
  // With one slot given back, a gRPC client gets in again.
  close(a);
  absl::SleepFor(absl::Milliseconds(300));
  ExpectAUnaryCallWorks();
  close(b);
}

TEST_F(GrpcServerTest, AConnectionThatSaysNothingIsClosedAfterThePrefaceTimeout) {
  Start({.loops = 1, .preface_timeout = absl::Milliseconds(200)});
  const int fd = RawConnect();
  ASSERT_GE(fd, 0);
  const absl::Time start = absl::Now();
  char buf[256];
  ssize_t n = 0;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {  // the server's SETTINGS, then EOF
  }
  EXPECT_EQ(n, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  close(fd);
  ExpectAUnaryCallWorks();  // a client that speaks stays
}

TEST(GrpcTimeoutTest, ParsesEveryUnitAndRefusesMalformedValues) {
  EXPECT_EQ(ParseGrpcTimeout("1S"), absl::Seconds(1));
  EXPECT_EQ(ParseGrpcTimeout("250m"), absl::Milliseconds(250));
  EXPECT_EQ(ParseGrpcTimeout("2H"), absl::Hours(2));
  EXPECT_EQ(ParseGrpcTimeout("3M"), absl::Minutes(3));
  EXPECT_EQ(ParseGrpcTimeout("7u"), absl::Microseconds(7));
  EXPECT_EQ(ParseGrpcTimeout("99999999n"), absl::Nanoseconds(99999999));
  EXPECT_EQ(ParseGrpcTimeout("S"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeout("123456789S"), std::nullopt);  // 9 digits
  EXPECT_EQ(ParseGrpcTimeout("-1S"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeout("1s"), std::nullopt);
}

TEST(PercentEncodeTest, EncodesControlBytesNonAsciiAndPercent) {
  EXPECT_EQ(PercentEncode("plain text"), "plain text");
  EXPECT_EQ(PercentEncode("a\nb%"), "a%0Ab%25");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
}

TEST(PercentDecodeTest, UndoesTheEncodingAndKeepsStrayPercents) {
  for (const std::string text : {"plain", "a\nb%", "\xc3\xa9 100%", ""}) {
    EXPECT_EQ(PercentDecode(PercentEncode(text)), text);
  }
  EXPECT_EQ(PercentDecode("%0a%41"), "\nA");
  EXPECT_EQ(PercentDecode("50% off"), "50% off");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%zz%"), "%zz%");
  EXPECT_EQ(PercentDecode("%+1"), "%+1");
}

}  // namespace
}  // namespace signet::rpc::h2
