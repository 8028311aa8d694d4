#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "guard/admin/admin_server.h"
#include "guard/bans/table_ban_authority.h"  // INTERIM: see interim_bans below
#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/cli/store_wiring.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/server/forward_auth_server.h"
#include "guard/server/monotonic_clock.h"
#include "guard/service/service.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kDrainTimeoutNs = 10'000'000'000;
constexpr auto kMaintenanceInterval = std::chrono::seconds(1);

}  // namespace

int run_serve(int argc, char** argv) {
  std::string error;
  auto args = Args::parse(argc, argv, {"config"}, {}, &error);
  if (!args || !args->get("config")) {
    std::fprintf(stderr, "usage: edgeguard serve --config FILE%s%s\n", error.empty() ? "" : ": ",
                 error.c_str());
    return 2;
  }
  const std::string config_path = *args->get("config");
  PolicyLoad load = load_policy_file(config_path);
  if (!load.policy) {
    log_event("error", "config_invalid", {{"error", load.error}});
    std::fprintf(stderr, "%s\n", load.error.c_str());
    return 1;
  }
  const auto policy = load.policy;
  auto service = Service::create(policy, config_path, &error);
  if (!service) {
    log_event("error", "startup_failed", {{"error", error}});
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }

  const int threads = policy->threads > 0
                          ? policy->threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ForwardAuthServer server(*service, threads);
  boost::asio::io_context maintenance;
  StoreWiring stores(*service, *policy, maintenance);
  if (!stores.error().empty()) {
    log_event("error", "startup_failed", {{"error", stores.error()}});
    std::fprintf(stderr, "%s\n", stores.error().c_str());
    return 1;
  }
  server.set_store_factory(stores.factory());
  if (!server.bind(policy->listen, &error)) {
    log_event("error", "startup_failed", {{"error", error}});
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }

  // Ready once a policy is loaded. The store adds no condition: with Redis down the on_error
  // policy answers at once, which is the point of the fallback (/metrics shows
  // edgeguard_store_fallback_active).
  // INTERIM (admin branch) until the store-backed BanAuthority is wired here: the /v1/bans
  // endpoints are answered by a table of this process's own, which the request path does not
  // read (a ban made through the API is listed, not enforced). Replace `interim_bans` with the
  // store's authority and delete these lines and the include.
  TableBanAuthority interim_bans(maintenance.get_executor(), 10'000);
  AdminServer admin(maintenance,
                    {[&service] { return service->metrics().render(); },
                     [&service](std::string* why) {
                       if (service->ready()) return true;
                       *why = "no policy loaded";
                       return false;
                     },
                     [&service] { return service->snapshot()->policy; }, &interim_bans});
  if (!admin.bind(policy->admin_listen, &error)) {
    log_event("error", "startup_failed", {{"error", error}});
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }

  boost::asio::signal_set signals(maintenance, SIGHUP, SIGTERM, SIGINT);
  std::thread drainer;
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        std::string why;
        service->reload_config(&why);
        wait_signal();
        return;
      }
      log_event("info", "draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      admin.close();
      // Draining waits for in-flight requests; do it off the maintenance loop.
      drainer = std::thread([&] {
        server.stop(kDrainTimeoutNs);
        server.join();
        boost::asio::post(maintenance, [&] { maintenance.stop(); });
      });
    });
  };
  wait_signal();

  boost::asio::steady_timer tick(maintenance);
  std::function<void()> arm_tick = [&] {
    tick.expires_after(kMaintenanceInterval);
    tick.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      service->maintain(monotonic_ns());
      arm_tick();
    });
  };
  arm_tick();

  server.start();
  admin.start();
  log_event("info", "started",
            {{"version", EDGEGUARD_VERSION},
             {"config", config_path},
             {"listen", policy->listen},
             {"port", static_cast<int>(server.port())},
             {"admin_port", static_cast<int>(admin.port())},
             {"threads", threads},
             {"routes", policy->routes.size()},
             {"store", policy->store.type == StoreType::redis ? "redis" : "local"}});
  maintenance.run();
  if (drainer.joinable()) drainer.join();
  log_event("info", "stopped", {});
  return 0;
}

}  // namespace edgeguard
