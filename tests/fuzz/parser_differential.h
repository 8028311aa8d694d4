#pragma once
// The ForwardAuth parser read two ways, for the differential checks (tests/unit
// head_scanner_test.cpp and the forward_auth_scanner fuzz target): with its one-pass head scan
// (guard/http/head_scanner.h) and with Beast alone. `read_requests` feeds bytes as a session
// does (pipelined requests, one parser each) and writes down every outcome a session acts on:
// the error or need_more, the bytes consumed, keep-alive, and every captured value. The two
// readings must give the same record.
#include <array>
#include <boost/asio/buffer.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "guard/http/forward_auth_parser.h"

namespace edgeguard::testing {

struct ParserReading {
  std::string record;  // equal for both readings
  int scanned = 0;     // requests the scan read (0 with Beast alone)
};

inline void append_view(std::string& out, const char* label, std::string_view v, bool present) {
  out += label;
  out += present ? "=[" : "=absent[";
  out += v;
  out += "] ";
}

inline ParserReading read_requests(std::string_view in, const CapturePlan& plan, bool scanner,
                                   std::uint32_t header_limit = 8192,
                                   std::uint64_t body_limit = 1024) {
  static const auto arena = std::make_unique<std::array<char, ForwardAuthParser::kArenaBytes>>();
  ParserReading reading;
  std::string& r = reading.record;
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    std::string body;
    ForwardAuthParser parser(plan, *arena, &body);
    parser.use_scanner(scanner);
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    parser.eager(true);
    bool complete = false;
    for (;;) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
      in.remove_prefix(used);
      r += "put:" + std::to_string(used) + " ";
      if (ec == boost::beast::http::error::need_more) {
        if (used == 0 || in.empty()) {
          r += "need_more ";
          break;
        }
        continue;
      }
      if (ec) {
        r += "error:" + ec.message() + " ";
        break;
      }
      if (parser.is_done()) {
        complete = true;
        break;
      }
      if (used == 0) break;
    }
    if (!complete) return reading;
    reading.scanned += parser.scanned() ? 1 : 0;
    const ForwardHeaders& h = parser.headers();
    r += parser.keep_alive() ? "keep-alive " : "close ";
    append_view(r, "method", h.method, h.method_present);
    append_view(r, "host", h.host, h.host_present);
    append_view(r, "uri", h.uri, h.uri_present);
    append_view(r, "client_ip", h.client_ip, h.client_ip_present);
    append_view(r, "duplicate", h.duplicate, true);
    append_view(r, "content_type", h.content_type, true);
    append_view(r, "body", h.body, true);
    for (const auto& k : h.key_headers) append_view(r, "key", k, true);
    r += "\n";
  }
  return reading;
}

}  // namespace edgeguard::testing
