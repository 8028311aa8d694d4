#pragma once
// The path as the route matcher sees it. Normalisation is for matching only (the request goes to
// the backend untouched), and it must be at least as eager as any backend's decoding, so that no
// spelling of a path reaches a backend endpoint without matching the route that guards it.
#include <cstddef>
#include <string_view>

namespace edgeguard {

enum class PathError { none, empty, not_absolute, bad_escape, encoded_nul };

// Normalises `path` (no query) into `out`, which must hold at least path.size() chars: the result
// is never longer than the input. Steps, in order:
//   1. percent-decode unreserved characters (ALPHA DIGIT - . _ ~) and "/" (%2F: WSGI/PHP backends
//      decode it, so "/a%2Fb" must match what "/a/b" matches); upper-case every other escape;
//      a "%" not followed by two hex digits, or %00, is an error;
//   2. collapse runs of "/" into one;
//   3. remove "." and ".." segments (RFC 3986 5.2.4), never climbing above "/".
// Returns the normalised length, or sets `error` and returns 0.
std::size_t normalize_path(std::string_view path, char* out, PathError& error);

const char* describe(PathError error);

}  // namespace edgeguard
