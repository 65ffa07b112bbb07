#include "src/rpc/h2/grpc_server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/common/logging.h"
#include "src/rpc/h2/connection.h"

namespace signet::rpc::h2 {
// One epoll thread and the connections it owns.
class Server::Loop final : public ConnectionOwner {
 public:
  // `closed` runs on the loop thread for every connection it closes.
  static absl::StatusOr<std::unique_ptr<Loop>> Create(absl::Duration preface_timeout,
                                                      std::function<void(uid_t)> closed) {
    const int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return absl::InternalError(absl::StrCat("epoll_create1: ", strerror(errno)));
    const int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake < 0) {
      close(epfd);
      return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epfd, EPOLL_CTL_ADD, wake, &ev);
    return std::unique_ptr<Loop>(new Loop(epfd, wake, preface_timeout, std::move(closed)));
  }

  ~Loop() override {
    Stop();
    close(wake_fd_);
    close(epoll_fd_);
  }

  // False (and nothing taken) once the loop is stopping.
  bool Adopt(int fd, std::shared_ptr<Connection> connection) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (stop_) return false;
    count_.fetch_add(1);
    adopted_.emplace_back(fd, std::move(connection));
    WakeLocked();
    return true;
  }

  void Schedule(std::shared_ptr<Connection> connection) override ABSL_LOCKS_EXCLUDED(mu_) {
    if (current_ == this) {
      local_.push_back(std::move(connection));
      return;
    }
    absl::MutexLock lock(&mu_);
    posted_.push_back(std::move(connection));
    WakeLocked();
  }

  void GoAwayAll() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    goaway_ = true;
    WakeLocked();
  }

  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      WakeLocked();
    }
    if (thread_.joinable()) thread_.join();
  }

  size_t connections() const { return count_.load(); }

 private:
  struct Conn {
    int fd;
    std::shared_ptr<Connection> connection;
    absl::Time adopted_at;
    std::string out;
    size_t out_sent = 0;
    bool want_out = false;
    bool dirty = false;
    bool closed = false;
  };

  Loop(int epfd, int wake, absl::Duration preface_timeout, std::function<void(uid_t)> closed)
      : epoll_fd_(epfd),
        wake_fd_(wake),
        preface_timeout_(preface_timeout),
        closed_callback_(std::move(closed)),
        thread_([this] { Run(); }) {}

  void WakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (wake_pending_) return;
    wake_pending_ = true;
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }

  void Run() {
    current_ = this;
    epoll_event events[64];
    absl::Time next_deadline_scan = absl::InfinitePast();
    while (true) {
      const int timeout = !deadline_conns_.empty() ? 50 : !unheard_.empty() ? 1000 : -1;
      const int n = epoll_wait(epoll_fd_, events, std::size(events), timeout);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          if (!TakePosted()) return CloseAll();
          continue;
        }
        Conn* conn = static_cast<Conn*>(events[i].data.ptr);
        if (conn->closed) continue;  // in this batch already
        if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0 && !ReadFrom(*conn)) {
          Close(conn);
          continue;
        }
        MarkDirty(*conn);
      }
      const absl::Time now = absl::Now();
      if (!deadline_conns_.empty() && now >= next_deadline_scan) {
        next_deadline_scan = now + absl::Milliseconds(50);
        for (auto it = deadline_conns_.begin(); it != deadline_conns_.end();) {
          Conn* conn = *it;
          conn->connection->ExpireDeadlines(now);
          MarkDirty(*conn);
          if (!conn->connection->has_deadlines()) {
            deadline_conns_.erase(it++);
          } else {
            ++it;
          }
        }
      }
      CloseSilent(now);
      RunLocal();
      FlushDirty();
      closed_.clear();
    }
    CloseAll();
  }

  // Takes adopted connections and posted work. False when the loop must stop.
  bool TakePosted() ABSL_LOCKS_EXCLUDED(mu_) {
    uint64_t value = 0;
    (void)!read(wake_fd_, &value, sizeof(value));
    std::vector<std::pair<int, std::shared_ptr<Connection>>> adopted;
    std::vector<std::shared_ptr<Connection>> posted;
    bool goaway = false;
    {
      absl::MutexLock lock(&mu_);
      wake_pending_ = false;
      if (stop_) return false;
      adopted.swap(adopted_);
      posted.swap(posted_);
      goaway = goaway_;
      goaway_ = false;
    }
    for (auto& [fd, connection] : adopted) {
      auto conn = std::make_unique<Conn>(
          Conn{.fd = fd, .connection = std::move(connection), .adopted_at = absl::Now()});
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = conn.get();
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        closed_callback_(conn->connection->uid());
        count_.fetch_sub(1);
        continue;
      }
      Conn* raw = conn.get();
      conns_[raw->connection.get()] = std::move(conn);
      unheard_.insert(raw);
      if (shutting_down_) raw->connection->GoAway();
      MarkDirty(*raw);  // the server's SETTINGS
    }
    for (const std::shared_ptr<Connection>& connection : posted) {
      auto it = conns_.find(connection.get());
      if (it == conns_.end()) continue;
      connection->RunPosted();
      MarkDirty(*it->second);
    }
    if (goaway) {
      shutting_down_ = true;
      for (auto& [key, conn] : conns_) {
        conn->connection->GoAway();
        MarkDirty(*conn);
      }
    }
    return true;
  }

  // Connections that never sent a whole frame within preface_timeout.
  void CloseSilent(absl::Time now) {
    std::vector<Conn*> silent;
    for (auto it = unheard_.begin(); it != unheard_.end();) {
      Conn* conn = *it;
      if (conn->connection->heard_from_client()) {
        unheard_.erase(it++);
      } else {
        if (now - conn->adopted_at >= preface_timeout_) silent.push_back(conn);
        ++it;
      }
    }
    for (Conn* conn : silent) Close(conn);
  }

  void RunLocal() {
    while (!local_.empty()) {
      std::vector<std::shared_ptr<Connection>> local;
      local.swap(local_);
      for (const std::shared_ptr<Connection>& connection : local) {
        auto it = conns_.find(connection.get());
        if (it == conns_.end()) continue;
        connection->RunPosted();
        MarkDirty(*it->second);
      }
    }
  }

  void MarkDirty(Conn& conn) {
    if (conn.dirty) return;
    conn.dirty = true;
    dirty_.push_back(&conn);
  }

  void FlushDirty() {
    std::vector<Conn*> dirty;
    dirty.swap(dirty_);
    for (Conn* conn : dirty) {
      conn->dirty = false;
      if (conn->connection->has_deadlines()) deadline_conns_.insert(conn);
      if (!Flush(*conn) || (conn->out.empty() && conn->connection->Finished())) Close(conn);
    }
  }

  // Reads what is there (a bounded amount per turn, for fairness). False: close.
  bool ReadFrom(Conn& conn) {
    uint8_t buf[16 << 10];
    for (int i = 0; i < 4; ++i) {
      const ssize_t n = read(conn.fd, buf, sizeof(buf));
      if (n > 0) {
        if (!conn.connection->Receive(buf, static_cast<size_t>(n))) return false;
        if (static_cast<size_t>(n) < sizeof(buf)) return true;
        continue;
      }
      if (n == 0) return false;
      return errno == EAGAIN || errno == EINTR;
    }
    return true;
  }

  // Writes what the session has to say until the socket is full. False: close.
  bool Flush(Conn& conn) {
    while (true) {
      if (conn.out_sent == conn.out.size()) {
        conn.out.clear();
        conn.out_sent = 0;
        conn.connection->PullOutput(&conn.out, 64 << 10);
        if (conn.out.empty()) break;
      }
      // MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE in the agent.
      const ssize_t n = send(conn.fd, conn.out.data() + conn.out_sent,
                             conn.out.size() - conn.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        conn.out_sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return WantOut(conn, true);
      return false;
    }
    return WantOut(conn, false);
  }

  bool WantOut(Conn& conn, bool want) {
    if (conn.want_out == want) return true;
    conn.want_out = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
    ev.data.ptr = &conn;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd, &ev) == 0;
  }

  void Close(Conn* conn) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn->fd, nullptr);
    close(conn->fd);
    deadline_conns_.erase(conn);
    unheard_.erase(conn);
    std::erase(dirty_, conn);
    conn->closed = true;
    std::shared_ptr<Connection> connection = conn->connection;
    auto it = conns_.find(connection.get());
    closed_.push_back(std::move(it->second));  // kept until the end of this turn
    conns_.erase(it);
    connection->CancelAll();
    closed_callback_(connection->uid());
    count_.fetch_sub(1);
  }

  void CloseAll() {
    while (!conns_.empty()) Close(conns_.begin()->second.get());
    absl::MutexLock lock(&mu_);
    for (auto& [fd, connection] : adopted_) {
      close(fd);
      closed_callback_(connection->uid());
      count_.fetch_sub(1);
    }
    adopted_.clear();
    posted_.clear();
  }

  static thread_local const Loop* current_;

  const int epoll_fd_;
  const int wake_fd_;
  const absl::Duration preface_timeout_;
  const std::function<void(uid_t)> closed_callback_;
  std::atomic<size_t> count_{0};
  absl::Mutex mu_;
  std::vector<std::pair<int, std::shared_ptr<Connection>>> adopted_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Connection>> posted_ ABSL_GUARDED_BY(mu_);
  bool goaway_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  // The loop thread's own.
  absl::flat_hash_map<const Connection*, std::unique_ptr<Conn>> conns_;
  absl::flat_hash_set<Conn*> deadline_conns_;
  absl::flat_hash_set<Conn*> unheard_;  // no whole frame from the client yet
  std::vector<Conn*> dirty_;
  std::vector<std::unique_ptr<Conn>> closed_;  // closed this turn; events may still name them
  std::vector<std::shared_ptr<Connection>> local_;
  bool shutting_down_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

