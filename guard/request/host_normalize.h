#pragma once
// The host as the route matcher sees it: lower case, port stripped, one trailing dot dropped.
// "Auth.SecureNexus.net.:443" and "auth.securenexus.net" are the same route.
#include <cstddef>
#include <string_view>

namespace edgeguard {

// Writes into `out` (at least host.size() chars). Returns the length, or 0 when the value is not a
// host name or IP literal (empty, spaces, "/", "@", control characters, a bad port).
std::size_t normalize_host(std::string_view host, char* out);

}  // namespace edgeguard
