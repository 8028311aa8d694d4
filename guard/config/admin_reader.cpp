#include "guard/config/admin_reader.h"

#include <fstream>
#include <iterator>

namespace edgeguard::config {
namespace {

constexpr std::size_t kMinToken = 16;
constexpr std::size_t kMaxToken = 4096;
constexpr std::size_t kMaxFile = 64 * 1024;  // a token file is one short line

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::optional<std::string> parse_admin_token(std::string_view text, std::string* error) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty()) {
    *error = "holds no token";
    return std::nullopt;
  }
  for (char c : text) {
    // Visible ASCII only: the token travels in an Authorization header, and a second line or
    // an inner space is almost always a file that holds something else.
    if (c < 0x21 || c > 0x7e) {
      *error = "must hold one token: printable ASCII, no spaces, on one line";
      return std::nullopt;
    }
  }
  if (text.size() < kMinToken || text.size() > kMaxToken) {
    *error = "must hold a token of " + std::to_string(kMinToken) + " to " +
             std::to_string(kMaxToken) + " characters (e.g. openssl rand -hex 32)";
    return std::nullopt;
  }
  return std::string(text);
}

std::string read_token_file(const YAML::Node& v, const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(v, what + ": cannot read " + path);
  std::string text;
  text.resize(kMaxFile + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) fail(v, what + ": cannot read " + path);
  std::string why;
  auto token = parse_admin_token(text, &why);
  if (!token) fail(v, what + ": " + path + " " + why);
  return std::move(*token);
}

void read_admin(const YAML::Node& n, const std::string& base_dir, AdminSettings& admin) {
  MapReader m(n, "admin");
  if (auto v = m.get("token_file")) {
    admin.token_file = as_path(v, "admin.token_file", base_dir);
    admin.token = read_token_file(v, "admin.token_file", admin.token_file);
  }
  m.finish();
}

}  // namespace edgeguard::config
