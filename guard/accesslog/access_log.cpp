#include "guard/accesslog/access_log.h"

#include <cstdio>
#include <cstring>
#include <limits>

namespace edgeguard {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != b[i]) return false;  // b is already lower case
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Cursor over one line. Every method leaves `p` just past what it consumed and returns false
// on malformed input.
struct Cursor {
  const char* p;
  const char* end;

  void skip_ws() {
    while (p < end && is_ws(*p)) ++p;
  }

  // At the opening quote. Sets `raw` to the bytes between the quotes and `escaped` when they
  // contain a backslash.
  bool string_span(std::string_view& raw, bool& escaped) {
    ++p;
    const char* start = p;
    escaped = false;
    for (;;) {
      const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
      if (q == nullptr) return false;
      const char* quote = static_cast<const char*>(q);
      // Count the backslashes right before the quote: an odd number escapes it.
      const char* b = quote;
      while (b > start && b[-1] == '\\') --b;
      if (!escaped && std::memchr(start, '\\', static_cast<std::size_t>(quote - start))) {
        escaped = true;
      }
      if ((quote - b) % 2 == 0) {
        raw = std::string_view(start, static_cast<std::size_t>(quote - start));
        p = quote + 1;
        return true;
      }
      p = quote + 1;
    }
  }

  // Skips any JSON value (nested ones by depth, honouring strings).
  bool skip_value() {
    if (p >= end) return false;
    const char c = *p;
    if (c == '"') {
      std::string_view raw;
      bool esc;
      return string_span(raw, esc);
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (p < end) {
        const char d = *p;
        if (d == '"') {
          std::string_view raw;
          bool esc;
          if (!string_span(raw, esc)) return false;
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') {
          if (--depth == 0) {
            ++p;
            return true;
          }
        }
        ++p;
      }
      return false;
    }
    // Number or literal: up to the next delimiter.
    const char* start = p;
    while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p)) ++p;
    return p > start;
  }
};

// Appends the UTF-8 encoding of `cp` to `out`.
void put_utf8(std::uint32_t cp, char*& out) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | (cp >> 6));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | (cp >> 12));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | (cp >> 18));
    *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool read_hex4(const char*& p, const char* end, std::uint32_t& v) {
  if (end - p < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<std::uint32_t>(h);
  }
  p += 4;
  return true;
}

// Decodes the escapes of `raw` into `out` (which has room: decoding never grows a string).
// Returns the decoded length, or -1 for a bad escape.
long unescape(std::string_view raw, char* out) {
  char* o = out;
  const char* p = raw.data();
  const char* end = p + raw.size();
  while (p < end) {
    if (*p != '\\') {
      *o++ = *p++;
      continue;
    }
    if (++p == end) return -1;
    const char e = *p++;
    switch (e) {
      case '"':
        *o++ = '"';
        break;
      case '\\':
        *o++ = '\\';
        break;
      case '/':
        *o++ = '/';
        break;
      case 'b':
        *o++ = '\b';
        break;
      case 'f':
        *o++ = '\f';
        break;
      case 'n':
        *o++ = '\n';
        break;
      case 'r':
        *o++ = '\r';
        break;
      case 't':
        *o++ = '\t';
        break;
      case 'u': {
        std::uint32_t cp;
        if (!read_hex4(p, end, cp)) return -1;
        if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
          const char* q = p + 2;
          std::uint32_t low;
          if (read_hex4(q, end, low) && low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p = q;
          }
        }
        put_utf8(cp, o);
        break;
      }
      default:
        return -1;
    }
  }
  return o - out;
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& v) {
  if (pos + n > s.size()) return false;
  v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

enum Field : int {
  kNone = -1,
  kClientHost = 0,
  kRequestHost,
  kMethod,
  kPath,
  kStart,
  kRouter,
  kClientAddr,
  kStatus,
  kFirstHeader
};

// DownstreamStatus is a JSON number in Traefik's log ("DownstreamStatus":401): at most three
// digits (a 0 reads the same as no status). Anything else (a string, a fraction, a sign) is not
// a status and makes the line malformed rather than a guess.
bool status_code(std::string_view raw, int& out) {
  if (raw.empty() || raw.size() > 3) return false;
  return digits(raw, 0, raw.size(), out);
}

}  // namespace

AccessLogParser::AccessLogParser(std::vector<std::string> header_names) {
  for (std::size_t i = 0; i < header_names.size() && i < kMaxRecordHeaders; ++i) {
    std::string f = "request_";
    for (char c : header_names[i]) f += lower(c);
    header_fields_.push_back(std::move(f));
  }
}

