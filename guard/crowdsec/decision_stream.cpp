#include "guard/crowdsec/decision_stream.h"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <optional>

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

// One entry's members, as read; buffers are reused from entry to entry.
struct EntryFields {
  enum Field { none, id, scope, value, type, duration, scenario, origin };
  static constexpr int kStrings = 7;  // scope .. origin, indexed by Field
  std::string text[kStrings + 1];
  bool present[kStrings + 1] = {};
  std::int64_t id_value = 0;

  void clear() {
    for (int i = 0; i <= kStrings; ++i) {
      text[i].clear();
      present[i] = false;
    }
    id_value = 0;
  }
  static Field field_of(std::string_view key) {
    if (key == "id") return id;
    if (key == "scope") return scope;
    if (key == "value") return value;
    if (key == "type") return type;
    if (key == "duration") return duration;
    if (key == "scenario") return scenario;
    if (key == "origin") return origin;
    return none;
  }
  std::string_view get(Field f) const {
    return present[f] ? std::string_view(text[f]) : std::string_view();
  }
};

// The JSON events of a stream answer. Depths: 1 the top object, 2 the "new"/"deleted" array,
// 3 an entry, 4 and more inside an entry's members (ignored, like any other top-level member).
class StreamHandler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  StreamHandler(ScopeMask scopes, StreamUpdate& out, std::unordered_set<std::string>& strings)
      : scopes_(scopes), out_(out), strings_(strings) {}

  std::string problem;  // why the body is not a stream answer

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code& ec) {
    if (depth_ == 0) return enter(ec);  // the top object
    if (depth_ == 1 && list_ != nullptr) return fail("neither an array nor null", ec);
    if (depth_ == 2 && list_ != nullptr) {
      in_entry_ = true;
      fields_.clear();
    } else if (depth_ == 3 && in_entry_) {
      fields_.present[current_] = false;  // a member that is not a string or a number
      current_ = EntryFields::none;
    }
    return enter(ec);
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    if (depth_ == 2 && in_entry_) {
      in_entry_ = false;
      finish_entry();
    }
    if (depth_ == 1) list_ = nullptr;
    return true;
  }
  bool on_array_begin(boost::system::error_code& ec) {
    if (depth_ == 0) return fail("not a JSON object", ec);
    if (depth_ == 2 && list_ != nullptr) skip("an entry that is not an object");
    if (depth_ == 3 && in_entry_) {
      fields_.present[current_] = false;
      current_ = EntryFields::none;
    }
    return enter(ec);
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    if (depth_ == 1) list_ = nullptr;
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    key_.append(s.data(), s.size());
    if (depth_ == 1) {
      list_ = key_ == "new" ? &out_.added : key_ == "deleted" ? &out_.deleted : nullptr;
      list_name_ = key_;
    } else if (depth_ == 3 && in_entry_) {
      current_ = EntryFields::field_of(key_);
      if (current_ != EntryFields::none) {
        fields_.text[current_].clear();
        fields_.present[current_] = false;
      }
    }
    key_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (!scalar(ec)) return false;
    if (capturing()) fields_.text[current_].append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code& ec) {
    if (!scalar(ec)) return false;
    if (capturing()) {
      fields_.text[current_].append(s.data(), s.size());
      fields_.present[current_] = current_ != EntryFields::id;
    }
    return done_scalar();
  }
  bool on_number_part(json::string_view, boost::system::error_code& ec) { return scalar(ec); }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code& ec) {
    if (!scalar(ec)) return false;
    if (depth_ == 3 && in_entry_ && current_ == EntryFields::id && i > 0) fields_.id_value = i;
    return done_scalar();
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code& ec) {
    if (!scalar(ec)) return false;
    if (depth_ == 3 && in_entry_ && current_ == EntryFields::id &&
        u <= static_cast<std::uint64_t>(INT64_MAX)) {
      fields_.id_value = static_cast<std::int64_t>(u);
    }
    return done_scalar();
  }
  bool on_double(double, json::string_view, boost::system::error_code& ec) {
    return scalar(ec) && done_scalar();
  }
  bool on_bool(bool, boost::system::error_code& ec) { return scalar(ec) && done_scalar(); }
  bool on_null(boost::system::error_code& ec) { return scalar(ec, true) && done_scalar(); }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  bool enter(boost::system::error_code&) {
    ++depth_;
    return true;
  }
  bool fail(const char* why, boost::system::error_code& ec) {
    if (depth_ == 1) {
      // (Appended piecewise: g++ 12 warns falsely on "\"" + std::string(...).)
      problem.assign(1, '"').append(list_name_).append("\" is ").append(why);
    } else {
      problem = why;
    }
    ec = make_error_code(boost::system::errc::invalid_argument);
    return false;
  }
  // Every scalar: not allowed as the whole document; a list must be an array or null (LAPI
  // writes null, not [], for none).
  bool scalar(boost::system::error_code& ec, bool is_null = false) {
    if (depth_ == 0) return fail("not a JSON object", ec);
    if (depth_ == 1 && list_ != nullptr && !is_null) return fail("neither an array nor null", ec);
    return true;
  }
  bool done_scalar() {
    if (depth_ == 2 && list_ != nullptr) skip("an entry that is not an object");
    if (depth_ == 3) current_ = EntryFields::none;
    if (depth_ == 1) list_ = nullptr;
    return true;
  }
  bool capturing() const { return depth_ == 3 && in_entry_ && current_ != EntryFields::none; }

  void skip(const char* why) {
    if (out_.skipped++ == 0) out_.first_skip = why;
  }

  std::string_view keep(std::string_view s) {
    if (s.empty()) return {};
    buffer_.assign(s);
    return *strings_.insert(buffer_).first;
  }

  void finish_entry() {
    StreamDecision d;
    if (const char* why = read_entry(d)) {
      skip(why);
    } else {
      list_->push_back(d);
    }
  }

  // nullptr when `d` is usable, else why not.
  const char* read_entry(StreamDecision& d) {
    const auto scope = scope_of(fields_.get(EntryFields::scope));
    if (!scope) return "a scope edgeguard does not match on";
    if ((scopes_ & scope_bit(*scope)) == 0) return "a scope not configured";
    d.scope = *scope;
    const std::string_view value = fields_.get(EntryFields::value);
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
    const bool need_duration = list_ == &out_.added;
    if (const auto ns = parse_go_duration_ns(fields_.get(EntryFields::duration))) {
      d.duration_ns = *ns;
      d.has_duration = true;
    } else if (need_duration) {
      return "a duration that does not parse";
    }
    d.type_name = keep(fields_.get(EntryFields::type));
    if (iequals(d.type_name, "ban")) {
      d.type = DecisionType::ban;
    } else if (iequals(d.type_name, "captcha")) {
      d.type = DecisionType::captcha;
    } else {
      d.type = DecisionType::other;
    }
    d.scenario = keep(fields_.get(EntryFields::scenario));
    d.origin = keep(fields_.get(EntryFields::origin));
    d.id = fields_.id_value;
    return nullptr;
  }

  ScopeMask scopes_;
  StreamUpdate& out_;
  std::unordered_set<std::string>& strings_;
  int depth_ = 0;
  std::vector<StreamDecision>* list_ = nullptr;  // the top-level member being read, if a list
  std::string list_name_;
  bool in_entry_ = false;
  EntryFields fields_;
  EntryFields::Field current_ = EntryFields::none;
  std::string key_, buffer_;
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
  json::basic_parser<StreamHandler> parser(options, scopes, out, out.strings_);
  boost::system::error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (ec) {
    const std::string& problem = parser.handler().problem;
    *error = problem.empty() ? "not JSON (" + ec.message() + ")" : problem;
    return false;
  }
  if (used != body.size()) {
    *error = "not JSON (extra data after the object)";
    return false;
  }
  return true;
}

}  // namespace edgeguard
