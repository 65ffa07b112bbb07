// ConnectionPool: at most `max_connections` connections, opened on demand and reused.
//
// Thread-safe. A Lease gives one thread exclusive use of a connection and returns it on
// destruction (a broken connection is discarded instead). After Close(), Acquire fails with
// Unavailable and leased connections are closed when returned. The pool must outlive its leases.
//
// Uses std::mutex rather than absl::Mutex: the connections it hands between threads are what
// ThreadSanitizer must see synchronized, and the distribution's Abseil is not built with
// ThreadSanitizer annotations (every hand-off would be reported as a race).
#ifndef SIGNET_SERVER_DATASTORE_SQL_CONNECTION_POOL_H_
#define SIGNET_SERVER_DATASTORE_SQL_CONNECTION_POOL_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/server/datastore/sql/sql_connection.h"

namespace signet::server::sql {

class ConnectionPool {
 public:
  using Factory = std::function<absl::StatusOr<std::unique_ptr<Connection>>()>;

  // REQUIRES: max_connections >= 1.
  ConnectionPool(Factory factory, int max_connections,
                 absl::Duration acquire_timeout = absl::Seconds(30));
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits for a free connection (opening one when below the limit). Unavailable after Close(),
  // when opening fails, or after the acquire timeout.
  absl::StatusOr<Lease> Acquire();
  void Close();

 private:
  void Release(std::unique_ptr<Connection> conn);

  const Factory factory_;
  const int max_connections_;
  const absl::Duration acquire_timeout_;
  std::mutex mu_;
  std::condition_variable changed_;  // a connection was returned or closed, or the pool closed
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace signet::server::sql

#endif  // SIGNET_SERVER_DATASTORE_SQL_CONNECTION_POOL_H_
