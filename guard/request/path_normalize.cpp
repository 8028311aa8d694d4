#include "guard/request/path_normalize.h"

namespace edgeguard {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char upper_hex(char c) {
  return (c >= 'a' && c <= 'f') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Steps 1 and 2 in one pass: decode and collapse "//". Returns the length written.
// `dot_segment` tells whether a segment starts with "." (after decoding): only then can step 3
// change anything, and most request paths skip it.
std::size_t decode_and_collapse(std::string_view in, char* out, PathError& error,
                                bool& dot_segment) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) {
        error = PathError::bad_escape;
        return 0;
      }
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) {
        error = PathError::bad_escape;
        return 0;
      }
      const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
      if (decoded == 0) {
        error = PathError::encoded_nul;
        return 0;
      }
      i += 2;
      if (is_unreserved(decoded) || decoded == '/') {
        c = static_cast<char>(decoded);
      } else {
        out[n++] = '%';
        out[n++] = upper_hex(in[i - 1]);
        out[n++] = upper_hex(in[i]);
        continue;
      }
    }
    if (n > 0 && out[n - 1] == '/') {
      if (c == '/') continue;
      if (c == '.') dot_segment = true;
    }
    out[n++] = c;
  }
  return n;
}

// Step 3 in place. The output is a sequence of "/segment"; it never overtakes the read position,
// because every segment written was read first.
std::size_t remove_dot_segments(char* p, std::size_t len) {
  std::size_t w = 0;
  std::size_t r = 0;  // p[r] == '/' at the top of each iteration
  while (r < len) {
    std::size_t end = r + 1;
    while (end < len && p[end] != '/') ++end;
    const std::string_view seg(p + r + 1, end - r - 1);
    const bool last = end == len;
    if (seg == "." || seg == "..") {
      if (seg == "..") {
        while (w > 0 && p[w - 1] != '/') --w;  // drop the last segment's text
        if (w > 0) --w;                        // and its slash
      }
      if (last) p[w++] = '/';  // "/a/." and "/a/b/.." name a directory: keep the slash
    } else {
      for (std::size_t i = r; i < end; ++i) p[w++] = p[i];
    }
    r = end;
  }
  if (w == 0) p[w++] = '/';
  return w;
}

}  // namespace

std::size_t normalize_path(std::string_view path, char* out, PathError& error) {
  error = PathError::none;
  if (path.empty()) {
    error = PathError::empty;
    return 0;
  }
  if (path.front() != '/') {
    error = PathError::not_absolute;
    return 0;
  }
  bool dot_segment = false;
  const std::size_t n = decode_and_collapse(path, out, error, dot_segment);
  if (error != PathError::none) return 0;
  return dot_segment ? remove_dot_segments(out, n) : n;
}

const char* describe(PathError error) {
  switch (error) {
    case PathError::none:
      return "ok";
    case PathError::empty:
      return "is empty";
    case PathError::not_absolute:
      return "does not start with '/'";
    case PathError::bad_escape:
      return "has a '%' not followed by two hex digits";
    case PathError::encoded_nul:
      return "contains an encoded NUL (%00)";
  }
  return "is malformed";
}

}  // namespace edgeguard
