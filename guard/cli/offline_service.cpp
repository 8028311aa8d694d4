#include "guard/cli/offline_service.h"

#include <cstdio>

#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"

namespace edgeguard {

std::unique_ptr<Service> open_offline_service(const std::string& config_path) {
  set_log_enabled(false);
  PolicyLoad load = load_policy_file(config_path);
  if (!load.policy) {
    std::fprintf(stderr, "%s\n", load.error.c_str());
    return nullptr;
  }
  std::string error;
  auto service = Service::create(load.policy, "", &error);  // "": no config file to watch
  if (!service) std::fprintf(stderr, "%s\n", error.c_str());
  return service;
}

}  // namespace edgeguard
