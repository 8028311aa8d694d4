#include "guard/replay/replay.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>

#include "guard/core/limit_key.h"

namespace edgeguard {
namespace {

constexpr std::int64_t kSlotNs = 10'000'000'000;  // peak-rate resolution: 10 s
constexpr std::int64_t kSlots = 6;                // six slots: a minute

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

template <typename Map>
std::vector<KeyReport> top_keys(const Map& map, std::size_t top) {
  std::vector<const typename Map::value_type*> all;
  all.reserve(map.size());
  for (const auto& kv : map) all.push_back(&kv);
  const auto order = [](const auto* a, const auto* b) {
    if (a->second.denied != b->second.denied) return a->second.denied > b->second.denied;
    if (a->second.peak != b->second.peak) return a->second.peak > b->second.peak;
    if (a->second.requests != b->second.requests) return a->second.requests > b->second.requests;
    return a->first < b->first;
  };
  const std::size_t n = std::min(top, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), order);
  std::vector<KeyReport> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(
        {all[i]->first, all[i]->second.requests, all[i]->second.denied, all[i]->second.peak});
  }
  return out;
}

std::string num(std::uint64_t v) {
  return std::to_string(v);
}

// "3h 5m 12s", "45s": a total of seconds as an operator reads it.
std::string duration_text(std::int64_t seconds) {
  std::string out;
  const std::int64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
  if (h > 0) out += std::to_string(h) + "h ";
  if (h > 0 || m > 0) out += std::to_string(m) + "m ";
  out += std::to_string(s) + "s";
  return out;
}

// "10/1m", "600/1h", "5/30s": the limit as the YAML wrote it, roughly.
std::string rate_text(double average, std::int64_t period_ns) {
  char avg[32];
  std::snprintf(avg, sizeof avg, "%g", average);
  const std::int64_t s = period_ns / 1'000'000'000;
  std::string period;
  if (s > 0 && s % 3600 == 0) {
    period = std::to_string(s / 3600) + "h";
  } else if (s > 0 && s % 60 == 0) {
    period = std::to_string(s / 60) + "m";
  } else if (period_ns % 1'000'000'000 == 0) {
    period = std::to_string(s) + "s";
  } else {
    period = std::to_string(period_ns / 1'000'000) + "ms";
  }
  return std::string(avg) + "/" + period;
}

// Rows of cells printed as columns: the first left-aligned, the others right-aligned.
class Table {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::string& out, std::string_view indent) const {
    std::vector<std::size_t> width;
    for (const auto& r : rows_) {
      if (width.size() < r.size()) width.resize(r.size(), 0);
      for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    }
    for (const auto& r : rows_) {
      std::string line(indent);
      for (std::size_t i = 0; i < r.size(); ++i) {
        const std::size_t pad = width[i] - r[i].size();
        if (i == 0) {
          line += r[i];
          line.append(pad, ' ');
        } else {
          line.append(pad + 2, ' ');
          line += r[i];
        }
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line;
      out += '\n';
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

boost::json::array keys_json(const std::vector<KeyReport>& keys, bool with_peak) {
  boost::json::array a;
  for (const auto& k : keys) {
    boost::json::object o{{"key", k.key}, {"denied", k.denied}};
    if (with_peak) {
      o["requests"] = k.requests;
      o["peak_per_minute"] = k.peak_per_minute;
    }
    a.push_back(std::move(o));
  }
  return a;
}

boost::json::array examples_json(const std::vector<MalformedLine>& list) {
  boost::json::array a;
  for (const auto& m : list) {
    a.push_back(boost::json::object{{"source", m.source}, {"line", m.line}, {"error", m.error}});
  }
  return a;
}

}  // namespace

void Replay::KeyStats::count(std::int64_t now_ns) {
  ++requests;
  const std::int64_t slot = now_ns / kSlotNs;
  if (slot != last_slot) {
    // Clear the slots that passed without requests (all of them after a minute's gap).
    const std::int64_t gap = last_slot < 0 ? kSlots : std::min(slot - last_slot, kSlots);
    for (std::int64_t i = 0; i < gap; ++i) slots[(slot - i) % kSlots] = 0;
    last_slot = slot;
  }
  ++slots[slot % kSlots];
  std::uint32_t sum = 0;
  for (std::uint32_t s : slots) sum += s;
  peak = std::max(peak, sum);
}

Replay::Replay(const Snapshot& snapshot)
    : snapshot_(std::make_shared<Snapshot>(snapshot)),
      policy_(*snapshot.policy),
      // Room for every key and ban a long log can hold: replay has no memory target to meet.
      bans_(std::max<std::size_t>(policy_.settings.bans_max_active, 1'000'000)),
      store_(std::make_unique<LocalLimitStore>(
          std::max<std::size_t>(policy_.settings.store.max_buckets, 4'000'000), &local_bans_)),
      failures_([this] { return snapshot_; }, *store_, failure_stats_),
      routes_(policy_.routes.size() + 1) {
  snapshot_->bans = &bans_;
  header_is_xff_ = iequals_ascii(policy_.client_ip.header, "X-Forwarded-For");
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    routes_[i].limits.resize(route_at(i).limits.size());
  }
}

Replay::~Replay() = default;

const Route& Replay::route_at(std::size_t index) const {
  return index < policy_.routes.size() ? policy_.routes[index] : policy_.default_route;
}

std::vector<std::string> Replay::header_names() const {
  std::vector<std::string> names{policy_.client_ip.header};
  for (const auto& h : policy_.key_header_names) names.push_back(h);
  return names;
}

Replay::KeyStats& Replay::find_or_add(KeyMap& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), KeyStats{}).first;
  return it->second;
}

