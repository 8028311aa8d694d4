#include "guard/request/client_ip.h"

namespace edgeguard {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Walks the comma-separated list from the right without allocating.
class ReverseEntries {
 public:
  explicit ReverseEntries(std::string_view list) : rest_(list) {}
  bool next(std::string_view& entry) {
    if (done_) return false;
    const auto comma = rest_.rfind(',');
    if (comma == std::string_view::npos) {
      entry = trim(rest_);
      done_ = true;
    } else {
      entry = trim(rest_.substr(comma + 1));
      rest_ = rest_.substr(0, comma);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

bool is_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::optional<IpAddress> parse_forwarded_entry(std::string_view entry) {
  entry = trim(entry);
  if (entry.empty()) return std::nullopt;
  if (entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto rest = entry.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !is_port(rest.substr(1)))) return std::nullopt;
    entry = entry.substr(1, close - 1);
  } else if (entry.find(':') == entry.rfind(':') && entry.find(':') != std::string_view::npos) {
    const auto colon = entry.find(':');  // exactly one colon: IPv4 with a port
    if (!is_port(entry.substr(colon + 1))) return std::nullopt;
    entry = entry.substr(0, colon);
  }
  return IpAddress::parse(entry);  // IPv4-mapped IPv6 is the same value as IPv4 by construction
}

ClientIpResult resolve_client_ip(std::string_view value, const ClientIpStrategy& strategy) {
  ClientIpResult result;
  if (trim(value).empty()) {
    result.error = ClientIpError::missing;
    return result;
  }
  ReverseEntries entries(value);
  std::string_view entry;
  if (strategy.trusted_hops != nullptr) {
    while (entries.next(entry)) {
      const auto ip = parse_forwarded_entry(entry);
      if (!ip) {
        result.error = ClientIpError::unparseable;
        return result;
      }
      if (!strategy.trusted_hops->contains(*ip)) {
        result.ip = *ip;
        return result;
      }
    }
    result.error = ClientIpError::all_trusted;
    return result;
  }
  for (int i = 1; entries.next(entry); ++i) {
    if (i == strategy.depth) {
      const auto ip = parse_forwarded_entry(entry);
      if (!ip) {
        result.error = ClientIpError::unparseable;
        return result;
      }
      result.ip = *ip;
      return result;
    }
  }
  result.error = ClientIpError::too_few_entries;
  return result;
}

const char* describe(ClientIpError error) {
  switch (error) {
    case ClientIpError::none:
      return "ok";
    case ClientIpError::missing:
      return "is missing or empty";
    case ClientIpError::too_few_entries:
      return "has fewer entries than client_ip.depth";
    case ClientIpError::all_trusted:
      return "has no entry outside client_ip.trusted_hops";
    case ClientIpError::unparseable:
      return "has an entry that is not an IP address";
  }
  return "is malformed";
}

}  // namespace edgeguard
