#include "guard/http/forward_auth_parser.h"

#include <cstring>

#include "guard/http/head_scanner.h"
#include "guard/text/swar.h"

namespace edgeguard {

void ForwardAuthParser::capture(std::string_view& slot, bool& present, std::string_view value,
                                error_code& ec) {
  const std::size_t extra = present ? 1 : 0;
  if (used_ + slot.size() + extra + value.size() > arena_.size()) {
    ec = boost::beast::http::error::header_limit;
    return;
  }
  char* start = arena_.data() + used_;
  std::size_t n = 0;
  if (present) {  // a repeated header: "a" then "b" is "a,b", as RFC 9110 5.3 allows
    std::memmove(start, slot.data(), slot.size());
    n = slot.size();
    start[n++] = ',';
  }
  std::memcpy(start + n, value.data(), value.size());
  n += value.size();
  used_ += n;
  slot = std::string_view(start, n);
  present = true;
}

void ForwardAuthParser::capture_once(std::string_view header, std::string_view& slot, bool& present,
                                     std::string_view value, error_code& ec) {
  // Two values for the host or the path are ambiguous: which one would the backend use?
  if (present) {
    if (headers_.duplicate.empty()) headers_.duplicate = header;
    return;
  }
  capture(slot, present, value, ec);
}

std::size_t ForwardAuthParser::put(boost::asio::const_buffer buffer, error_code& ec) {
  if (use_scanner_ && !got_some() && !scanned_) {
    const std::string_view in(static_cast<const char*>(buffer.data()), buffer.size());
    const HeadScan scan =
        scan_request_head(in, limit_, [&](std::string_view n, std::string_view v) {
          error_code capture_ec;
          capture_field(n, v, capture_ec);
          return !capture_ec;
        });
    if (scan.length > 0) {
      scanned_ = true;
      scanned_keep_alive_ = scan.keep_alive;
      if (body_ != nullptr) headers_.body = *body_;  // as on_finish_impl: no body, an empty one
      ec = {};
      return scan.length;
    }
    // Declined: Beast reads the request from its first byte, into a clean capture.
    headers_ = ForwardHeaders{};
    used_ = 0;
  }
  return basic_parser::put(buffer, ec);
}

void ForwardAuthParser::capture_field(std::string_view name, std::string_view value,
                                      error_code& ec) {
  // Most headers (Host, User-Agent, Accept, cookies) are skipped by their length alone; the
  // rest are compared a word at a time (X-Forwarded-* names share their first 12 bytes).
  using swar::iequals_lower;
  if (!plan_.may_capture(name.size())) return;
  if (iequals_lower(name, plan_.client_ip_header())) {
    capture(headers_.client_ip, headers_.client_ip_present, value, ec);
  } else if (iequals_lower(name, "x-forwarded-method")) {
    capture_once("X-Forwarded-Method", headers_.method, headers_.method_present, value, ec);
  } else if (iequals_lower(name, "x-forwarded-host")) {
    capture_once("X-Forwarded-Host", headers_.host, headers_.host_present, value, ec);
  } else if (iequals_lower(name, "x-forwarded-uri")) {
    capture_once("X-Forwarded-Uri", headers_.uri, headers_.uri_present, value, ec);
  } else if (plan_.body() && iequals_lower(name, "content-type")) {
    bool present = !headers_.content_type.empty();
    capture(headers_.content_type, present, value, ec);
  }
  const auto& keys = plan_.key_headers();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (iequals_lower(name, keys[i])) {
      bool present = !headers_.key_headers[i].empty();
      capture(headers_.key_headers[i], present, value, ec);
    }
  }
}

}  // namespace edgeguard