void Replay::add_malformed(std::string_view source, std::uint64_t line, std::string_view error) {
  ++totals_.lines;
  ++totals_.malformed;
  if (totals_.malformed_examples.size() < kExamples) {
    totals_.malformed_examples.push_back({std::string(source), line, std::string(error)});
  }
}

void Replay::add(const AccessRecord& rec, std::string_view source, std::uint64_t line) {
  ++totals_.lines;
  // The request as Traefik would have described it to edgeguard.
  const ForwardHeaders h = forwarded_headers(rec, header_is_xff_, joined_);
  const ParseOutcome parsed =
      parse_forward_request(h, policy_.client_ip.header, snapshot_->client_ip, scratch_);
  if (!parsed.ok()) {
    ++totals_.bad_requests;
    if (totals_.bad_request_examples.size() < kExamples) {
      totals_.bad_request_examples.push_back(
          {std::string(source), line,
           std::string(parsed.bad.header) + " " + std::string(parsed.bad.problem)});
    }
    return;
  }
  ++totals_.requests;
  if (totals_.requests == 1) totals_.first_ns = rec.start_ns;
  if (rec.start_ns < clock_ns_) {
    ++totals_.late;
  } else {
    clock_ns_ = rec.start_ns;
  }
  totals_.last_ns = clock_ns_;
  const std::int64_t now = clock_ns_;

  const Decision& d = pipeline_.decide(*snapshot_, parsed.request, now, *store_, false);
  RouteStats& rs = routes_[static_cast<std::size_t>(d.route->index)];
  ++rs.requests;
  const bool limit_denied = d.denied_by_limit();
  // The limits' keys when the limits ran for this record (none when a rule decided first).
  const auto calls = pipeline_.calls();
  for (const LimitCall& call : calls) {
    LimitStats& ls = rs.limits[static_cast<std::size_t>(call.limit)];
    KeyStats& k = find_or_add(ls.keys, key_value(call.key));
    k.count(now);
    if (limit_denied && call.limit == d.limit_index) {
      ++k.denied;
      ++ls.denied;
    }
  }
  ++rs.verdicts[static_cast<int>(d.verdict)];
  if (d.verdict != Verdict::allow) {
    ++rs.reasons[static_cast<int>(d.reason)];
    const auto banning = std::find_if(calls.begin(), calls.end(), [&](const LimitCall& c) {
      return c.limit == d.limit_index && c.ban != nullptr;
    });
    if (d.ban_made && banning != calls.end()) {
      count_ban(rs, banning->ban->subject, retry_after_seconds(d.retry_after_ns));
    }
    if (!limit_denied) {
      char ip[64];
      KeyStats& k = find_or_add(rs.denied_clients,
                                std::string_view(ip, pipeline_.facts().client_ip.format(ip)));
      ++k.requests;
      ++k.denied;
    }
  }
  // A logged failure (a status failures.access_log counts) charges the route's failure limits
  // at the line's time, as edgeguard following that log would have. Only with an access_log
  // source: failures from the webhook are not in the log.
  const auto& statuses = policy_.failures.access_log_statuses;
  if (!policy_.settings.failures_access_log.empty() && !d.route->failure_limits.empty() &&
      std::find(statuses.begin(), statuses.end(), rec.downstream_status) != statuses.end()) {
    Ban made;
    FailureReport report;
    report.route = d.route->name;
    report.client_ip = parsed.request.client_ip;
    if (failures_.record(report, FailureSource::access_log, now, &made) ==
        FailureRecorder::Outcome::charged) {
      ++rs.failures;
      if (!made.subject.empty())
        count_ban(rs, made.subject, retry_after_seconds(made.until_ns - now));
    }
  }
}

