#include "guard/request/forward_request.h"

#include "guard/request/host_normalize.h"
#include "guard/request/path_normalize.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
         c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

}  // namespace

CapturePlan::CapturePlan(std::string_view client_ip_header, std::vector<std::string> key_headers,
                         bool body)
    : client_ip_header_(ascii_lower(client_ip_header)), body_(body) {
  if (key_headers.size() > kMaxKeyHeaders) key_headers.resize(kMaxKeyHeaders);
  for (auto& name : key_headers) key_headers_.push_back(ascii_lower(name));
  const auto note = [this](std::size_t length) {
    lengths_ |= std::uint64_t{1} << (length < 63 ? length : 63);
  };
  for (std::string_view name : {"x-forwarded-method", "x-forwarded-host", "x-forwarded-uri"}) {
    note(name.size());
  }
  note(client_ip_header_.size());
  if (body_) note(std::string_view("content-type").size());
  for (const auto& name : key_headers_) note(name.size());
}

ParseOutcome parse_forward_request(const ForwardHeaders& headers, std::string_view client_ip_header,
                                   const ClientIpStrategy& strategy, RequestScratch& scratch) {
  ParseOutcome out;
  auto fail = [&out](std::string_view header, std::string_view problem) {
    out.bad = {header, problem};
    return out;
  };

  if (!headers.duplicate.empty()) return fail(headers.duplicate, "appears more than once");

  // Method: a token, upper-cased so "post" cannot slip past a POST-only route.
  if (!headers.method_present || headers.method.empty()) {
    return fail("X-Forwarded-Method", "is missing");
  }
  if (headers.method.size() > scratch.method.size()) {
    return fail("X-Forwarded-Method", "is too long");
  }
  for (std::size_t i = 0; i < headers.method.size(); ++i) {
    char c = headers.method[i];
    if (!is_token_char(c)) return fail("X-Forwarded-Method", "is not an HTTP method token");
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    scratch.method[i] = c;
  }
  out.request.method = {scratch.method.data(), headers.method.size()};

  if (!headers.host_present || headers.host.empty()) return fail("X-Forwarded-Host", "is missing");
  if (headers.host.size() > scratch.host.size()) return fail("X-Forwarded-Host", "is too long");
  const std::size_t host_len = normalize_host(headers.host, scratch.host.data());
  if (host_len == 0) return fail("X-Forwarded-Host", "is not a host name or IP literal");
  out.request.host = {scratch.host.data(), host_len};

  if (!headers.uri_present) return fail("X-Forwarded-Uri", "is missing");
  std::string_view uri = headers.uri;
  if (uri.size() > scratch.path.size()) return fail("X-Forwarded-Uri", "is too long");
  out.request.raw_uri = uri;
  const auto query = uri.find('?');
  const std::string_view raw_path = uri.substr(0, query);
  PathError path_error = PathError::none;
  const std::size_t path_len = normalize_path(raw_path, scratch.path.data(), path_error);
  if (path_error != PathError::none) return fail("X-Forwarded-Uri", describe(path_error));
  out.request.path = {scratch.path.data(), path_len};

  if (!headers.client_ip_present) {
    out.bad = {client_ip_header, "is missing"};
    return out;
  }
  const ClientIpResult ip = resolve_client_ip(headers.client_ip, strategy);
  if (ip.error != ClientIpError::none) {
    out.bad = {client_ip_header, describe(ip.error)};
    return out;
  }
  out.request.client_ip = ip.ip;
  out.request.key_headers = headers.key_headers;
  out.request.content_type = headers.content_type;
  out.request.body = headers.body;
  return out;
}

}  // namespace edgeguard
