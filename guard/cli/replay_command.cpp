#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "guard/accesslog/access_log.h"
#include "guard/accesslog/log_reader.h"
#include "guard/cli/args.h"
#include "guard/cli/commands.h"
#include "guard/cli/offline_service.h"
#include "guard/config/policy_loader.h"
#include "guard/log/event_log.h"
#include "guard/replay/replay.h"
#include "guard/service/service.h"

namespace edgeguard {
namespace {

constexpr const char* kUsage =
    "usage: edgeguard replay --config FILE [--json] [--top N] LOG... "
    "(plain or gzip Traefik JSON access logs, oldest first; - reads stdin)";

}  // namespace

// Feeds Traefik JSON access logs through the policy on the logs' own clock, with a fresh local
// store, and prints per route what would have been allowed and denied (SPEC section 7).
int run_replay(int argc, char** argv) {
  std::string error;
  auto args = Args::parse(argc, argv, {"config", "top"}, {"json"}, &error);
  if (!args || !args->get("config") || args->positional().empty()) {
    std::fprintf(stderr, "%s%s%s\n", kUsage, error.empty() ? "" : ": ", error.c_str());
    return 2;
  }
  std::size_t top = 10;
  if (const auto t = args->get("top")) {
    char* end = nullptr;
    const long v = std::strtol(t->c_str(), &end, 10);
    if (end == t->c_str() || *end != '\0' || v < 0 || v > 100000) {
      std::fprintf(stderr, "--top takes a number from 0 to 100000, got '%s'\n", t->c_str());
      return 2;
    }
    top = static_cast<std::size_t>(v);
  }
  const auto service = open_offline_service(*args->get("config"));
  if (!service) return 1;
  const auto snap = service->snapshot();
  Replay replay(*snap);
  AccessLogParser parser(replay.header_names());
  AccessRecord record;

  const auto started = std::chrono::steady_clock::now();
  for (const std::string& path : args->positional()) {
    auto reader = LogReader::open(path, &error);
    if (!reader) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    const std::string source = path == "-" ? "stdin" : path;
    std::string_view line;
    std::uint64_t line_no = 0;
    while (reader->next(line)) {
      ++line_no;
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      if (const char* why = parser.parse(line, record)) {
        replay.add_malformed(source, line_no, why);
      } else {
        replay.add(record, source, line_no);
      }
    }
    if (reader->oversized_lines() > 0) {
      // Counted as malformed; their line numbers are lost with their bytes.
      for (std::uint64_t i = 0; i < reader->oversized_lines(); ++i) {
        replay.add_malformed(source, 0, "line longer than 1 MiB");
      }
    }
    if (!reader->error().empty()) {
      std::fprintf(stderr, "%s: %s\n", source.c_str(), reader->error().c_str());
      return 1;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const ReplayReport report = replay.report(top);
  const std::string text = args->flag("json") ? render_json(report) : render_table(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fprintf(stderr, "replay: %llu lines in %.2f s (%.0f lines/s)\n",
               static_cast<unsigned long long>(report.lines), seconds,
               seconds > 0 ? static_cast<double>(report.lines) / seconds : 0.0);
  return 0;
}

}  // namespace edgeguard