const char* AccessLogParser::parse(std::string_view line, AccessRecord& out) {
  out = AccessRecord{};
  // Escaped strings decode into scratch_; it must not move while views into it are live.
  if (scratch_.size() < line.size()) scratch_.resize(line.size());
  scratch_used_ = 0;
  Cursor c{line.data(), line.data() + line.size()};
  c.skip_ws();
  if (c.p == c.end || *c.p != '{') return "not a JSON object";
  ++c.p;
  std::string_view start_utc;
  bool have[kFirstHeader] = {};
  for (;;) {
    c.skip_ws();
    if (c.p < c.end && *c.p == '}') {
      ++c.p;
      break;
    }
    if (c.p == c.end || *c.p != '"') return "malformed JSON";
    std::string_view key;
    bool key_escaped;
    if (!c.string_span(key, key_escaped)) return "malformed JSON";
    c.skip_ws();
    if (c.p == c.end || *c.p != ':') return "malformed JSON";
    ++c.p;
    c.skip_ws();
    int field = kNone;
    if (!key_escaped) {
      switch (key.size()) {
        case 10:
          if (key == "ClientHost") field = kClientHost;
          if (key == "RouterName") field = kRouter;
          if (key == "ClientAddr") field = kClientAddr;
          break;
        case 16:
          if (key == "DownstreamStatus") field = kStatus;
          break;
        case 11:
          if (key == "RequestHost") field = kRequestHost;
          if (key == "RequestPath") field = kPath;
          break;
        case 13:
          if (key == "RequestMethod") field = kMethod;
          break;
        case 8:
          if (key == "StartUTC") field = kStart;
          break;
        default:
          break;
      }
      if (field == kNone && key.size() > 8 && key.starts_with("request_")) {
        for (std::size_t i = 0; i < header_fields_.size(); ++i) {
          if (iequals(key, header_fields_[i])) field = kFirstHeader + static_cast<int>(i);
        }
      }
    }
    if (field == kNone) {
      if (!c.skip_value()) return "malformed JSON";
    } else if (field == kStatus) {
      const char* start = c.p;
      if (!c.skip_value()) return "malformed JSON";
      if (!status_code(std::string_view(start, static_cast<std::size_t>(c.p - start)),
                       out.downstream_status)) {
        return "DownstreamStatus is not a status code";
      }
      have[kStatus] = true;
    } else {
      if (c.p == c.end || *c.p != '"') return "a request field is not a string";
      std::string_view raw;
      bool escaped;
      if (!c.string_span(raw, escaped)) return "malformed JSON";
      if (escaped) {
        char* dst = scratch_.data() + scratch_used_;
        const long n = unescape(raw, dst);
        if (n < 0) return "bad escape in a string";
        scratch_used_ += static_cast<std::size_t>(n);
        raw = std::string_view(dst, static_cast<std::size_t>(n));
      }
      switch (field) {
        case kClientHost:
          out.client_host = raw;
          break;
        case kRequestHost:
          out.request_host = raw;
          break;
        case kMethod:
          out.method = raw;
          break;
        case kPath:
          out.path = raw;
          break;
        case kStart:
          start_utc = raw;
          break;
        case kRouter:
          out.router_name = raw;
          break;
        case kClientAddr:
          out.client_addr = raw;
          break;
        default:
          out.headers[field - kFirstHeader] = raw;
          out.header_present[field - kFirstHeader] = true;
          break;
      }
      if (field < kFirstHeader) have[field] = true;
    }
    c.skip_ws();
    if (c.p < c.end && *c.p == ',') {
      ++c.p;
      continue;
    }
    if (c.p < c.end && *c.p == '}') {
      ++c.p;
      break;
    }
    return "malformed JSON";
  }
  c.skip_ws();
  if (c.p != c.end) return "text after the JSON object";
  if (!have[kClientHost]) return "missing ClientHost";
  if (!have[kRequestHost]) return "missing RequestHost";
  if (!have[kMethod]) return "missing RequestMethod";
  if (!have[kPath]) return "missing RequestPath";
  if (!have[kStart]) return "missing StartUTC";
  const auto ns = parse_rfc3339_ns(start_utc);
  if (!ns) return "StartUTC is not an RFC 3339 time";
  out.start_ns = *ns;
  return nullptr;
}

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::int64_t scale = 100'000'000;
    const std::size_t first = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;  // digits beyond nanoseconds add 0
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Nanoseconds in an int64 span 1677-09-21 to 2262-04-11: a time outside is not one a log
  // line of ours carries, and computing it would overflow.
  constexpr std::int64_t kMaxSecs = std::numeric_limits<std::int64_t>::max() / 1'000'000'000 - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) return std::nullopt;
  return secs * 1'000'000'000 + frac_ns;
}

ForwardHeaders forwarded_headers(const AccessRecord& rec, bool header_is_xff,
                                 std::string& scratch) {
  ForwardHeaders h;
  h.method = rec.method;
  h.host = rec.request_host;
  h.uri = rec.path;
  h.method_present = h.host_present = h.uri_present = true;
  h.client_ip_present = true;
  if (rec.header_present[0] && header_is_xff) {
    // trustForwardHeader: true sends "<incoming X-Forwarded-For>, <peer>".
    scratch.assign(rec.headers[0]);
    scratch += ", ";
    scratch += rec.client_host;
    h.client_ip = scratch;
  } else if (rec.header_present[0]) {
    h.client_ip = rec.headers[0];
  } else {
    // ClientAddr is "ip:port" or "[v6]:port"; its host is the peer.
    std::string_view peer = rec.client_addr.substr(0, rec.client_addr.rfind(':'));
    if (peer.size() >= 2 && peer.front() == '[' && peer.back() == ']') {
      peer = peer.substr(1, peer.size() - 2);
    }
    if (!peer.empty() && header_is_xff && rec.client_host != peer) {
      scratch.assign(rec.client_host);
      scratch += ", ";
      scratch += peer;
      h.client_ip = scratch;
    } else {
      h.client_ip = rec.client_host;  // the peer, what depth 1 reads
    }
  }
  for (std::size_t i = 0; i < kMaxKeyHeaders && i + 1 < kMaxRecordHeaders; ++i) {
    h.key_headers[i] = rec.headers[i + 1];
  }
  return h;
}

}  // namespace edgeguard