void Replay::count_ban(RouteStats& rs, std::string_view subject, std::int64_t seconds) {
  auto it = rs.banned.find(subject);
  if (it == rs.banned.end()) it = rs.banned.emplace(std::string(subject), BanStats{}).first;
  ++it->second.bans;
  it->second.seconds += seconds;
}

ReplayReport Replay::report(std::size_t top) const {
  ReplayReport r = totals_;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = route_at(i);
    const RouteStats& s = routes_[i];
    RouteReport rr;
    rr.name = route.name;
    rr.mode = route.mode == Mode::shadow ? "shadow" : "enforce";
    rr.requests = s.requests;
    rr.allow = s.verdicts[static_cast<int>(Verdict::allow)];
    rr.deny = s.verdicts[static_cast<int>(Verdict::deny)];
    rr.shadow_deny = s.verdicts[static_cast<int>(Verdict::shadow_deny)];
    for (int reason = 0; reason < kReasonCount; ++reason) {
      if (s.reasons[reason] > 0) {
        rr.would_deny_by_reason.emplace_back(to_string(static_cast<Reason>(reason)),
                                             s.reasons[reason]);
      }
    }
    for (std::size_t l = 0; l < route.limits.size(); ++l) {
      const LimitPolicy& lp = route.limits[l];
      LimitReport lr;
      lr.name = lp.name;
      lr.average = lp.average;
      lr.period_ns = lp.period_ns;
      lr.burst = lp.rate.burst;
      lr.denied = s.limits[l].denied;
      lr.keys = s.limits[l].keys.size();
      lr.top_keys = top_keys(s.limits[l].keys, top);
      rr.limits.push_back(std::move(lr));
    }
    rr.top_denied_clients = top_keys(s.denied_clients, top);
    rr.failures = s.failures;
    for (const auto& [subject, b] : s.banned) {
      rr.bans += b.bans;
      rr.ban_seconds += b.seconds;
      rr.top_banned.push_back({subject, b.bans, b.seconds});
    }
    rr.banned_subjects = s.banned.size();
    const auto longest = [](const BannedSubjectReport& a, const BannedSubjectReport& b) {
      if (a.seconds != b.seconds) return a.seconds > b.seconds;
      if (a.bans != b.bans) return a.bans > b.bans;
      return a.subject < b.subject;
    };
    const std::size_t n = std::min(top, rr.top_banned.size());
    std::partial_sort(rr.top_banned.begin(), rr.top_banned.begin() + static_cast<std::ptrdiff_t>(n),
                      rr.top_banned.end(), longest);
    rr.top_banned.resize(n);
    r.routes.push_back(std::move(rr));
  }
  return r;
}

