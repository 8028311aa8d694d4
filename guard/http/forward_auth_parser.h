#pragma once
// A Beast parser that keeps only what a ForwardAuth decision reads: the X-Forwarded-* headers,
// the client-IP header and the headers limit keys name. Values are copied into a fixed arena
// owned by the session (repeated headers are joined with ","), so no field map is built and
// nothing is allocated per request. Everything else (Host, cookies, the body) is skipped.
//
// A head that arrives whole, with no body, is read in one pass by scan_request_head
// (head_scanner.h) instead of Beast's field-by-field parse; whatever that scan declines is
// Beast's, from the first byte, so both readings give the same answers and the same values.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "guard/request/forward_request.h"

namespace edgeguard {

class ForwardAuthParser final : public boost::beast::http::basic_parser<true> {
 public:
  // An arena as large as the header limit holds every captured value: values are a subset of
  // the header block. kArenaBytes fits the largest header limit the config accepts.
  static constexpr std::size_t kArenaBytes = 65536 + 1024;

  // With a plan that captures bodies, the body goes to `body` (bounded by body_limit(); the
  // session owns it and clears it for each request).
  ForwardAuthParser(const CapturePlan& plan, std::span<char> arena, std::string* body = nullptr)
      : plan_(plan), arena_(arena), body_(plan.body() ? body : nullptr) {}

  // The captured headers; the body view is valid once the request is done.
  const ForwardHeaders& headers() const { return headers_; }
  bool has_body() const { return has_body_; }

  // These hide basic_parser's: the first put() tries the one-pass scan (above).
  std::size_t put(boost::asio::const_buffer buffer, boost::beast::error_code& ec);
  bool is_done() const { return scanned_ || basic_parser::is_done(); }
  bool keep_alive() const { return scanned_ ? scanned_keep_alive_ : basic_parser::keep_alive(); }
  void header_limit(std::uint32_t v) {
    limit_ = v;
    basic_parser::header_limit(v);
  }
  // false: Beast alone reads every request (the differential test's reference).
  void use_scanner(bool on) { use_scanner_ = on; }
  // The request was read by the scan, not by Beast.
  bool scanned() const { return scanned_; }

 private:
  using error_code = boost::beast::error_code;
  using sv = boost::beast::string_view;  // boost::core::string_view in Boost 1.81
  using field = boost::beast::http::field;
  using verb = boost::beast::http::verb;

  void on_request_impl(verb, sv, sv, int, error_code&) override {}
  void on_response_impl(int, sv, int, error_code& ec) override {
    ec = boost::beast::http::error::bad_method;  // never a response on this side
  }
  void on_field_impl(field f, sv name, sv value, error_code& ec) override {
    if (f == field::transfer_encoding) saw_transfer_encoding_ = true;
    capture_field(std::string_view(name.data(), name.size()),
                  std::string_view(value.data(), value.size()), ec);
  }
  void capture_field(std::string_view name, std::string_view value, error_code& ec);
  // RFC 9112 6.3: a request whose final transfer coding is not chunked has no knowable length;
  // Beast would read it as bodiless and parse the body as the next request (smuggling).
  void on_header_impl(error_code& ec) override {
    if (saw_transfer_encoding_ && !chunked()) ec = boost::beast::http::error::bad_transfer_encoding;
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    has_body_ = !length || *length > 0;
  }
  std::size_t on_body_impl(sv body, error_code&) override {
    if (body_ != nullptr) body_->append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, sv, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, sv body, error_code&) override {
    if (body_ != nullptr) body_->append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {
    if (body_ != nullptr) headers_.body = *body_;
  }

  // Copies `value` for a header seen (possibly again) into the arena; joins repeats with ",".
  void capture(std::string_view& slot, bool& present, std::string_view value, error_code& ec);

  void capture_once(std::string_view header, std::string_view& slot, bool& present,
                    std::string_view value, error_code& ec);

  const CapturePlan& plan_;
  std::span<char> arena_;
  std::string* body_;
  std::size_t used_ = 0;
  ForwardHeaders headers_;
  bool has_body_ = false;
  bool saw_transfer_encoding_ = false;
  std::uint32_t limit_ = 8192;  // Beast's default, as basic_parser's
  bool use_scanner_ = true;
  bool scanned_ = false;
  bool scanned_keep_alive_ = false;
};

}  // namespace edgeguard