thread_local const Server::Loop* Server::Loop::current_ = nullptr;

absl::StatusOr<std::unique_ptr<Server>> Server::Create(Options options) {
  if (options.loops < 1) return absl::InvalidArgumentError("h2 server: loops must be >= 1");
  std::unique_ptr<Server> server(new Server(options));
  for (int i = 0; i < options.loops; ++i) {
    absl::StatusOr<std::unique_ptr<Loop>> loop =
        Loop::Create(options.preface_timeout, [s = server.get()](uid_t uid) { s->GiveSlot(uid); });
    if (!loop.ok()) return loop.status();
    server->loops_.push_back(*std::move(loop));
  }
  return server;
}

Server::Server(Options options) : options_(options) {}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

void Server::Register(std::string method, HandlerFactory factory) {
  methods_[std::move(method)] = std::move(factory);
}

std::vector<std::string> Server::Services() const {
  std::set<std::string> names;
  for (const auto& [method, factory] : methods_) {
    const size_t slash = method.rfind('/');
    if (slash != std::string::npos && slash > 1) names.insert(method.substr(1, slash - 1));
  }
  return {names.begin(), names.end()};
}

bool Server::TakeSlot(uid_t uid) {
  absl::MutexLock lock(&slots_mu_);
  size_t& n = per_uid_[uid];
  if (n >= options_.max_connections_per_uid) return false;
  ++n;
  return true;
}

