#include "guard/admin/json_fields.h"

#include <boost/json/basic_parser_impl.hpp>

namespace edgeguard {
namespace {

namespace json = boost::json;
using json::error_code;

// SAX handler: accepts exactly one object of scalars (or, with `max_objects` > 0, an array of
// up to that many such objects). Each callback that finds a violation records it and stops the
// parser (a handler that returns false must set `ec`).
class FlatObjectHandler {
 public:
  static constexpr std::size_t max_object_size = kMaxJsonFields + 1;  // on_key() says it first
  static constexpr std::size_t max_array_size = std::size_t(-1);      // on_object_begin() counts
  static constexpr std::size_t max_key_size = 1024;
  static constexpr std::size_t max_string_size = 64 * 1024;

  std::vector<std::vector<JsonField>> objects;
  FieldError error;
  bool failed = false;
  std::size_t max_objects = 0;  // 0: one object, no array

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code& ec) {
    if (depth_ == 0 || (depth_ == 1 && in_array_)) {
      if (in_array_ && objects.size() == max_objects) {
        return fail({}, "the batch has more than " + std::to_string(max_objects) + " objects", ec);
      }
      objects.emplace_back();
      ++depth_;
      return true;
    }
    return nested("an object", ec);
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(error_code& ec) {
    if (depth_ == 0) {
      if (max_objects == 0) return fail({}, "the body must be a JSON object, not an array", ec);
      in_array_ = true;
      depth_ = 1;
      return true;
    }
    if (depth_ == 1 && in_array_) return fail({}, "a batch holds objects, not arrays", ec);
    return nested("an array", ec);
  }
  bool on_array_end(std::size_t n, error_code& ec) {
    if (n == 0) return fail({}, "the batch is empty", ec);
    depth_ = 0;
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code& ec) {
    key_.append(s.data(), s.size());
    std::vector<JsonField>& fields = objects.back();
    for (const auto& f : fields) {
      if (f.name == key_) {
        return fail(where() + printable_client_text(key_),
                    "the field " + quote_client_text(key_) + " is given twice", ec);
      }
    }
    if (fields.size() == kMaxJsonFields) {
      return fail({}, "the body has more than " + std::to_string(kMaxJsonFields) + " fields", ec);
    }
    fields.push_back({std::move(key_), {}});
    key_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_.append(s.data(), s.size());
    return value(JsonScalar::Kind::string);
  }
  bool on_number_part(json::string_view s, error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t, json::string_view s, error_code& ec) { return number(s, ec); }
  bool on_uint64(std::uint64_t, json::string_view s, error_code& ec) { return number(s, ec); }
  bool on_double(double, json::string_view s, error_code& ec) { return number(s, ec); }
  bool on_bool(bool b, error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_ = b ? "true" : "false";
    return value(JsonScalar::Kind::boolean);
  }
  bool on_null(error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_ = "null";
    return value(JsonScalar::Kind::null);
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  bool fail(std::string field, std::string detail, error_code& ec) {
    failed = true;
    error = {std::move(field), std::move(detail)};
    ec = json::error::exception;  // any code: `error` says what happened
    return false;
  }
  // "[3]." inside a batch: which object a field belongs to.
  std::string where() const {
    return in_array_ ? "[" + std::to_string(objects.size() - 1) + "]." : std::string();
  }
  bool nested(const char* what, error_code& ec) {
    const std::string name =
        objects.empty() || objects.back().empty() ? std::string() : objects.back().back().name;
    return fail(where() + printable_client_text(name),
                "the field " + quote_client_text(name) +
                    " must be a string, number, "
                    "true, false or null, not " +
                    what,
                ec);
  }
  bool top_level_scalar(error_code& ec) {
    return fail({}, in_array_ ? "a batch holds objects" : "the body must be a JSON object", ec);
  }
  bool number(json::string_view s, error_code& ec) {
    if (!in_object()) return top_level_scalar(ec);
    text_.append(s.data(), s.size());
    return value(JsonScalar::Kind::number);
  }
  bool value(JsonScalar::Kind kind) {
    objects.back().back().value = {kind, std::move(text_)};
    text_.clear();
    return true;
  }

  // Inside an object whose fields are being read (not at the top, not between a batch's objects).
  bool in_object() const { return depth_ == (in_array_ ? 2 : 1); }

  int depth_ = 0;  // 1 inside the object (or the batch's array), 2 inside a batch's object
  bool in_array_ = false;
  std::string key_;
  std::string text_;
};

}  // namespace

const char* to_string(JsonScalar::Kind kind) {
  switch (kind) {
    case JsonScalar::Kind::string:
      return "a string";
    case JsonScalar::Kind::number:
      return "a number";
    case JsonScalar::Kind::boolean:
      return "true or false";
    case JsonScalar::Kind::null:
      return "null";
  }
  return "?";
}

namespace {

std::optional<std::vector<std::vector<JsonField>>> parse_objects(std::string_view body,
                                                                 std::size_t max_objects,
                                                                 FieldError* error) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    *error = {{}, "the body is empty: send a JSON object"};
    return std::nullopt;
  }
  json::basic_parser<FlatObjectHandler> parser(json::parse_options{});
  parser.handler().max_objects = max_objects;
  error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  FlatObjectHandler& h = parser.handler();
  if (h.failed) {
    *error = std::move(h.error);
    return std::nullopt;
  }
  if (ec) {
    *error = {{},
              "the body is not JSON (" + ec.message() + " at byte " + std::to_string(used) + ")"};
    return std::nullopt;
  }
  if (used != body.size()) {
    *error = {{},
              "the body has bytes after its JSON object (at byte " + std::to_string(used) + ")"};
    return std::nullopt;
  }
  return std::move(h.objects);
}

}  // namespace

std::optional<std::vector<JsonField>> parse_json_fields(std::string_view body, FieldError* error) {
  auto objects = parse_objects(body, 0, error);
  if (!objects) return std::nullopt;
  return std::move(objects->front());
}

std::optional<std::vector<std::vector<JsonField>>> parse_json_field_batch(std::string_view body,
                                                                          std::size_t max_objects,
                                                                          FieldError* error) {
  return parse_objects(body, max_objects, error);
}

std::string printable_client_text(std::string_view text, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const char c = text[i];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > max) out += "...";
  return out;
}

namespace {

// The length of the valid UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  while (!text.empty()) {
    const std::size_t n = utf8_sequence(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      n = 1;
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string quote_client_text(std::string_view text, std::size_t max) {
  std::string out(1, '\'');
  out += printable_client_text(text, max);
  out += '\'';
  return out;
}

}  // namespace edgeguard
