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

namespace signet::proxy {

// InvalidArgument, naming the address, unless it is a valid host:port (with `names`) or
// unix:/absolute/path.
absl::Status CheckAddress(const std::string& address, HostNames names);

// A listening socket on `address`. TCP: *port is the bound port (port 0 picks one). unix:
// *port is 0; the socket file gets `unix_mode` (0600: only this uid, and root, can connect)
// before anyone can connect; a socket left at the path by a process that has gone is
// replaced, anything else there (a live listener, a file that is not a socket) is an error.
absl::StatusOr<int> ListenOn(const std::string& address, unsigned unix_mode, int* port);

// A --listen-mode: octal, at most 0777, and readable and writable by the owner.
absl::StatusOr<unsigned> ParseSocketMode(absl::string_view text);

// Removes the socket file of a unix: address that ListenOn created; nothing for TCP.
void RemoveListenSocket(const std::string& address);

// Waits until `fd` is ready for `events` or `deadline`; false on timeout or error.
bool WaitFor(int fd, short events, absl::Time deadline);

// TCP_NODELAY and keepalive on a TCP socket; nothing on a Unix one.
void TuneSocket(int fd);

// A non-blocking socket connected to `address` by `deadline`, or -1 with *error set.
int ConnectTo(const std::string& address, absl::Time deadline, std::string* error);

// "ip:port" of a TCP peer, "unix:uid=N" of a Unix one.
std::string PeerAddress(int fd);

}  // namespace signet::proxy

#endif  // SIGNET_PROXY_ENDPOINT_H_
