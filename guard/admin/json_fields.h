#pragma once
// A request body read as one flat JSON object: names to scalar values, in body order. Strict,
// because an admin request changes who is refused: a body that is not one JSON object (or
// has bytes after it), a value that is an object or an array, a name given twice, or more than
// kMaxJsonFields names is an error, naming the field where there is one. Strings are checked
// UTF-8 (Boost.JSON's SAX parser, no DOM is built).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard {

inline constexpr std::size_t kMaxJsonFields = 32;

struct JsonScalar {
  enum class Kind : std::uint8_t { string, number, boolean, null };
  Kind kind = Kind::null;
  std::string text;  // a string's value; a number as written; "true"/"false"; "null"
};
const char* to_string(JsonScalar::Kind kind);  // "a string", "a number", ...

struct JsonField {
  std::string name;
  JsonScalar value;
};

// What was wrong with a request: the field at fault ("" for the body as a whole) and why.
struct FieldError {
  std::string field;
  std::string detail;
};

std::optional<std::vector<JsonField>> parse_json_fields(std::string_view body, FieldError* error);

// One such object, or a JSON array of 1 to `max_objects` of them (a batch): each object as its
// own list of fields, in body order. The same strictness per object; an error in the n-th
// object names it ("[3].route").
std::optional<std::vector<std::vector<JsonField>>> parse_json_field_batch(std::string_view body,
                                                                          std::size_t max_objects,
                                                                          FieldError* error);

// Client text made safe to repeat in an answer: at most `max` bytes of printable ASCII
// (anything else shown as '?', a cut shown as "..."); quote_client_text adds single quotes.
std::string printable_client_text(std::string_view text, std::size_t max = 64);
std::string quote_client_text(std::string_view text, std::size_t max = 64);

// UTF-8 as RFC 3629 has it (no overlongs, no surrogates, nothing past U+10FFFF).
bool is_valid_utf8(std::string_view text);
// `text` with each byte that is not part of valid UTF-8 replaced by U+FFFD: a subject made from
// a request header may hold any bytes, and a JSON answer must still parse.
std::string to_valid_utf8(std::string_view text);

}  // namespace edgeguard
