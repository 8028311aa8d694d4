#include "guard/metrics/registry.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace edgeguard {
namespace {

void append_number(std::string& out, double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  out.append(buf, static_cast<std::size_t>(n));
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

void MetricsWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  name_.assign(name);
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsWriter::sample(double value, std::string_view labels) {
  sample_suffixed({}, value, labels);
}

void MetricsWriter::sample_suffixed(std::string_view suffix, double value,
                                    std::string_view labels) {
  out_ += name_;
  out_ += suffix;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
  append_number(out_, value);
  out_ += '\n';
}

struct MetricsRegistry::Registration::Token {
  std::weak_ptr<State> state;
  std::uint64_t id = 0;
};

MetricsRegistry::Registration::~Registration() {
  if (!token_) return;
  if (auto state = token_->state.lock()) {
    std::lock_guard lock(state->mu);
    std::erase_if(state->entries, [&](const Entry& e) { return e.id == token_->id; });
  }
}

MetricsRegistry::MetricsRegistry() : state_(std::make_shared<State>()) {
  start_time_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

MetricsRegistry::Registration MetricsRegistry::add(Source source) {
  Registration r;
  r.token_ = std::make_shared<Registration::Token>();
  r.token_->state = state_;
  std::lock_guard lock(state_->mu);
  r.token_->id = state_->next_id++;
  state_->entries.push_back({r.token_->id, std::move(source)});
  return r;
}

std::string MetricsRegistry::render() const {
  std::string out;
  out.reserve(16384);
  MetricsWriter w(out);
  {
    std::lock_guard lock(state_->mu);
    for (const Entry& e : state_->entries) e.source(w);
  }
  w.family("edgeguard_build_info", "gauge", "Version of the running binary.");
  w.sample(1, "version=\"" EDGEGUARD_VERSION "\"");
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  w.counter("process_cpu_seconds_total", "User and system CPU time.", cpu);
  w.gauge("process_resident_memory_bytes", "Resident memory.", resident_bytes());
  w.gauge("process_open_fds", "Open file descriptors.", static_cast<double>(open_fds()));
  w.gauge("process_start_time_seconds", "Start time since the Unix epoch.", start_time_);
  return out;
}

}  // namespace edgeguard
