#include <boost/asio.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "guard/admin/admin_server.h"
#include "guard/bans/local_ban_authority.h"
#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/cli/crowdsec_wiring.h"
#include "guard/cli/failures_wiring.h"
#include "guard/cli/store_wiring.h"
#include "guard/clock/clock.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/server/forward_auth_server.h"
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

  // Listeners, threads and stores are built once from the restart-only settings; a reload
  // that would change them is refused (Service::reload_config).
  const RestartSettings& settings = policy->settings;
  const int threads = settings.threads > 0
                          ? settings.threads
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
  CrowdsecWiring crowdsec(*service, *policy, maintenance);
  if (!crowdsec.error().empty()) {
    log_event("error", "startup_failed", {{"error", crowdsec.error()}});
    std::fprintf(stderr, "%s\n", crowdsec.error().c_str());
    return 1;
  }
  if (!server.bind(settings.listen, &error)) {
    log_event("error", "startup_failed", {{"error", error}});
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }

  // Ready once a policy is loaded. The store adds no condition: with Redis down the on_error
  // policy answers at once, which is the point of the fallback (/metrics shows
  // edgeguard_store_fallback_active).
  // The admin API's bans: this process's table in local mode (the Redis store's authority
  // replaces it in Redis mode). Callbacks run on the maintenance loop, as the API expects.
  LocalBanAuthority bans(
      service->local_bans(), [&service] { return service->snapshot()->policy->bans.escalation; },
      [&maintenance](std::function<void()> f) { boost::asio::post(maintenance, std::move(f)); });
  AdminServer admin(maintenance, {[&service] { return service->metrics().render(); },
                                  [&service](std::string* why) {
                                    if (service->ready()) return true;
                                    *why = "no policy loaded";
                                    return false;
                                  },
                                  [&service] { return service->snapshot()->policy; }, &bans});
  if (!admin.bind(settings.admin_listen, &error)) {
    log_event("error", "startup_failed", {{"error", error}});
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  FailuresWiring failures(*service, *policy, stores.maintenance_store(), maintenance,
                          admin.router());

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
        boost::asio::post(maintenance, [&] {
          crowdsec.stop();
          failures.stop();
          maintenance.stop();
        });
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
  failures.start();
  log_event("info", "started",
            {{"version", EDGEGUARD_VERSION},
             {"config", config_path},
             {"listen", settings.listen},
             {"port", static_cast<int>(server.port())},
             {"admin_port", static_cast<int>(admin.port())},
             {"threads", threads},
             {"routes", policy->routes.size()},
             {"store", settings.store.type == StoreType::redis ? "redis" : "local"}});
  maintenance.run();
  if (drainer.joinable()) drainer.join();
  log_event("info", "stopped", {});
  return 0;
}

}  // namespace edgeguard
