#pragma once
// The ForwardAuth listener: one Worker per thread (worker.h: event loop, SO_REUSEPORT acceptor,
// sessions, store, cached Snapshot). Sessions (session.h) move bytes; each request is answered
// by a ForwardAuthHandler (forward_auth_handler.h) through the shared decision pipeline.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "guard/server/server_stats.h"
#include "guard/service/service.h"
#include "guard/store/store.h"

namespace boost::asio {
class io_context;
}

namespace edgeguard {

class Worker;

// Makes the limit store a worker uses; called on each worker's thread setup. The default uses
// the service's local store. Redis mode supplies a per-thread store on the worker's io_context.
using StoreFactory = std::function<LimitStore*(boost::asio::io_context& io, int thread_index)>;

class ForwardAuthServer {
 public:
  ForwardAuthServer(Service& service, int threads);
  ~ForwardAuthServer();

  void set_store_factory(StoreFactory factory) { store_factory_ = std::move(factory); }

  // Binds `listen` (HOST:PORT; port 0 picks one). Returns false with `error` set.
  bool bind(const std::string& listen, std::string* error);
  std::uint16_t port() const { return port_; }

  // Runs the worker threads; returns at once. stop() drains: listeners close, in-flight
  // requests are answered with "Connection: close", idle connections close, then the threads
  // end (at the latest after `drain_timeout_ns`).
  void start();
  void stop(std::int64_t drain_timeout_ns);
  void join();

  std::int64_t open_connections() const;

 private:
  Service& service_;
  ServerStats stats_;
  int threads_;
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> pool_;
  StoreFactory store_factory_;
  MetricsRegistry::Registration registration_;  // last: unregistered before what it reads
};

}  // namespace edgeguard
