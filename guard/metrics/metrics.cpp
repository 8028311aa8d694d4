#include "guard/metrics/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace edgeguard {
namespace {

thread_local int t_thread_index = kMaxThreads - 1;

void append_number(std::string& out, double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  out.append(buf, static_cast<std::size_t>(n));
}

void line(std::string& out, const std::string& name, const std::string& labels, double v) {
  out += name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += ' ';
  append_number(out, v);
  out += '\n';
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

long open_fds() {
  long n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
    n -= 3;  // ".", ".." and the directory's own descriptor
  }
  return n;
}

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

int metrics_thread_index() {
  return t_thread_index;
}
void set_metrics_thread_index(int index) {
  t_thread_index = (index >= 0 && index < kMaxThreads) ? index : kMaxThreads - 1;
}

void Histogram::observe_ns(std::int64_t ns) {
  Cell& c = cells_[metrics_thread_index()];
  const double s = static_cast<double>(ns) * 1e-9;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  c.buckets[i].fetch_add(1, std::memory_order_relaxed);
  c.sum_ns.fetch_add(static_cast<std::uint64_t>(ns < 0 ? 0 : ns), std::memory_order_relaxed);
}

std::uint64_t Histogram::count() const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) {
    for (const auto& b : c.buckets) n += b.load(std::memory_order_relaxed);
  }
  return n;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  std::array<std::uint64_t, kBounds.size() + 1> totals{};
  std::uint64_t sum_ns = 0;
  for (const auto& c : cells_) {
    for (std::size_t i = 0; i < totals.size(); ++i) {
      totals[i] += c.buckets[i].load(std::memory_order_relaxed);
    }
    sum_ns += c.sum_ns.load(std::memory_order_relaxed);
  }
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += totals[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBounds[i]);
    line(out, name + "_bucket", labels + sep + "le=\"" + le + "\"",
         static_cast<double>(cumulative));
  }
  cumulative += totals.back();
  line(out, name + "_bucket", labels + sep + "le=\"+Inf\"", static_cast<double>(cumulative));
  line(out, name + "_sum", labels, static_cast<double>(sum_ns) * 1e-9);
  line(out, name + "_count", labels, static_cast<double>(cumulative));
}

std::uint64_t RouteStats::decisions(Verdict v, Reason r) const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) {
    n += c.decisions[static_cast<int>(v)][static_cast<int>(r)].load(std::memory_order_relaxed);
  }
  return n;
}

std::uint64_t RouteStats::near(int limit_index) const {
  std::uint64_t n = 0;
  for (const auto& c : cells_) n += c.near[limit_index].load(std::memory_order_relaxed);
  return n;
}