std::string render_table(const ReplayReport& r) {
  std::string out;
  out += "replayed " + num(r.requests) + " requests from " + num(r.lines) + " lines";
  if (r.requests > 0) {
    out += ", " + format_rfc3339(r.first_ns) + " to " + format_rfc3339(r.last_ns);
  }
  out += "\n";
  if (r.malformed > 0) {
    out += num(r.malformed) + " malformed lines (not counted):\n";
    for (const auto& m : r.malformed_examples) {
      out += "  " + m.source + ":" + num(m.line) + ": " + m.error + "\n";
    }
  }
  if (r.bad_requests > 0) {
    out += num(r.bad_requests) + " requests edgeguard would answer 400 (not counted):\n";
    for (const auto& m : r.bad_request_examples) {
      out += "  " + m.source + ":" + num(m.line) + ": " + m.error + "\n";
    }
  }
  if (r.late > 0) {
    out +=
        num(r.late) + " requests started before one already replayed (decided at the later time)\n";
  }
  out += "\n";
  Table summary;
  summary.row({"route", "mode", "requests", "allow", "deny", "shadow_deny", "would_deny"});
  for (const auto& rt : r.routes) {
    summary.row({rt.name, rt.mode, num(rt.requests), num(rt.allow), num(rt.deny),
                 num(rt.shadow_deny), num(rt.would_deny())});
  }
  summary.print(out, "");
  for (const auto& rt : r.routes) {
    if (rt.requests == 0) continue;
    out += "\nroute " + rt.name + ": would deny " + num(rt.would_deny());
    if (!rt.would_deny_by_reason.empty()) {
      out += " (";
      for (std::size_t i = 0; i < rt.would_deny_by_reason.size(); ++i) {
        if (i > 0) out += ", ";
        out += rt.would_deny_by_reason[i].first + " " + num(rt.would_deny_by_reason[i].second);
      }
      out += ")";
    }
    out += "\n";
    for (const auto& l : rt.limits) {
      out += "  limit " + l.name + " " + rate_text(l.average, l.period_ns) + " burst " +
             std::to_string(l.burst) + ": would deny " + num(l.denied) + ", " + num(l.keys) +
             " keys\n";
      if (l.top_keys.empty()) continue;
      Table t;
      t.row({"key", "requests", "denied", "peak/min"});
      for (const auto& k : l.top_keys) {
        t.row({k.key.empty() ? "(route)" : k.key, num(k.requests), num(k.denied),
               num(k.peak_per_minute)});
      }
      t.print(out, "    ");
    }
    if (!rt.top_denied_clients.empty()) {
      out += "  clients denied by ip, tailnet, geo, default rules or bans:\n";
      Table t;
      t.row({"client", "denied"});
      for (const auto& k : rt.top_denied_clients) t.row({k.key, num(k.denied)});
      t.print(out, "    ");
    }
    if (rt.failures > 0) {
      out += "  failures (logged statuses failures.access_log counts): " + num(rt.failures) + "\n";
    }
    if (rt.bans > 0) {
      out += "  would ban " + num(rt.banned_subjects) + " subjects " + num(rt.bans) +
             " times for " + duration_text(rt.ban_seconds) + " in all:\n";
      Table t;
      t.row({"subject", "bans", "banned for"});
      for (const auto& b : rt.top_banned) {
        t.row({b.subject, num(b.bans), duration_text(b.seconds)});
      }
      t.print(out, "    ");
    }
  }
  return out;
}

std::string render_json(const ReplayReport& r) {
  boost::json::object o;
  o["lines"] = r.lines;
  o["requests"] = r.requests;
  o["malformed"] = r.malformed;
  o["malformed_examples"] = examples_json(r.malformed_examples);
  o["bad_requests"] = r.bad_requests;
  o["bad_request_examples"] = examples_json(r.bad_request_examples);
  o["late"] = r.late;
  if (r.requests > 0) {
    o["first"] = format_rfc3339(r.first_ns);
    o["last"] = format_rfc3339(r.last_ns);
  }
  boost::json::array routes;
  for (const auto& rt : r.routes) {
    boost::json::object ro{{"route", rt.name},
                           {"mode", rt.mode},
                           {"requests", rt.requests},
                           {"allow", rt.allow},
                           {"deny", rt.deny},
                           {"shadow_deny", rt.shadow_deny},
                           {"would_deny", rt.would_deny()}};
    boost::json::object reasons;
    for (const auto& [reason, n] : rt.would_deny_by_reason) reasons[reason] = n;
    ro["would_deny_by_reason"] = std::move(reasons);
    boost::json::array limits;
    for (const auto& l : rt.limits) {
      limits.push_back(
          boost::json::object{{"limit", l.name},
                              {"average", l.average},
                              {"period_seconds", static_cast<double>(l.period_ns) / 1e9},
                              {"burst", l.burst},
                              {"would_deny", l.denied},
                              {"keys", l.keys},
                              {"top_keys", keys_json(l.top_keys, true)}});
    }
    ro["limits"] = std::move(limits);
    ro["top_denied_clients"] = keys_json(rt.top_denied_clients, false);
    boost::json::array banned;
    for (const auto& b : rt.top_banned) {
      banned.push_back(
          boost::json::object{{"subject", b.subject}, {"bans", b.bans}, {"seconds", b.seconds}});
    }
    ro["failures"] = rt.failures;
    ro["bans"] = boost::json::object{{"made", rt.bans},
                                     {"subjects", rt.banned_subjects},
                                     {"seconds", rt.ban_seconds},
                                     {"top", std::move(banned)}};
    routes.push_back(std::move(ro));
  }
  o["routes"] = std::move(routes);
  return boost::json::serialize(o) + "\n";
}

}  // namespace edgeguard
