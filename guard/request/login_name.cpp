#include "guard/request/login_name.h"

#include <boost/json.hpp>

#include <cstring>

#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

enum class BodyKind { none, json, form };

BodyKind kind_of(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  if (iequals_lower(media, "application/json")) return BodyKind::json;
  if (media.size() > 5 && iequals_lower(media.substr(media.size() - 5), "+json")) {
    return BodyKind::json;
  }
  if (iequals_lower(media, "application/x-www-form-urlencoded")) return BodyKind::form;
  return BodyKind::none;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding (x-www-form-urlencoded: '+' is a space, %XX a byte) into `out`; false on a bad
// escape or when it does not fit.
bool form_decode(std::string_view in, std::span<char> out, std::size_t& n) {
  n = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int h = hex(in[i + 1]), l = hex(in[i + 2]);
      if (h < 0 || l < 0) return false;
      c = static_cast<char>(h * 16 + l);
      i += 2;
    }
    if (n == out.size()) return false;
    out[n++] = c;
  }
  return true;
}

std::string_view form_field(std::string_view body, std::string_view field, std::span<char> out) {
  char name[160];
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    std::size_t name_len = 0;
    if (!form_decode(pair.substr(0, eq), name, name_len)) continue;
    if (std::string_view(name, name_len) != field) continue;
    std::size_t n = 0;
    if (!form_decode(pair.substr(eq + 1), out, n)) return {};
    return {out.data(), n};  // the first occurrence decides, as most frameworks read it
  }
  return {};
}

std::string_view json_field(std::string_view body, std::string_view field, std::span<char> out) {
  // Parsed into a buffer on the stack first: a login body is small, and a big one only spills.
  unsigned char buffer[4096];
  boost::json::monotonic_resource mr(buffer, sizeof buffer);
  boost::json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(body, ec, &mr, opts);
  if (ec || !v.is_object()) return {};
  const boost::json::value* f = v.as_object().if_contains(field);
  if (f == nullptr || !f->is_string()) return {};
  const boost::json::string& s = f->as_string();
  if (s.size() > out.size()) return {};
  std::memcpy(out.data(), s.data(), s.size());
  return {out.data(), s.size()};
}

// `name` (a view into `out`) trimmed, lower-cased in place, or empty when it cannot be a login.
std::string_view canonical_in_place(std::string_view name, std::span<char> out) {
  std::size_t begin = static_cast<std::size_t>(name.data() - out.data());
  std::size_t end = begin + name.size();
  while (begin < end && (out[begin] == ' ' || out[begin] == '\t')) ++begin;
  while (end > begin && (out[end - 1] == ' ' || out[end - 1] == '\t')) --end;
  if (begin == end || end - begin > kMaxUsernameBytes) return {};
  for (std::size_t i = begin; i < end; ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c == 0x7f) return {};
    out[i] = ascii_lower(out[i]);
  }
  return {out.data() + begin, end - begin};
}

}  // namespace

std::string_view extract_username(std::string_view content_type, std::string_view body,
                                  std::string_view field, std::span<char> out) {
  if (body.empty() || field.empty()) return {};
  std::string_view raw;
  switch (kind_of(content_type)) {
    case BodyKind::json:
      raw = json_field(body, field, out);
      break;
    case BodyKind::form:
      raw = form_field(body, field, out);
      break;
    case BodyKind::none:
      return {};
  }
  if (raw.empty()) return {};
  return canonical_in_place(raw, out);
}

std::string_view canonical_username(std::string_view name, std::span<char> out) {
  if (name.size() > out.size()) return {};
  std::memcpy(out.data(), name.data(), name.size());
  return canonical_in_place({out.data(), name.size()}, out);
}

}  // namespace edgeguard
