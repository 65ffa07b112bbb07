#include "src/rpc/uds_listener.h"

#include <fcntl.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/common/status_macros.h"
#include "src/common/unix_socket.h"

namespace signet::rpc {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PidFd>> PidFd::Open(pid_t pid) {
  const long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    return errno == ESRCH ? absl::NotFoundError(absl::StrCat("process ", pid, " has exited"))
                          : Errno(absl::StrCat("pidfd_open ", pid));
  }
  return std::shared_ptr<const PidFd>(new PidFd(static_cast<int>(fd), false));
}

absl::StatusOr<std::shared_ptr<const PidFd>> PidFd::OfPeer(int socket_fd, pid_t pid) {
#ifndef SO_PEERPIDFD
  constexpr int SO_PEERPIDFD = 77;  // <asm-generic/socket.h> since Linux 6.5
#endif
  int fd = -1;
  socklen_t len = sizeof(fd);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
    return std::shared_ptr<const PidFd>(new PidFd(fd, true));
  }
  if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " has exited"));
  if (errno != ENOPROTOOPT && errno != EINVAL) return Errno("SO_PEERPIDFD");
  return Open(pid);  // a kernel before 6.5
}

PidFd::~PidFd() { close(fd_); }

bool PidFd::Alive() const {
  // Signal 0 checks for existence only; a pidfd of an exited process answers ESRCH.
  return syscall(SYS_pidfd_send_signal, fd_, 0, nullptr, 0) == 0 || errno == EPERM;
}

void PeerRegistry::Set(int fd, const PeerCred& cred) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = cred;
}

std::optional<PeerCred> PeerRegistry::Lookup(absl::string_view grpc_peer) const {
  if (!absl::ConsumePrefix(&grpc_peer, "fd:")) return std::nullopt;
  int fd = -1;
  if (!absl::SimpleAtoi(grpc_peer, &fd)) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<PeerCred> GetPeerCred(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Errno("SO_PEERCRED");
  return PeerCred{.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
}

absl::StatusOr<std::unique_ptr<UdsListener>> UdsListener::Start(Options options) {
  const bool routed = options.registry != nullptr && options.router;
  if (routed == static_cast<bool>(options.adopt)) {
    return absl::InvalidArgumentError(
        "uds listener: give either a registry and a router, or an adopter");
  }
  SIGNET_ASSIGN_OR_RETURN(UnixListener listener,
                          ListenUnix(options.path, options.mode, SOCK_NONBLOCK, 128));
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    absl::Status status = Errno("eventfd");
    RemoveUnixSocket(options.path, listener);
    close(listener.fd);
    return status;
  }
  return std::unique_ptr<UdsListener>(new UdsListener(std::move(options), listener, wake));
}

UdsListener::UdsListener(Options options, const UnixListener& listener, int wake_fd)
    : options_(std::move(options)),
      listener_(listener),
      listen_fd_(listener.fd),
      wake_fd_(wake_fd) {
  thread_ = std::thread([this] { AcceptLoop(); });
}

UdsListener::~UdsListener() {
  Stop();
  close(wake_fd_);
}

void UdsListener::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  RemoveUnixSocket(options_.path, listener_);  // before close: the path is still ours
  close(listen_fd_);
}

void UdsListener::AcceptLoop() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors: the pending connection stays queued and poll() would report it at
      // once, so back off instead of spinning.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        poll(&fds[1], 1, 100);
      }
      continue;  // EAGAIN, ECONNABORTED: keep serving the others
    }
    HandOff(fd);
  }
}

void UdsListener::HandOff(int fd) {
  absl::StatusOr<PeerCred> cred = GetPeerCred(fd);
  if (!cred.ok()) {
    close(fd);
    return;
  }
  if (options_.open_pidfd) {
    absl::StatusOr<std::shared_ptr<const PidFd>> pidfd = PidFd::OfPeer(fd, cred->pid);
    if (!pidfd.ok()) {  // gone already: nothing could be attested about it
      close(fd);
      return;
    }
    cred->pidfd = *std::move(pidfd);
  }
  if (options_.adopt) {
    options_.adopt(fd, *cred);
    return;
  }
  grpc::Server* server = options_.router(*cred);
  if (server == nullptr) {
    close(fd);
    return;
  }
  // Register before gRPC can read a byte from the connection.
  options_.registry->Set(fd, *cred);
  grpc::AddInsecureChannelFromFd(server, fd);
}

}  // namespace signet::rpc
