#include "src/common/unix_socket.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace signet {
namespace {

absl::Status Errno(absl::string_view what, absl::string_view path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Removes a socket file nobody listens on; refuses to touch anything else. The probe does not
// block: a listener whose backlog is full (EAGAIN) is alive, and so is any answer but a refusal.
absl::Status ClearStaleSocket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno("socket path", path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket path ", path, " exists and is not a socket; not removing it"));
  }
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return Errno("socket for", path);
  const bool refused =
      connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 &&
      errno == ECONNREFUSED;
  close(probe);
  if (!refused) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket ", path, " is already in use by another process"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("removing stale socket", path);
  return absl::OkStatus();
}

// Holds an exclusive flock on `<path>.lock` from before the stale check until after listen().
// Without it a second process starting at the same moment could find the first's socket bound
// but not yet listening, take it for stale and remove it. The lock file is 0600 and must be
// this user's own regular file, so no other user can hold the lock and keep the socket from
// being made; the kernel drops the lock when a holder dies. Where no such file can be had (a
// directory this process may not write, a file of another user's or a symlink at that name) it
// goes on unlocked, as before the lock existed.
class SocketPathLock {
 public:
  explicit SocketPathLock(int fd) : fd_(fd) {}
  SocketPathLock(SocketPathLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  SocketPathLock& operator=(SocketPathLock&&) = delete;
  ~SocketPathLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }

 private:
  int fd_;
};

absl::StatusOr<SocketPathLock> LockSocketPath(const std::string& path) {
  const std::string lock_path = path + kLockSuffix;
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return SocketPathLock(-1);  // bind reports a directory it cannot use precisely
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return SocketPathLock(-1);
  }
  constexpr absl::Duration kPoll = absl::Milliseconds(5);
  for (int64_t tries = kSocketLockWait / kPoll; flock(fd, LOCK_EX | LOCK_NB) != 0; --tries) {
    if (errno != EWOULDBLOCK && errno != EINTR) break;  // e.g. no locks on this file system
    if (tries <= 0) {
      close(fd);
      return absl::UnavailableError(absl::StrCat(
          "socket path ", path, ": another process of this user has held ", lock_path, " for ",
          absl::FormatDuration(kSocketLockWait), " while making a socket there; try again"));
    }
    absl::SleepFor(kPoll);
  }
  return SocketPathLock(fd);
}

}  // namespace

absl::StatusOr<sockaddr_un> UnixSocketAddress(absl::string_view path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return absl::InvalidArgumentError("socket path: empty");
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path: longer than ", sizeof(addr.sun_path) - 1, " bytes: ", path));
  }
  if (absl::StrContains(path, '\0')) {
    return absl::InvalidArgumentError("socket path: contains a NUL byte");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

absl::StatusOr<UnixListener> ListenUnix(const std::string& path, mode_t mode, int flags,
                                        int backlog) {
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(path);
  if (!addr.ok()) return addr.status();
  absl::StatusOr<SocketPathLock> lock = LockSocketPath(path);
  if (!lock.ok()) return lock.status();
  if (absl::Status s = ClearStaleSocket(path, *addr); !s.ok()) return s;
  UnixListener l;
  l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (l.fd < 0) return Errno("socket for", path);
  // The mode comes from the umask at bind time (process-wide, so only for the bind itself).
  const mode_t old_mask = umask(~mode & 0777);
  const int bound = bind(l.fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  umask(old_mask);
  if (bound != 0) {
    absl::Status status = Errno("bind", path);
    close(l.fd);
    return status;
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    l.dev = st.st_dev;
    l.ino = st.st_ino;
  }
  if (listen(l.fd, backlog) != 0) {
    absl::Status status = Errno("listen on", path);
    RemoveUnixSocket(path, l);
    close(l.fd);
    return status;
  }
  return l;
}

void RemoveUnixSocket(const std::string& path, const UnixListener& listener) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == listener.dev &&
      st.st_ino == listener.ino) {
    unlink(path.c_str());
  }
}

}  // namespace signet
