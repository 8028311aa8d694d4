#include "guard/admin/admin_router.h"

#include <algorithm>

#include "guard/admin/json_fields.h"
#include "guard/text/ascii.h"

namespace edgeguard {
namespace {

namespace http = boost::beast::http;

// The path an endpoint serves matches `path`; `param` gets the rest for a "/prefix/*" one.
bool path_matches(const AdminEndpoint& e, std::string_view path, std::string_view* param) {
  if (e.path.ends_with("/*")) {
    const std::string_view prefix = std::string_view(e.path).substr(0, e.path.size() - 1);
    if (!path.starts_with(prefix)) return false;
    *param = path.substr(prefix.size());
    return true;
  }
  return path == e.path;
}

bool method_matches(http::verb endpoint, http::verb request) {
  return endpoint == request || (endpoint == http::verb::get && request == http::verb::head);
}

bool is_json(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  return iequals_lower(media, "application/json");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

void AdminRouter::add(AdminEndpoint endpoint) {
  endpoints_.push_back(std::make_unique<AdminEndpoint>(std::move(endpoint)));
}

AdminAdmission AdminRouter::admit(const AdminRequestHead& head) const {
  AdminAdmission a;
  const std::string_view path = head.target.substr(0, head.target.find('?'));
  std::vector<http::verb> allowed;
  std::string_view param;
  for (const auto& e : endpoints_) {
    std::string_view rest;
    if (!path_matches(*e, path, &rest)) continue;
    allowed.push_back(e->method);
    if (a.endpoint == nullptr && method_matches(e->method, head.method)) {
      a.endpoint = e.get();
      param = rest;
    }
  }
  if (allowed.empty()) {
    std::vector<std::string> served;  // "/v1/bans/..." for "/v1/bans/*"
    for (const auto& e : endpoints_) {
      std::string p = e->path;
      if (p.ends_with("/*")) p.replace(p.size() - 1, 1, "...");
      if (std::find(served.begin(), served.end(), p) == served.end()) served.push_back(p);
    }
    std::string list;
    for (const auto& p : served) list += (list.empty() ? "" : ", ") + p;
    a.refusal = problem(
        404, "no endpoint " + quote_client_text(path) + ": the admin listener serves " + list);
    return a;
  }
  if (a.endpoint == nullptr) {
    std::string allow;
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    for (http::verb v : allowed) {
      const auto name = http::to_string(v);
      if (!allow.empty()) allow += ", ";
      allow.append(name.data(), name.size());
      if (v == http::verb::get) allow += ", HEAD";
    }
    a.refusal = problem(405, quote_client_text(path) + " takes " + allow);
    a.refusal->headers.emplace_back("Allow", allow);
    return a;
  }

  a.call.policy = policy_();
  if (a.call.policy == nullptr) {
    a.refusal = problem(503, "no policy is loaded yet");
    return a;
  }
  if (auto refusal = check_auth(a.endpoint->auth, *a.call.policy, head.credentials)) {
    a.refusal = std::move(refusal);
    return a;
  }
  if (a.endpoint->json_body && !is_json(head.content_type)) {
    const auto name = http::to_string(a.endpoint->method);
    a.refusal = problem(415, std::string(name.data(), name.size()) + " " + a.endpoint->path +
                                 " takes a body of Content-Type: application/json");
    return a;
  }
  auto decoded = percent_decode(param);
  if (!decoded) {
    a.refusal = problem(400, "the path has a malformed %-escape");
    return a;
  }
  a.call.param = std::move(*decoded);
  return a;
}

void AdminRouter::call(AdminAdmission& admission, std::string_view body,
                       AdminRespond respond) const {
  admission.call.body = body;
  admission.endpoint->handler(admission.call, std::move(respond));
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || c == ':';
    if (unreserved) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace edgeguard
