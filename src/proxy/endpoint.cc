#include "src/proxy/endpoint.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace signet::proxy {
namespace {

// ParseHostPort with the address named in the error.
absl::Status SplitHostPort(const std::string& address, HostNames names, std::string* host,
                           std::string* port) {
  uint16_t number = 0;
  if (absl::Status s = ParseHostPort(address, host, &number, names); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\": ", s.message()));
  }
  *port = absl::StrCat(number);
  return absl::OkStatus();
}

struct AddrInfoFree {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

absl::StatusOr<std::unique_ptr<addrinfo, AddrInfoFree>> Resolve(const std::string& address,
                                                                bool passive) {
  std::string host;
  std::string port;
  if (absl::Status s =
          SplitHostPort(address, passive ? HostNames::kListen : HostNames::kDial, &host, &port);
      !s.ok()) {
    return s;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": ", gai_strerror(rc)));
  }
  return std::unique_ptr<addrinfo, AddrInfoFree>(result);
}

constexpr char kUnixPrefix[] = "unix:";

bool IsUnix(absl::string_view address) { return absl::StartsWith(address, kUnixPrefix); }

// The sockaddr of "unix:/absolute/path", or InvalidArgument.
absl::StatusOr<sockaddr_un> UnixAddress(absl::string_view address) {
  const absl::string_view path = address.substr(sizeof(kUnixPrefix) - 1);
  sockaddr_un addr{};
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": want unix:/absolute/path"));
  }
  if (path.size() >= sizeof(addr.sun_path) || absl::StrContains(path, '\0')) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address,
                                                   "\": the path must be under ",
                                                   sizeof(addr.sun_path), " bytes, without NUL"));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

absl::Status Errno(absl::string_view what, const std::string& address, int err) {
  return absl::UnavailableError(absl::StrCat(what, " ", address, ": ", strerror(err)));
}

// What is at the path before a listener is bound there: nothing (fine), a socket nobody
// listens on any more (removed), or anything else (an error).
absl::Status ClearStaleSocket(const sockaddr_un& addr, const std::string& address) {
  struct stat st {};
  if (lstat(addr.sun_path, &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : Errno("listen on", address, errno);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("listen on ", address, ": the path exists and is not a socket"));
  }
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool live =
      probe >= 0 && connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  const int err = errno;
  if (probe >= 0) close(probe);
  if (live) {
    return absl::FailedPreconditionError(
        absl::StrCat("listen on ", address, ": another process is listening there"));
  }
  if (err != ECONNREFUSED) return Errno("listen on", address, err);
  if (unlink(addr.sun_path) != 0 && errno != ENOENT) return Errno("listen on", address, errno);
  return absl::OkStatus();
}

absl::StatusOr<int> ListenOnUnix(const std::string& address, unsigned mode) {
  absl::StatusOr<sockaddr_un> addr = UnixAddress(address);
  if (!addr.ok()) return addr.status();
  if (absl::Status s = ClearStaleSocket(*addr, address); !s.ok()) return s;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("listen on", address, errno);
  // Nobody can connect between bind and listen (connect is refused), so the mode is set
  // before anyone could.
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0 ||
      chmod(addr->sun_path, mode) != 0 || listen(fd, 512) != 0) {
    const int err = errno;
    close(fd);
    return Errno("listen on", address, err);
  }
  return fd;
}

int ConnectToUnix(const std::string& address, std::string* error) {
  absl::StatusOr<sockaddr_un> addr = UnixAddress(address);
  if (!addr.ok()) {
    *error = std::string(addr.status().message());
    return -1;
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  // A Unix connect completes at once or fails (EAGAIN: the listener's backlog is full).
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    *error = absl::StrCat("connect to ", address, ": ", strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  error->clear();
  return fd;
}

}  // namespace

absl::Status CheckAddress(const std::string& address, HostNames names) {
  if (IsUnix(address)) return UnixAddress(address).status();
  std::string host;
  std::string port;
  return SplitHostPort(address, names, &host, &port);
}

void RemoveListenSocket(const std::string& address) {
  if (!IsUnix(address)) return;
  if (absl::StatusOr<sockaddr_un> addr = UnixAddress(address); addr.ok()) unlink(addr->sun_path);
}

absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text) {
  unsigned mode = 0;
  const bool octal =
      !text.empty() && text.size() <= 4 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (octal) {
    for (char c : text) mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (!octal || mode > 0777) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen-mode \"", text, "\": want an octal file mode such as 0600 or 0660"));
  }
  if ((mode & 0600) != 0600) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen-mode \"", text, "\": the owner must be able to read and write (06xx)"));
  }
  return mode;
}

absl::StatusOr<int> ListenOn(const std::string& address, unsigned unix_mode, int* port) {
  if (IsUnix(address)) {
    *port = 0;
    return ListenOnUnix(address, unix_mode);
  }
  auto ai = Resolve(address, true);
  if (!ai.ok()) return ai.status();
  const addrinfo* a = ai->get();
  const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 512) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("listen on ", address, ": ", strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

void TuneSocket(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.ss_family == AF_UNIX) {
    return;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));  // dead peers end in the end
}

int ConnectTo(const std::string& address, absl::Time deadline, std::string* error) {
  if (IsUnix(address)) return ConnectToUnix(address, error);
  auto ai = Resolve(address, false);
  if (!ai.ok()) {
    *error = std::string(ai.status().message());
    return -1;
  }
  *error = absl::StrCat("connect to ", address, ": no address");
  for (const addrinfo* a = ai->get(); a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      *error = absl::StrCat("connect to ", address, ": socket: ", strerror(errno));
      continue;
    }
    int err = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (!WaitFor(fd, POLLOUT, deadline)) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err == 0) {
      TuneSocket(fd);
      error->clear();
      return fd;
    }
    *error =
        absl::StrCat("connect to ", address, ": ", err == ETIMEDOUT ? "timed out" : strerror(err));
    close(fd);
  }
  return -1;
}

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t cred_len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0) return "unix:?";
    return absl::StrCat("unix:uid=", cred.uid);
  }
  if (len > 0 && addr.ss_family != AF_UNSPEC) {
    getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof(host), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace signet::proxy
