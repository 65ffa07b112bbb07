#include "src/server/datastore/sql/connection_pool.h"

#include <utility>

#include "absl/status/status.h"
#include "src/common/status_macros.h"

namespace signet::server::sql {

ConnectionPool::ConnectionPool(Factory factory, int max_connections, absl::Duration acquire_timeout)
    : factory_(std::move(factory)),
      max_connections_(max_connections),
      acquire_timeout_(acquire_timeout) {}

ConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) {
    pool_->Release(std::move(conn_));
  }
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool ready = changed_.wait_for(lock, absl::ToChronoNanoseconds(acquire_timeout_), [this] {
      return closed_ || !idle_.empty() || open_ < max_connections_;
    });
    if (!ready) {
      return absl::UnavailableError("datastore: timed out waiting for a database connection");
    }
    if (closed_) {
      return absl::UnavailableError("datastore: closed");
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserve the slot; open outside the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> conn = factory_();
  if (!conn.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    changed_.notify_one();
    return Annotate(absl::UnavailableError(conn.status().message()), "datastore: connect");
  }
  return Lease(this, *std::move(conn));
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn) {
  std::unique_ptr<Connection> discard;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || !conn->healthy()) {
      --open_;
      discard = std::move(conn);
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  changed_.notify_one();
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<Connection>> idle;  // closed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    open_ -= static_cast<int>(idle_.size());
    idle.swap(idle_);
  }
  changed_.notify_all();
}

}  // namespace signet::server::sql
