// Listening Unix sockets as both the agent's Workload API and `signet proxy` make them: the
// file gets its mode at bind time (from the umask, never a chmod that could follow a symlink
// planted at the path), a stale socket left by a process that has gone is replaced and nothing
// else is, and the file is removed only while it is still the one this process bound.
#ifndef SIGNET_COMMON_UNIX_SOCKET_H_
#define SIGNET_COMMON_UNIX_SOCKET_H_

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace signet {

// The sockaddr of `path`: not empty, at most 107 bytes, no NUL.
absl::StatusOr<sockaddr_un> UnixSocketAddress(absl::string_view path);

// A bound, listening socket and the identity of the file bind created.
struct UnixListener {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
};

// Binds and listens on `path` with permission bits `mode` (`flags`: SOCK_NONBLOCK, ... for
// socket()). Before binding, what is at the path is checked: nothing, or a socket nobody
// listens on (removed), or else FailedPrecondition ("in use", "not a socket"). On any failure
// nothing is left at the path by this call. The check, bind and listen hold an exclusive flock
// on `path` + kLockSuffix (a 0600 file of this user's, created if need be and left in place as
// lock files are), so two processes starting at once cannot both take the path: the second
// waits (up to kSocketLockWait, then Unavailable) and finds the first listening.
inline constexpr char kLockSuffix[] = ".lock";
inline constexpr absl::Duration kSocketLockWait = absl::Seconds(2);
absl::StatusOr<UnixListener> ListenUnix(const std::string& path, mode_t mode, int flags,
                                        int backlog);

// Removes `path` if it is still the socket `listener` bound (another process may have taken
// the path since). Call before closing the listener's descriptor.
void RemoveUnixSocket(const std::string& path, const UnixListener& listener);

}  // namespace signet

#endif  // SIGNET_COMMON_UNIX_SOCKET_H_
