#include "guard/crowdsec/decision_stream.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <charconv>

#include "guard/crowdsec/go_duration.h"

namespace edgeguard {
namespace {

namespace json = boost::json;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view string_field(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return {};
  const json::string& s = v->get_string();
  return {s.data(), s.size()};
}

std::optional<DecisionScope> scope_of(std::string_view text) {
  // LAPI writes "Ip", "Range", "Country", "AS"; older agents and hand-made alerts vary the case.
  if (iequals(text, "ip")) return DecisionScope::ip;
  if (iequals(text, "range")) return DecisionScope::range;
  if (iequals(text, "country")) return DecisionScope::country;
  if (iequals(text, "as")) return DecisionScope::as;
  return std::nullopt;
}

// "1.2.3.4", "2001:db8::1", "::ffff:1.2.3.4" (unmapped to IPv4 like every address edgeguard sees).
bool read_ip(std::string_view text, StreamDecision& d) {
  const auto ip = IpAddress::parse(text);
  if (!ip) return false;
  d.address = *ip;
  d.prefix = ip->is_v4() ? 32 : 128;
  return true;
}

// "10.0.0.0/8", "2001:db8::/32". Host bits are cleared rather than refused: the decision is
// LAPI's, and "1.2.3.4/24" can only mean the /24. A mapped IPv4 range "::ffff:10.0.0.0/104"
// becomes the IPv4 range it is.
bool read_range(std::string_view text, StreamDecision& d) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view addr = text.substr(0, slash), bits = text.substr(slash + 1);
  const auto ip = IpAddress::parse(addr);
  if (!ip || bits.empty()) return false;
  int prefix = -1;
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
  if (ec != std::errc() || end != bits.data() + bits.size()) return false;
  if (ip->is_v4() && addr.find(':') != std::string_view::npos) {
    if (prefix < 96 || prefix > 128) return false;
    prefix -= 96;
  }
  if (prefix < 0 || prefix > (ip->is_v4() ? 32 : 128)) return false;
  d.address = ip->masked(prefix);
  d.prefix = static_cast<std::uint8_t>(prefix);
  return true;
}

bool read_country(std::string_view text, StreamDecision& d) {
  if (text.size() != 2) return false;
  char c[2];
  for (int i = 0; i < 2; ++i) {
    char x = text[static_cast<std::size_t>(i)];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (x < 'A' || x > 'Z') return false;
    c[i] = x;
  }
  d.target = pack_country(c[0], c[1]);
  return true;
}

// "64496", or "AS64496" as some tools write it.
bool read_asn(std::string_view text, StreamDecision& d) {
  if (text.size() > 2 && iequals(text.substr(0, 2), "as")) text.remove_prefix(2);
  std::uint32_t asn = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), asn);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || asn == 0) {
    return false;
  }
  d.target = asn;
  return true;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

std::uint64_t mix_text(std::uint64_t h, std::string_view s) {
  h = mix(h, s.size());
  for (const char c : s) h = mix(h, static_cast<unsigned char>(c));
  return h;
}

class EntryReader {
 public:
  EntryReader(ScopeMask scopes, StreamUpdate& out) : scopes_(scopes), out_(out) {}

  // Appends the decisions of one "new" or "deleted" array to `into`.
  bool read_list(const json::value* list, bool need_duration, std::vector<StreamDecision>& into,
                 std::string_view name, std::string* error) {
    if (list == nullptr || list->is_null()) return true;  // LAPI writes null, not [], for none
    if (!list->is_array()) {
      // (Appended piecewise: g++ 12 warns falsely on "\"" + std::string(...).)
      error->assign(1, '"').append(name).append("\" is neither an array nor null");
      return false;
    }
    into.reserve(list->get_array().size());
    for (const json::value& entry : list->get_array()) {
      StreamDecision d;
      if (const char* why = read_entry(entry, need_duration, d)) {
        skip(why);
      } else {
        into.push_back(d);
      }
    }
    return true;
  }

 private:
  // nullptr when `d` is usable, else why not.
  const char* read_entry(const json::value& entry, bool need_duration, StreamDecision& d) {
    if (!entry.is_object()) return "an entry that is not an object";
    const json::object& o = entry.get_object();
    const auto scope = scope_of(string_field(o, "scope"));
    if (!scope) return "a scope edgeguard does not match on";
    if ((scopes_ & scope_bit(*scope)) == 0) return "a scope not configured";
    d.scope = *scope;
    const std::string_view value = string_field(o, "value");
    bool ok = false;
    switch (*scope) {
      case DecisionScope::ip:
        ok = read_ip(value, d);
        break;
      case DecisionScope::range:
        ok = read_range(value, d);
        break;
      case DecisionScope::country:
        ok = read_country(value, d);
        break;
      case DecisionScope::as:
        ok = read_asn(value, d);
        break;
    }
    if (!ok) return "a value that does not parse for its scope";
    d.type_name = string_field(o, "type");
    if (iequals(d.type_name, "ban")) {
      d.type = DecisionType::ban;
    } else if (iequals(d.type_name, "captcha")) {
      d.type = DecisionType::captcha;
    } else {
      d.type = DecisionType::other;
    }
    d.scenario = string_field(o, "scenario");
    d.origin = string_field(o, "origin");
    if (const json::value* id = o.if_contains("id")) {
      if (id->is_int64() && id->get_int64() > 0) {
        d.id = id->get_int64();
      } else if (id->is_uint64() && id->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        d.id = static_cast<std::int64_t>(id->get_uint64());
      }
    }
    if (const auto ns = parse_go_duration_ns(string_field(o, "duration"))) {
      d.duration_ns = *ns;
      d.has_duration = true;
    } else if (need_duration) {
      return "a duration that does not parse";
    }
    return nullptr;
  }

  void skip(const char* why) {
    if (out_.skipped++ == 0) out_.first_skip = why;
  }

  ScopeMask scopes_;
  StreamUpdate& out_;
};

}  // namespace

std::int64_t StreamDecision::key() const {
  if (id > 0) return id;
  std::uint64_t h = mix(0, static_cast<std::uint64_t>(scope));
  h = mix(h, static_cast<std::uint64_t>(address.bits() >> 64));
  h = mix(h, static_cast<std::uint64_t>(address.bits()));
  h = mix(h, prefix);
  h = mix(h, target);
  h = mix_text(h, type_name);
  h = mix_text(h, scenario);
  h = mix_text(h, origin);
  return -static_cast<std::int64_t>(h >> 1) - 1;
}

bool parse_decision_stream(std::string_view body, ScopeMask scopes, StreamUpdate& out,
                           std::string* error) {
  json::parse_options options;
  options.max_depth = 8;  // the answer is 3 deep; anything deeper is not LAPI's
  boost::system::error_code ec;
  out.document_ = nullptr;  // before the arena it may live in goes
  out.arena_ = std::make_unique<json::monotonic_resource>(body.size() + 1024);
  out.document_ = json::parse(json::string_view(body.data(), body.size()), ec,
                              json::storage_ptr(out.arena_.get()), options);
  if (ec) {
    *error = "not JSON (" + ec.message() + ")";
    return false;
  }
  if (!out.document_.is_object()) {
    *error = "not a JSON object";
    return false;
  }
  const json::object& top = out.document_.get_object();
  EntryReader reader(scopes, out);
  return reader.read_list(top.if_contains("new"), true, out.added, "new", error) &&
         reader.read_list(top.if_contains("deleted"), false, out.deleted, "deleted", error);
}

}  // namespace edgeguard
