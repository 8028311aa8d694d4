#pragma once
// One line of a Traefik JSON access log reduced to what the policy reads. The parser is a
// single pass over the bytes that picks out a handful of fields and skips the rest without
// building a document: replaying a day of logs is dominated by this loop. Strings are views
// into the line, or into the parser's scratch buffer when they contained JSON escapes; both
// stay valid until the next parse().
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/request/forward_request.h"
#include "guard/text/rfc3339.h"

namespace edgeguard {

// Request headers a record can carry (`request_<Name>` fields): the client-ip header and the
// headers limit keys name.
inline constexpr std::size_t kMaxRecordHeaders = 5;

struct AccessRecord {
  // ClientHost: the TCP peer Traefik saw, except that Traefik writes the request's whole
  // X-Forwarded-For value here when it has one, i.e. when the peer is one of the entry point's
  // forwardedHeaders.trustedIPs (from anyone else Traefik strips that header first).
  std::string_view client_host;
  std::string_view request_host;  // RequestHost
  std::string_view method;        // RequestMethod
  std::string_view path;          // RequestPath: escaped path, "?", raw query
  std::int64_t start_ns = 0;      // StartUTC as nanoseconds since the Unix epoch
  // Optional: Traefik leaves RouterName out when no router matched (its own 404s), and either
  // field can be dropped with `accessLog.fields.names`. Failures need both; replay reads neither.
  std::string_view router_name;  // RouterName, as Traefik qualifies it: "erp@docker"
  std::string_view client_addr;  // ClientAddr: the TCP peer as "ip:port", never rewritten
  int downstream_status = 0;     // DownstreamStatus: the status the client got; 0 when absent
  std::array<std::string_view, kMaxRecordHeaders> headers{};
  std::array<bool, kMaxRecordHeaders> header_present{};
};

// The ForwardAuth call Traefik made for a logged request, as edgeguard would have received it:
// X-Forwarded-Method/-Host/-Uri from the record, and the client-address header rebuilt. With
// `header_is_xff` (client_ip.header is X-Forwarded-For) and the header logged
// (record.headers[0]), "<logged X-Forwarded-For>, <ClientHost>", as trustForwardHeader sends
// it; with another header logged, its value; otherwise ClientHost, and when Traefik wrote a
// trusted peer's forwarded chain there (ClientHost differs from ClientAddr's host) that chain
// followed by the peer, which is what the peer-side entry of X-Forwarded-For holds. Key headers
// come from record.headers[1..]. Views into `record` and `scratch`.
ForwardHeaders forwarded_headers(const AccessRecord& record, bool header_is_xff,
                                 std::string& scratch);

class AccessLogParser {
 public:
  // `header_names`: request headers to capture, matched case-insensitively against the
  // `request_<Name>` fields Traefik writes when header logging is on (at most
  // kMaxRecordHeaders; record.headers[i] is header_names[i]).
  explicit AccessLogParser(std::vector<std::string> header_names = {});

  // Parses one line (without its newline). Returns nullptr on success, or a short static
  // description of what is wrong: a line is data from outside, never a reason to stop.
  const char* parse(std::string_view line, AccessRecord& out);

 private:
  std::vector<std::string> header_fields_;  // "request_<name>", lower case
  std::string scratch_;                     // unescaped strings; grows, never shrinks
  std::size_t scratch_used_ = 0;
};

// RFC 3339 (as Go's time.RFC3339Nano writes it: "2024-05-01T12:34:56.123456789Z", fraction
// optional, "Z" or "+hh:mm"/"-hh:mm") to nanoseconds since the Unix epoch.
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view text);
// The inverse is format_rfc3339() (guard/text/rfc3339.h).

}  // namespace edgeguard
