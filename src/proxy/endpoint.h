// The proxy's sockets: addresses as --listen, --backend and --connect take them, listening,
// connecting with a deadline, and naming a peer for the log. An address is "host:port" (TCP) or
// "unix:/absolute/path" (a Unix socket, e.g. for a backend that only listens on one).
#ifndef SIGNET_PROXY_ENDPOINT_H_
#define SIGNET_PROXY_ENDPOINT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/common/host_port.h"
#include "src/common/unix_socket.h"

namespace signet::proxy {

// InvalidArgument, naming the address, unless it is a valid host:port (with `names`) or
// unix:/absolute/path.
absl::Status CheckAddress(const std::string& address, HostNames names);

// A listening socket: TCP with the port bound (port 0 picks one), or unix: with its file.
struct Listener {
  int fd = -1;
  int port = 0;
  std::string unix_path;  // empty for TCP
  UnixListener unix_file;
};

// Listens on `address`. unix: the socket file gets `unix_mode` at bind time (0600: only this
// uid, and root, can connect); a socket left at the path by a process that has gone is
// replaced, anything else there (a live listener, a file that is not a socket) is an error.
absl::StatusOr<Listener> ListenOn(const std::string& address, unsigned unix_mode);

// A --listen-mode: octal, at most 0777, and readable and writable by the owner.
absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text);

// Removes a unix: listener's socket file while it is still the one ListenOn bound; nothing for
// TCP. Call before closing the listener's descriptor.
void RemoveListenSocket(const Listener& listener);

// Waits until `fd` is ready for `events` or `deadline`; false on timeout or error.
bool WaitFor(int fd, short events, absl::Time deadline);

// TCP_NODELAY and keepalive, for TCP sockets only.
void TuneSocket(int fd);

// A non-blocking socket connected to `address` by `deadline`, or -1 with *error set.
int ConnectTo(const std::string& address, absl::Time deadline, std::string* error);

// "ip:port" of a TCP peer, "unix:uid=N" of a Unix one.
std::string PeerAddress(int fd);

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_ENDPOINT_H_
