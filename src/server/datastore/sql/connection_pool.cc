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
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || !idle_.empty() || open_ < max_connections_;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), acquire_timeout_)) {
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
    absl::MutexLock lock(&mu_);
    --open_;
    return Annotate(absl::UnavailableError(conn.status().message()), "datastore: connect");
  }
  return Lease(this, *std::move(conn));
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn) {
  std::unique_ptr<Connection> discard;  // closed after the lock is released
  absl::MutexLock lock(&mu_);
  if (closed_ || !conn->healthy()) {
    --open_;
    discard = std::move(conn);
    return;
  }
  idle_.push_back(std::move(conn));
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    open_ -= static_cast<int>(idle_.size());
    idle.swap(idle_);
  }
}

}  // namespace signet::server::sql
