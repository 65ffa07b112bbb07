#include "src/proxy/pump_loop.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "src/common/logging.h"

namespace signet::proxy {

// PumpState speaks poll's events; on Linux epoll's have the same values.
static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT && EPOLLERR == POLLERR &&
              EPOLLHUP == POLLHUP);

struct PumpLoop::Conn {
  Conn(SslPtr s, int tls_fd, int plain_fd, Done d)
      : ssl(std::move(s)), state(ssl.get(), tls_fd, plain_fd), done(std::move(d)) {}
  SslPtr ssl;
  PumpState state;
  Done done;
  Side tls_side{this, true};
  Side plain_side{this, false};
  uint32_t tls_watched = 0;  // the events epoll reports for the socket; 0: not in the set
  uint32_t plain_watched = 0;
  short tls_revents = 0;  // what this turn's events said
  short plain_revents = 0;
  bool in_turn = false;
};

namespace {

absl::Status SysError(absl::string_view what) {
  return absl::InternalError(absl::StrCat("proxy: ", what, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PumpLoop>> PumpLoop::Start() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return SysError("epoll_create1");
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    absl::Status s = SysError("eventfd");
    close(epoll_fd);
    return s;
  }
  auto loop = std::unique_ptr<PumpLoop>(new PumpLoop(epoll_fd, wake_fd));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the one event without a Side
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) != 0) return SysError("epoll_ctl");
  try {
    loop->thread_ = std::thread([l = loop.get()] { l->Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("proxy: cannot start a thread: ", e.what()));
  }
  return loop;
}

PumpLoop::PumpLoop(int epoll_fd, int wake_fd) : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {}

PumpLoop::~PumpLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(epoll_fd_);
  close(wake_fd_);
}

void PumpLoop::Add(SslPtr ssl, int tls_fd, int plain_fd, Done done) {
  connections_.fetch_add(1, std::memory_order_relaxed);
  auto conn = std::make_unique<Conn>(std::move(ssl), tls_fd, plain_fd, std::move(done));
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      incoming_.push_back(std::move(conn));
      const uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof(one));
      return;
    }
  }
  PumpResult cut;
  cut.clean = false;
  conn->ssl.reset();
  std::move(conn->done)(cut);
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

bool PumpLoop::running() const {
  absl::MutexLock lock(&mu_);
  return !stopping_;
}

void PumpLoop::Run() {
  const ScopedSigpipeBlock no_sigpipe;
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  std::vector<Conn*> turn;
  for (;;) {
    // Busy connections step again at once: only look whether anything else is ready.
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, busy_.empty() ? -1 : 0);
    wakeups_.fetch_add(1, std::memory_order_relaxed);
    if (n < 0) {
      if (errno == EINTR) continue;
      LogError("proxy: a pump loop failed; its connections are cut",
               {{"error", std::string(strerror(errno))}});
      break;
    }
    // First what each connection's sockets said, then each connection steps once: no
    // connection ends while events that name it are still to be read.
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      Side* side = static_cast<Side*>(events[i].data.ptr);
      if (side == nullptr) {
        woken = true;
        continue;
      }
      Conn* c = side->conn;
      (side->tls ? c->tls_revents : c->plain_revents) |= static_cast<short>(events[i].events);
      if (!c->in_turn) {
        c->in_turn = true;
        turn.push_back(c);
      }
    }
    for (Conn* c : busy_) {
      if (!c->in_turn) {
        c->in_turn = true;
        turn.push_back(c);
      }
    }
    busy_.clear();
    for (Conn* c : turn) {
      c->in_turn = false;
      c->state.Ready(c->tls_revents, c->plain_revents);
      c->tls_revents = 0;
      c->plain_revents = 0;
      Advance(c);
    }
    turn.clear();
    if (woken && !TakeIncoming()) break;
  }
  EndAll();
}

bool PumpLoop::TakeIncoming() {
  uint64_t count;
  (void)!read(wake_fd_, &count, sizeof(count));
  std::vector<std::unique_ptr<Conn>> incoming;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    incoming.swap(incoming_);
  }
  for (std::unique_ptr<Conn>& owned : incoming) {
    Conn* c = owned.get();
    conns_.emplace(c, std::move(owned));
    Advance(c);  // the handshake may have left records in OpenSSL's buffer: no wait first
  }
  return true;
}

void PumpLoop::Advance(Conn* c) {
  const PumpState::Outcome outcome = c->state.Step();
  if (outcome == PumpState::Outcome::kWait || outcome == PumpState::Outcome::kBusy) {
    // A busy connection is stepped again next turn whatever epoll says (OpenSSL may hold
    // records no wait can see); its interest still stands meanwhile.
    if (outcome == PumpState::Outcome::kBusy) busy_.push_back(c);
    const PumpState::Interest in = c->state.interest();
    if (Watch(&c->tls_side, c->state.tls_fd(), &c->tls_watched, in.tls) &&
        Watch(&c->plain_side, c->state.plain_fd(), &c->plain_watched, in.plain)) {
      return;
    }
    if (outcome == PumpState::Outcome::kBusy) busy_.pop_back();
    LogError("proxy: cannot wait for a connection's sockets; it is cut",
             {{"error", std::string(strerror(errno))}});
    End(c, /*cut=*/true);
    return;
  }
  End(c, /*cut=*/false);
}

bool PumpLoop::Watch(Side* side, int fd, uint32_t* watched, short wanted) {
  const uint32_t events = static_cast<uint16_t>(wanted);
  if (events == *watched) return true;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = side;
  const int op = *watched == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_fd_, op, fd, &ev) != 0) return false;
  *watched = events;
  return true;
}

void PumpLoop::End(Conn* c, bool cut) {
  if (c->tls_watched != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->state.tls_fd(), nullptr);
  if (c->plain_watched != 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->state.plain_fd(), nullptr);
  auto node = conns_.extract(c);
  std::unique_ptr<Conn> owned = std::move(node.mapped());
  PumpResult result = c->state.result();
  if (cut) result.clean = false;
  owned->ssl.reset();
  std::move(owned->done)(result);
  connections_.fetch_sub(1, std::memory_order_relaxed);
}

void PumpLoop::EndAll() {
  std::vector<std::unique_ptr<Conn>> incoming;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;  // from here on Add() ends what it is given itself
    incoming.swap(incoming_);
  }
  for (std::unique_ptr<Conn>& owned : incoming) {
    Conn* c = owned.get();
    conns_.emplace(c, std::move(owned));
  }
  busy_.clear();
  while (!conns_.empty()) End(conns_.begin()->first, /*cut=*/true);
}

}  // namespace signet::proxy