void Server::GiveSlot(uid_t uid) {
  absl::MutexLock lock(&slots_mu_);
  auto it = per_uid_.find(uid);
  if (it == per_uid_.end()) return;
  if (--it->second == 0) per_uid_.erase(it);
}

void Server::Adopt(int fd, const PeerCred& peer) {
  if (shut_down_.load() || connections() >= options_.max_connections) {
    close(fd);
    return;
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    close(fd);
    return;
  }
  if (!TakeSlot(peer.uid)) {
    LogWarn("workload socket: too many connections from one uid; closing the newest",
            {{"uid", static_cast<int64_t>(peer.uid)},
             {"limit", static_cast<int64_t>(options_.max_connections_per_uid)}});
    close(fd);
    return;
  }
  const uint64_t id = next_connection_.fetch_add(1);
  // The loop with the fewest connections: long-lived callers spread evenly whatever the order
  // short-lived ones came and went in.
  Loop* loop = loops_[0].get();
  for (const auto& candidate : loops_) {
    if (candidate->connections() < loop->connections()) loop = candidate.get();
  }
  std::shared_ptr<Connection> connection =
      Connection::Create({.methods = &methods_,
                          .max_request_bytes = options_.max_request_bytes,
                          .max_concurrent_streams = options_.max_concurrent_streams,
                          .max_header_bytes = options_.max_header_bytes},
                         peer, id, loop);
  if (connection == nullptr) {
    GiveSlot(peer.uid);
    close(fd);
    return;
  }
  if (!loop->Adopt(fd, connection)) {
    GiveSlot(peer.uid);
    close(fd);
  }
}

void Server::Shutdown(absl::Duration grace) {
  if (shut_down_.exchange(true)) return;
  for (auto& loop : loops_) loop->GoAwayAll();
  const absl::Time deadline = absl::Now() + grace;
  while (connections() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  for (auto& loop : loops_) loop->Stop();
}

size_t Server::connections() const {
  size_t total = 0;
  for (const auto& loop : loops_) total += loop->connections();
  return total;
}

}  // namespace signet::rpc::h2
