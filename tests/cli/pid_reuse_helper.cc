// Test helper for the PID-reuse test (pid_reuse_test.cc): a caller that connects to the
// Workload API socket and then lets its PID go while the connection lives on in a child.
//
//   pid_reuse_helper SOCKET GO_FILE exit|stay
//
// The process connects to SOCKET, forks, prints "PID <its pid>" and then either exits after
// 500 ms (exit: the agent has accepted the connection and taken its pidfd by then) or waits for
// the child (stay). The child keeps the connected socket, waits until GO_FILE exists, calls
// FetchX509SVID over that connection with the security header, and prints
// "RESULT <grpc code> <message>".
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "workload.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s SOCKET GO_FILE exit|stay\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[3];
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("connect");
    return 1;
  }
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child > 0) {
    std::printf("PID %d\n", getpid());
    std::fflush(stdout);
    if (mode == "exit") {
      usleep(500 * 1000);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return 0;
  }
  struct stat st {};
  for (int i = 0; i < 3000 && stat(argv[2], &st) != 0; ++i) usleep(10 * 1000);
  auto channel = grpc::CreateInsecureChannelFromFd("pid-reuse", fd);
  auto stub = SpiffeWorkloadAPI::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("workload.spiffe.io", "true");
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = stub->FetchX509SVID(&ctx, X509SVIDRequest());
  X509SVIDResponse resp;
  if (reader->Read(&resp)) {
    std::printf("RESULT 0 %s\n", resp.svids_size() > 0 ? resp.svids(0).spiffe_id().c_str() : "");
    std::fflush(stdout);
    ctx.TryCancel();
    return 0;
  }
  grpc::Status status = reader->Finish();
  std::printf("RESULT %d %s\n", static_cast<int>(status.error_code()),
              status.error_message().c_str());
  std::fflush(stdout);
  return 0;
}