Metrics::Metrics() {
  start_time_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

RouteStats* Metrics::route(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = routes_[name];
  if (!slot) slot = std::make_unique<RouteStats>(name);
  return slot.get();
}

void Metrics::set_limit_names(const std::string& route, std::vector<std::string> names) {
  std::lock_guard lock(mu_);
  limit_names_[route] = std::move(names);
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(16384);
  {
    std::lock_guard lock(mu_);
    header(out, "edgeguard_decisions_total", "counter",
           "ForwardAuth decisions by route, verdict and reason.");
    for (const auto& [name, stats] : routes_) {
      for (int v = 0; v < 3; ++v) {
        for (int r = 0; r < kReasonCount; ++r) {
          const auto n = stats->decisions(static_cast<Verdict>(v), static_cast<Reason>(r));
          if (n == 0) continue;
          line(out, "edgeguard_decisions_total",
               "route=\"" + name + "\",verdict=\"" + to_string(static_cast<Verdict>(v)) +
                   "\",reason=\"" + to_string(static_cast<Reason>(r)) + "\"",
               static_cast<double>(n));
        }
      }
    }
    header(out, "edgeguard_limit_near_total", "counter",
           "Requests admitted with at most a fifth of the burst left, by route and limit.");
    for (const auto& [route, names] : limit_names_) {
      auto it = routes_.find(route);
      if (it == routes_.end()) continue;
      for (std::size_t i = 0; i < names.size() && i < RouteStats::kMaxLimits; ++i) {
        line(out, "edgeguard_limit_near_total",
             "route=\"" + route + "\",limit=\"" + names[i] + "\"",
             static_cast<double>(it->second->near(static_cast<int>(i))));
      }
    }
  }
  header(out, "edgeguard_decision_seconds", "histogram",
         "Time to decide, from request parsed to verdict.");
  decision_seconds.render(out, "edgeguard_decision_seconds");
  header(out, "edgeguard_redis_seconds", "histogram", "Redis round trips of the limit script.");
  redis_seconds.render(out, "edgeguard_redis_seconds");
  header(out, "edgeguard_store_errors_total", "counter",
         "Shared store failures (errors and timeouts).");
  line(out, "edgeguard_store_errors_total", "",
       static_cast<double>(store_errors_source ? store_errors_source() : 0));
  header(out, "edgeguard_store_fallback_active", "gauge",
         "1 while the on_error policy answers instead of Redis.");
  line(out, "edgeguard_store_fallback_active", "",
       store_fallback_source && store_fallback_source() ? 1 : 0);
  header(out, "edgeguard_local_buckets", "gauge", "Rate-limit buckets held in this process.");
  line(out, "edgeguard_local_buckets", "",
       local_buckets ? static_cast<double>(local_buckets()) : 0.0);
  header(out, "edgeguard_config_reloads_total", "counter", "Configuration reloads by result.");
  line(out, "edgeguard_config_reloads_total", "result=\"success\"",
       static_cast<double>(reloads_success.load()));
  line(out, "edgeguard_config_reloads_total", "result=\"failure\"",
       static_cast<double>(reloads_failure.load()));
  header(out, "edgeguard_tailnet_nodes", "gauge", "Enrolled tailnet nodes in the current list.");
  line(out, "edgeguard_tailnet_nodes", "", static_cast<double>(tailnet_nodes.load()));
  header(out, "edgeguard_tailnet_load_errors_total", "counter", "Node lists that failed to load.");
  line(out, "edgeguard_tailnet_load_errors_total", "",
       static_cast<double>(tailnet_load_errors.load()));
  header(out, "edgeguard_tailnet_unchanged_total", "counter",
         "Node-list refreshes that found the nodes already loaded.");
  line(out, "edgeguard_tailnet_unchanged_total", "", static_cast<double>(tailnet_unchanged.load()));
  header(out, "edgeguard_geoip_build_epoch_seconds", "gauge",
         "Build time of the GeoIP database in use.");
  line(out, "edgeguard_geoip_build_epoch_seconds", "",
       static_cast<double>(geoip_build_epoch.load()));
  header(out, "edgeguard_geoip_load_errors_total", "counter",
         "GeoIP databases that failed to load.");
  line(out, "edgeguard_geoip_load_errors_total", "", static_cast<double>(geoip_load_errors.load()));
  header(out, "edgeguard_bad_requests_total", "counter", "Calls answered 400 or 431.");
  line(out, "edgeguard_bad_requests_total", "status=\"400\"",
       static_cast<double>(bad_requests_400.load()));
  line(out, "edgeguard_bad_requests_total", "status=\"431\"",
       static_cast<double>(bad_requests_431.load()));
  header(out, "edgeguard_connections_rejected_total", "counter",
         "Connections closed at accept: over the connection limit.");
  line(out, "edgeguard_connections_rejected_total", "",
       static_cast<double>(connections_rejected.load()));
  header(out, "edgeguard_open_connections", "gauge", "ForwardAuth connections open now.");
  line(out, "edgeguard_open_connections", "",
       open_connections ? static_cast<double>(open_connections()) : 0.0);
  header(out, "edgeguard_build_info", "gauge", "Version of the running binary.");
  line(out, "edgeguard_build_info", "version=\"" EDGEGUARD_VERSION "\"", 1);

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  header(out, "process_cpu_seconds_total", "counter", "User and system CPU time.");
  line(out, "process_cpu_seconds_total", "", cpu);
  header(out, "process_resident_memory_bytes", "gauge", "Resident memory.");
  line(out, "process_resident_memory_bytes", "", resident_bytes());
  header(out, "process_open_fds", "gauge", "Open file descriptors.");
  line(out, "process_open_fds", "", static_cast<double>(open_fds()));
  header(out, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.");
  line(out, "process_start_time_seconds", "", start_time_);
  return out;
}

}  // namespace edgeguard
