#pragma once
// The admin listener's endpoints and the checks every request passes before one runs, in this
// order, on the request head alone (nothing of the body is read for a refused request):
//   path     no endpoint has it                             404
//   method   the path has endpoints, none for this method    405 with Allow
//   auth     the endpoint's AdminAuth refuses                401 (Bearer challenge) or 403
//   type     a JSON endpoint without application/json      415
// The session then reads the body (bounded: 413 beyond kMaxAdminBody) and calls the endpoint.
// No I/O here: the session moves bytes, the router decides.
//
// An endpoint is a method, a path ("/v1/bans", or "/v1/bans/*" whose rest, percent-decoded, is
// the call's `param`), who may call it and a handler. Adding one, with a token of its own:
//   router.add({http::verb::post, "/v1/failures",
//               AdminAuth::bearer([](const Policy& p) { return std::string_view(...); }),
//               /*json_body=*/true, handler});
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guard/admin/admin_auth.h"
#include "guard/admin/admin_response.h"
#include "guard/policy/policy.h"

namespace edgeguard {

inline constexpr std::size_t kMaxAdminBody = 64 * 1024;

// One call of an endpoint, with the policy its checks were made against.
struct AdminCall {
  std::shared_ptr<const Policy> policy;
  std::string param;  // for a "/prefix/*" endpoint: the rest of the path, percent-decoded
  std::string_view body;
};

// Answers exactly once, now or later on the admin event loop.
using AdminRespond = std::function<void(AdminResponse)>;
using AdminHandler = std::function<void(const AdminCall& call, AdminRespond respond)>;

struct AdminEndpoint {
  boost::beast::http::verb method = boost::beast::http::verb::get;  // GET serves HEAD too
  std::string path;
  AdminAuth auth;
  bool json_body = false;  // takes a body of Content-Type: application/json
  AdminHandler handler;
};

// What the router sees of a request before its body.
struct AdminRequestHead {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string_view target;  // as received: path and query, still percent-encoded
  std::string_view content_type;
  AdminCredentials credentials;
};

// The endpoint a request goes to, or the refusal to send instead.
struct AdminAdmission {
  const AdminEndpoint* endpoint = nullptr;
  AdminCall call;
  std::optional<AdminResponse> refusal;
};

class AdminRouter {
 public:
  // `policy`: the policy in force at each request (auth, route names, client_ip).
  explicit AdminRouter(std::function<std::shared_ptr<const Policy>()> policy)
      : policy_(std::move(policy)) {}

  void add(AdminEndpoint endpoint);

  AdminAdmission admit(const AdminRequestHead& head) const;
  // Runs the admitted endpoint on `body`.
  void call(AdminAdmission& admission, std::string_view body, AdminRespond respond) const;

 private:
  std::function<std::shared_ptr<const Policy>()> policy_;
  std::vector<std::unique_ptr<AdminEndpoint>> endpoints_;  // stable addresses for admissions
};

// %XX decoding of a path segment ('+' stays '+'); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);
// The inverse for a subject in a URL path: everything but unreserved characters and ':' escaped.
std::string percent_encode(std::string_view text);

}  // namespace edgeguard
