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

absl::string_view UnixPath(absl::string_view address) {
  return address.substr(sizeof(kUnixPrefix) - 1);
}

// The sockaddr of "unix:/absolute/path", or InvalidArgument naming the address.
absl::StatusOr<sockaddr_un> UnixAddress(absl::string_view address) {
  const absl::string_view path = UnixPath(address);
  if (!absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": want unix:/absolute/path"));
  }
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(path);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": ", addr.status().message()));
  }
  return addr;
}

// A Unix connect completes at once or fails; EAGAIN (the listener's backlog is full) is tried
// again until the deadline, as a TCP connect would wait for its handshake.
int ConnectToUnix(const std::string& address, absl::Time deadline, std::string* error) {
  absl::StatusOr<sockaddr_un> addr = UnixAddress(address);
  if (!addr.ok()) {
    *error = std::string(addr.status().message());
    return -1;
  }
  for (;;) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      *error = absl::StrCat("connect to ", address, ": socket: ", strerror(errno));
      return -1;
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) {
      error->clear();
      return fd;
    }
    const int err = errno;
    close(fd);
    if (err != EAGAIN || absl::Now() >= deadline) {
      *error = absl::StrCat("connect to ", address, ": ",
                            err == EAGAIN ? "the listener's backlog is full" : strerror(err));
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace

absl::Status CheckAddress(const std::string& address, HostNames names) {
  if (IsUnix(address)) return UnixAddress(address).status();
  std::string host;
  std::string port;
  return SplitHostPort(address, names, &host, &port);
}

void RemoveListenSocket(const Listener& listener) {
  if (!listener.unix_path.empty()) RemoveUnixSocket(listener.unix_path, listener.unix_file);
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

absl::StatusOr<Listener> ListenOn(const std::string& address, unsigned unix_mode) {
  Listener l;
  if (IsUnix(address)) {
    if (absl::Status s = UnixAddress(address).status(); !s.ok()) return s;
    l.unix_path = std::string(UnixPath(address));
    absl::StatusOr<UnixListener> bound = ListenUnix(l.unix_path, unix_mode, 0, 512);
    if (!bound.ok()) {
      return absl::Status(bound.status().code(),
                          absl::StrCat("listen on ", address, ": ", bound.status().message()));
    }
    l.unix_file = *bound;
    l.fd = bound->fd;
    return l;
  }
  auto ai = Resolve(address, true);
  if (!ai.ok()) return ai.status();
  const addrinfo* a = ai->get();
  l.fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (l.fd < 0 || bind(l.fd, a->ai_addr, a->ai_addrlen) != 0 || listen(l.fd, 512) != 0) {
    const int err = errno;
    if (l.fd >= 0) close(l.fd);
    return absl::UnavailableError(absl::StrCat("listen on ", address, ": ", strerror(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(l.fd, reinterpret_cast<sockaddr*>(&bound), &len);
  l.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return l;
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
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));  // dead peers end in the end
}

int ConnectTo(const std::string& address, absl::Time deadline, std::string* error) {
  if (IsUnix(address)) return ConnectToUnix(address, deadline, error);
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
