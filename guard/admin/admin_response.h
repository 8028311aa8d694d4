#pragma once
// What an admin endpoint answers: a status, a body and its media type, and the few headers the
// admin API sets (Allow, WWW-Authenticate, Location). Every refusal is RFC 9457 problem+json.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeguard {

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"type":"about:blank","title":<reason phrase>,"status":N[,"field":F],"detail":D}: `field`
// names the request field at fault, when one is.
AdminResponse problem(int status, std::string_view detail, std::string_view field = {});

// A JSON body (already serialised).
AdminResponse json_response(int status, std::string body);

// Plain text (the health endpoints, Prometheus' exposition format).
AdminResponse text_response(int status, std::string body,
                            std::string content_type = "text/plain; charset=utf-8");

}  // namespace edgeguard
