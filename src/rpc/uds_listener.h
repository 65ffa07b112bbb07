// UdsListener: a Unix-domain-socket front door for gRPC servers that knows who is calling.
//
// gRPC's own UDS listener does not expose the caller's kernel credentials, so this class accepts
// connections itself, reads SO_PEERCRED, lets a router pick the grpc::Server that serves that
// caller (or refuse it), and hands the connected socket over with AddInsecureChannelFromFd.
// gRPC then names the peer "fd:N"; PeerRegistry maps that name back to the credentials.
//
// Thread-safe. The accept loop runs on its own thread until Stop() or destruction.
#ifndef SIGNET_RPC_UDS_LISTENER_H_
#define SIGNET_RPC_UDS_LISTENER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "src/common/unix_socket.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace signet::rpc {

// A process descriptor (pidfd_open) taken when a connection is accepted: it keeps naming that
// process even after its PID is reused, so "is the caller still alive" cannot be answered by
// another process that inherited the number. Owns the descriptor.
class PidFd {
 public:
  // NotFound when the process has already exited.
  static absl::StatusOr<std::shared_ptr<const PidFd>> Open(pid_t pid);
  // The process at the other end of connected Unix socket `socket_fd`, whose SO_PEERCRED pid is
  // `pid`. From the kernel's SO_PEERPIDFD (Linux 6.5+): the process that connected, even if its
  // PID has been reused since; on older kernels pidfd_open(pid) at accept time, which a PID
  // reused between connect and accept could fool.
  static absl::StatusOr<std::shared_ptr<const PidFd>> OfPeer(int socket_fd, pid_t pid);
  ~PidFd();
  PidFd(const PidFd&) = delete;
  PidFd& operator=(const PidFd&) = delete;

  // True while the process this descriptor was opened for has not exited.
  bool Alive() const;
  int fd() const { return fd_; }
  // True when the kernel named the process (SO_PEERPIDFD), not pidfd_open by number.
  bool from_socket() const { return from_socket_; }

 private:
  PidFd(int fd, bool from_socket) : fd_(fd), from_socket_(from_socket) {}
  int fd_;
  bool from_socket_;
};

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::shared_ptr<const PidFd> pidfd;  // set when the listener opens pidfds (open_pidfd)
};

// Credentials of the connections handed to gRPC, by gRPC's peer name ("fd:N"). A connection's
// entry is replaced when its descriptor number is reused by a later connection.
class PeerRegistry {
 public:
  void Set(int fd, const PeerCred& cred);
  // nullopt for a peer name this registry did not register.
  std::optional<PeerCred> Lookup(absl::string_view grpc_peer) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, PeerCred> by_fd_ ABSL_GUARDED_BY(mu_);
};

class UdsListener {
 public:
  // Returns the server that should serve this caller; nullptr closes the connection.
  using Router = std::function<grpc::Server*(const PeerCred&)>;

  // Takes over a connected socket (it owns `fd` from then on): the alternative to a router,
  // for servers that are not grpc::Servers.
  using Adopter = std::function<void(int fd, const PeerCred&)>;

  struct Options {
    std::string path;    // at most 107 bytes; its directory must exist
    mode_t mode = 0600;  // permission bits of the socket file
    Router router;       // exactly one of router and adopt
    Adopter adopt;
    PeerRegistry* registry = nullptr;  // required with a router
    // Take a pidfd of each caller at accept time (the Workload API); a caller that exited
    // before it was accepted is disconnected.
    bool open_pidfd = false;
  };

  // Binds and starts accepting. A stale socket file (nobody listening) is replaced; a live one is
  // FailedPrecondition ("already in use"); a non-socket file at `path` is never removed.
  static absl::StatusOr<std::unique_ptr<UdsListener>> Start(Options options);
  ~UdsListener();

  // Stops accepting and removes the socket file. Connections already handed to gRPC stay with
  // their server. Idempotent.
  void Stop();
  const std::string& path() const { return options_.path; }

 private:
  UdsListener(Options options, const UnixListener& listener, int wake_fd);
  void AcceptLoop();
  void HandOff(int fd);

  Options options_;
  const UnixListener listener_;  // the socket file, to remove only while it is ours
  int listen_fd_;
  int wake_fd_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The peer credentials of a connected Unix socket.
absl::StatusOr<PeerCred> GetPeerCred(int fd);

}  // namespace signet::rpc

#endif  // SIGNET_RPC_UDS_LISTENER_H_
