#include "guard/cli/store_wiring.h"

namespace edgeguard {

struct StoreWiring::Impl {
  Service& service;
};

StoreWiring::StoreWiring(Service& service, const Policy&, boost::asio::io_context&)
    : impl_(std::make_unique<Impl>(Impl{service})) {}

StoreWiring::~StoreWiring() = default;

StoreFactory StoreWiring::factory() {
  Service* service = &impl_->service;
  return [service](void*, int) -> LimitStore* { return &service->local_store(); };
}

bool StoreWiring::ready(std::string*) const { return true; }

void StoreWiring::maintain() {}

}  // namespace edgeguard
