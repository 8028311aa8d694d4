#pragma once
// Which limit store each ForwardAuth thread uses: the service's local store, or (store.type:
// redis) a Redis store per thread with the local store as its fallback.
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <vector>

#include "guard/server/forward_auth_server.h"
#include "guard/service/service.h"

namespace edgeguard {

class StoreWiring {
 public:
  StoreWiring(Service& service, const Policy& policy, boost::asio::io_context& maintenance);
  ~StoreWiring();
  // Empty when the stores could be built; else why not (a startup error).
  const std::string& error() const { return error_; }
  StoreFactory factory();
  // The store for work on the maintenance loop (failure reports): the local store, or in Redis
  // mode a Redis store of the maintenance loop's own.
  LimitStore& maintenance_store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace edgeguard
