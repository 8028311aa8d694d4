#include "guard/admin/admin_response.h"

#include <boost/beast/http.hpp>

#include "guard/text/sized_text.h"

namespace edgeguard {

AdminResponse problem(int status, std::string_view detail, std::string_view field) {
  AdminResponse r;
  r.status = status;
  r.content_type = "application/problem+json";
  const auto title = boost::beast::http::obsolete_reason(
      static_cast<boost::beast::http::status>(static_cast<unsigned>(status)));
  r.body = "{\"type\":\"about:blank\",\"title\":";
  append_json_string(r.body, std::string_view(title.data(), title.size()));
  r.body += ",\"status\":" + std::to_string(status);
  if (!field.empty()) {
    r.body += ",\"field\":";
    append_json_string(r.body, field);
  }
  r.body += ",\"detail\":";
  append_json_string(r.body, detail);
  r.body += "}";
  return r;
}

AdminResponse json_response(int status, std::string body) {
  AdminResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

AdminResponse text_response(int status, std::string body, std::string content_type) {
  AdminResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

}  // namespace edgeguard
