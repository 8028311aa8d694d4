#include "guard/policy/policy.h"

#include <algorithm>

namespace edgeguard {

bool PathMatcher::matches(std::string_view path) const {
  switch (kind) {
    case Kind::prefix:
      return path.starts_with(text);
    case Kind::exact:
      return path == text;
    case Kind::regex:
      return re2::RE2::PartialMatch(re2::StringPiece(path.data(), path.size()), *regex);
  }
  return false;
}

bool Route::matches_host(std::string_view host) const {
  if (exact_hosts.empty() && host_suffixes.empty()) return true;
  for (const auto& h : exact_hosts) {
    if (h == host) return true;
  }
  for (const auto& s : host_suffixes) {
    // "*.example.com" is one or more labels before ".example.com", never the apex itself.
    if (host.size() > s.size() && host.ends_with(s)) return true;
  }
  return false;
}

bool Route::matches_method(std::string_view method) const {
  if (method_mask == 0 && other_methods.empty()) return true;
  const std::uint32_t bit = method_bit(method);
  if (bit != 0) return (method_mask & bit) != 0;
  return std::find(other_methods.begin(), other_methods.end(), method) != other_methods.end();
}

bool Route::matches_path(std::string_view path) const {
  if (paths.empty()) return true;
  for (const auto& p : paths) {
    if (p.matches(path)) return true;
  }
  return false;
}

const Route& Policy::match(std::string_view host, std::string_view path,
                           std::string_view method) const {
  for (const auto& r : routes) {
    if (r.matches_host(host) && r.matches_method(method) && r.matches_path(path)) return r;
  }
  return default_route;
}

std::uint32_t method_bit(std::string_view method) {
  static constexpr std::string_view kMethods[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                                  "OPTIONS", "PATCH", "TRACE", "CONNECT"};
  for (std::size_t i = 0; i < std::size(kMethods); ++i) {
    if (kMethods[i] == method) return 1u << i;
  }
  return 0;
}

}  // namespace edgeguard
