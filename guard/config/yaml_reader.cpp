#include "guard/config/yaml_reader.h"

#include <charconv>
#include <cmath>
#include <filesystem>

#include "guard/config/duration.h"
#include "guard/net/host_port.h"

namespace edgeguard::config {

void fail(const YAML::Node& at, std::string message) {
  throw ConfigError{at.Mark(), std::move(message)};
}

std::string format_error(const std::string& source, const YAML::Mark& mark,
                         const std::string& message) {
  if (mark.is_null()) return source + ":1:1: " + message;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) +
         ": " + message;
}

MapReader::MapReader(const YAML::Node& node, std::string what)
    : node_(node), what_(std::move(what)) {
  if (!node.IsMap()) fail(node, what_ + " must be a mapping");
}

YAML::Node MapReader::get(const std::string& key) {
  seen_.insert(key);
  return node_[key];
}

void MapReader::finish() const {
  for (const auto& kv : node_) {
    const auto key = kv.first.as<std::string>();
    if (!seen_.count(key)) fail(kv.first, "unknown key '" + key + "' in " + what_);
  }
}

std::string as_string(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) fail(n, what + " must be a string");
  return n.Scalar();
}

long long as_int(const YAML::Node& n, const std::string& what, long long lo, long long hi) {
  if (!n.IsScalar()) fail(n, what + " must be a number");
  long long v = 0;
  const std::string& s = n.Scalar();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) fail(n, what + " must be a whole number");
  if (v < lo || v > hi) {
    fail(n, what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return v;
}

double as_number(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) fail(n, what + " must be a number");
  double v = 0;
  const std::string& s = n.Scalar();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
    fail(n, what + " must be a number");
  }
  return v;
}

bool as_bool(const YAML::Node& n, const std::string& what) {
  const std::string s = as_string(n, what);
  if (s == "true") return true;
  if (s == "false") return false;
  fail(n, what + " must be true or false");
}

std::int64_t as_duration(const YAML::Node& n, const std::string& what) {
  const auto d = parse_duration_ns(as_string(n, what));
  if (!d || *d <= 0) fail(n, what + " must be a duration like 500ms, 30s, 1m or 1h");
  return *d;
}

std::vector<YAML::Node> as_list(const YAML::Node& n, const std::string& what) {
  if (n.IsScalar()) return {n};  // a single value where a list is expected
  if (!n.IsSequence()) fail(n, what + " must be a list");
  std::vector<YAML::Node> out;
  for (const auto& item : n) out.push_back(item);
  return out;
}

std::vector<std::string> as_strings(const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  for (const auto& item : as_list(n, what)) out.push_back(as_string(item, what + " entry"));
  return out;
}

Cidr as_cidr(const YAML::Node& n, const std::string& what) {
  std::string why;
  const auto c = Cidr::parse(as_string(n, what), &why);
  if (!c) fail(n, what + ": '" + n.Scalar() + "': " + why);
  return *c;
}

int as_status(const YAML::Node& n, const std::string& what) {
  return static_cast<int>(as_int(n, what, 200, 599));
}

std::string as_address(const YAML::Node& n, const std::string& what) {
  const auto s = as_string(n, what);
  HostPortError why = HostPortError::none;
  if (!parse_host_port(s, &why)) {
    if (why == HostPortError::no_port) fail(n, what + " must be HOST:PORT");
    fail(n, what + ": bad port '" + s.substr(s.rfind(':') + 1) + "'");
  }
  return s;
}

std::string as_path(const YAML::Node& n, const std::string& what, const std::string& base_dir) {
  auto s = as_string(n, what);
  if (s.empty()) fail(n, what + " must not be empty");
  if (s.front() != '/') s = (std::filesystem::path(base_dir) / s).string();
  return s;
}

bool is_simple_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!(alnum || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

}  // namespace edgeguard::config
