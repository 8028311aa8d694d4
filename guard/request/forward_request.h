#pragma once
// A ForwardAuth call reduced to what the policy reads: the original request's method, host, path
// and client address, taken from the X-Forwarded-* headers the proxy set. Everything here is a
// view into storage owned by the caller (the HTTP session or a test); nothing allocates.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "guard/net/ip_address.h"
#include "guard/request/client_ip.h"

namespace edgeguard {

// Limit keys may name request headers (`key: header:X-Tenant`); a policy may use this many.
inline constexpr std::size_t kMaxKeyHeaders = 4;
// Longest X-Forwarded-Uri/-Host accepted; the HTTP layer's header limit is below this anyway.
inline constexpr std::size_t kMaxUriBytes = 8192;
inline constexpr std::size_t kMaxHostBytes = 256;

// Which headers the HTTP layer captures; built once per policy. Names are kept lower case, and
// the set of their lengths lets the parser skip every other header with one bit test.
class CapturePlan {
 public:
  CapturePlan() : CapturePlan("X-Forwarded-For", {}) {}
  // Names in any case. Key headers beyond kMaxKeyHeaders are ignored (the loader refuses them).
  // `body`: keep the request body and its Content-Type (a route reads a username from it:
  // Traefik >= 3.3 forwards the body with forwardBody: true).
  CapturePlan(std::string_view client_ip_header, std::vector<std::string> key_headers,
              bool body = false);

  const std::string& client_ip_header() const { return client_ip_header_; }
  bool body() const { return body_; }
  const std::vector<std::string>& key_headers() const { return key_headers_; }
  // False when no captured header has a name `length` bytes long. Lengths of 63 and more share
  // one bit, so a long name is never wrongly skipped.
  bool may_capture(std::size_t length) const {
    return (lengths_ >> (length < 63 ? length : 63)) & 1u;
  }

 private:
  std::string client_ip_header_;
  std::vector<std::string> key_headers_;
  std::uint64_t lengths_ = 0;  // bit n: some captured name is n bytes long (63: 63 or more)
  bool body_ = false;
};

// Header values as received (views; absent headers are empty).
struct ForwardHeaders {
  std::string_view method;     // X-Forwarded-Method
  std::string_view host;       // X-Forwarded-Host
  std::string_view uri;        // X-Forwarded-Uri: escaped path, "?", raw query
  std::string_view client_ip;  // the client_ip.header (default X-Forwarded-For)
  std::array<std::string_view, kMaxKeyHeaders> key_headers{};
  bool method_present = false, host_present = false, uri_present = false;
  std::string_view duplicate;  // a header that must appear once but came twice
  bool client_ip_present = false;
  std::string_view content_type;  // only with CapturePlan::body()
  std::string_view body;          // the forwarded body (CapturePlan::body()), else empty
};

// Storage for the normalised host and path: one per session, reused for every request.
struct RequestScratch {
  std::array<char, kMaxHostBytes> host;
  std::array<char, kMaxUriBytes> path;
  std::array<char, 16> method;
};

struct ForwardRequest {
  std::string_view method;   // upper case
  std::string_view host;     // lower case, no port, no trailing dot
  std::string_view path;     // normalised for matching
  std::string_view raw_uri;  // as received (logs)
  IpAddress client_ip;
  std::array<std::string_view, kMaxKeyHeaders> key_headers{};
  std::string_view content_type;  // of the forwarded body
  std::string_view body;          // forwarded by the proxy (forwardBody), when captured
  // A login name given outright (explain --username), instead of one read from the body.
  std::string_view username;
};

struct BadRequest {
  std::string_view header;   // which header, e.g. "X-Forwarded-Uri"
  std::string_view problem;  // what is wrong with it, e.g. "is missing"
};

struct ParseOutcome {
  ForwardRequest request;
  BadRequest bad;
  bool ok() const { return bad.header.empty(); }
};

// `client_ip_header` names the header for error messages.
ParseOutcome parse_forward_request(const ForwardHeaders& headers, std::string_view client_ip_header,
                                   const ClientIpStrategy& strategy, RequestScratch& scratch);

}  // namespace edgeguard
