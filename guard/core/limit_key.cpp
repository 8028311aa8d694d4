#include "guard/core/limit_key.h"

#include <charconv>
#include <cstring>

#include "guard/text/seeded_hash.h"

namespace edgeguard {
namespace {

// Header values longer than this are keyed by their hash: a key stays small and bounded.
constexpr std::size_t kMaxHeaderKeyBytes = 128;

class KeyWriter {
 public:
  explicit KeyWriter(std::span<char> buffer) : buf_(buffer) {}
  void put(std::string_view s) {
    const std::size_t n = std::min(s.size(), buf_.size() - pos_);
    std::memcpy(buf_.data() + pos_, s.data(), n);
    pos_ += n;
  }
  void put(char c) {
    if (pos_ < buf_.size()) buf_[pos_++] = c;
  }
  void put_hex(std::uint64_t v) {
    char tmp[16];
    auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, v, 16);
    (void)ec;
    put(std::string_view(tmp, static_cast<std::size_t>(end - tmp)));
  }
  void put_ip(const IpAddress& ip) {
    char tmp[64];
    put(std::string_view(tmp, ip.format(tmp)));
  }
  std::size_t size() const { return pos_; }
  char* data() { return buf_.data(); }

 private:
  std::span<char> buf_;
  std::size_t pos_ = 0;
};

}  // namespace

namespace {

// The key parts of `limit` for this request, each preceded by `separator`.
void put_parts(KeyWriter& w, const LimitPolicy& limit, const ForwardRequest& request,
               const Facts& facts, int ipv6_prefix, char separator) {
  for (const KeyPart& part : limit.key) {
    w.put(separator);
    switch (part.kind) {
      case KeyPart::Kind::client_ip:
        w.put_ip(facts.client_ip.is_v4() ? facts.client_ip : facts.client_ip.masked(ipv6_prefix));
        break;
      case KeyPart::Kind::route:
        break;  // the prefix already names the route
      case KeyPart::Kind::host:
        w.put(request.host);
        break;
      case KeyPart::Kind::username:
        w.put(facts.username);
        break;
      case KeyPart::Kind::header: {
        const std::string_view v = request.key_headers[part.header_slot];
        if (v.size() <= kMaxHeaderKeyBytes) {
          w.put(v);
        } else {
          w.put('#');
          w.put_hex(seeded_hash(v, 0));
        }
        break;
      }
    }
  }
}

}  // namespace

void build_limit_calls(const Route& route, std::span<const LimitPolicy> limits,
                       const ForwardRequest& request, const Facts& facts, int ipv6_prefix,
                       LimitCalls& out, const Escalation* escalation, BanSource source) {
  out.count = 0;
  const std::uint64_t seed = process_hash_seed();
  std::span<char> free(out.buffer);
  for (std::size_t index = 0; index < limits.size(); ++index) {
    const LimitPolicy& limit = limits[index];
    if (out.count == kMaxLimitsPerRoute) break;
    if (facts.username.empty() && limit.keyed_on(KeyPart::Kind::username)) continue;
    if (!facts.client_ip_known && limit.keyed_on(KeyPart::Kind::client_ip)) continue;
    KeyWriter w(free);
    w.put(limit.key_prefix);
    put_parts(w, limit, request, facts, ipv6_prefix, kKeySeparator);
    const std::size_t i = out.count++;
    LimitCall& call = out.calls[i];
    call.rate = limit.rate;
    call.key = std::string_view(w.data(), w.size());
    call.key_hash = seeded_hash(call.key, seed);
    call.ban = nullptr;
    call.limit = static_cast<int>(index);
    free = free.subspan(w.size());
    if (escalation != nullptr && limit.ban) {
      const std::size_t n = ban_subject(route, limit, request, facts, ipv6_prefix, free);
      if (n > 0) {
        BanOrder& order = out.bans[i];
        order.subject = std::string_view(free.data(), n);
        order.scope = limit.ban->scope_all ? kEveryRoute : std::string_view(route.name);
        order.reason = limit.name;
        order.for_ns = limit.ban->for_ns;
        order.escalation = escalation;
        order.source = source;
        call.ban = &order;
        free = free.subspan(n);
      }
    }
  }
}

std::size_t ban_subject(const Route& route, const LimitPolicy& limit, const ForwardRequest& request,
                        const Facts& facts, int ipv6_prefix, std::span<char> out) {
  if (limit.key.size() == 1 && limit.key[0].kind == KeyPart::Kind::client_ip) {
    if (out.size() < kMaxIpSubject) return 0;
    return format_ip_subject(facts.client_ip, ipv6_prefix, out.data());
  }
  if (limit.key.size() == 1 && limit.key[0].kind == KeyPart::Kind::username) {
    KeyWriter w(out);
    w.put("user:");
    w.put(facts.username);
    return !facts.username.empty() && w.size() < out.size() ? w.size() : 0;
  }
  KeyWriter w(out);
  w.put("key:");
  w.put(route.name);
  w.put('/');
  w.put(limit.name);
  put_parts(w, limit, request, facts, ipv6_prefix, '/');
  return w.size() < out.size() ? w.size() : 0;  // a full buffer may have cut it short
}

std::string_view key_value(std::string_view key) {
  const auto first = key.find(kKeySeparator);
  if (first == std::string_view::npos) return key;
  const auto second = key.find(kKeySeparator, first + 1);
  if (second == std::string_view::npos) return {};
  return key.substr(second + 1);
}

}  // namespace edgeguard
