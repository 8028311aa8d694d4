#pragma once
// The admin API from the command line (`edgeguard bans`): one HTTP/1.1 request per connection
// to the admin listener at http://HOST:PORT. Synchronous for the caller; connect, write and
// read each end at a deadline, so a listener that accepts and says nothing cannot hang it.
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgeguard {

struct AdminUrl {
  std::string host;  // without brackets
  std::uint16_t port = 80;
};

// "http://HOST[:PORT][/]" (IPv6 in brackets). Anything else (https, a path, user info) is an
// error: the admin listener speaks plain HTTP at its root.
std::optional<AdminUrl> parse_admin_url(std::string_view url, std::string* error);

struct AdminReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct AdminCallOptions {
  std::string_view token;      // sent as "Authorization: Bearer <token>" when not empty
  std::string_view json_body;  // sent as application/json when not empty
  std::chrono::milliseconds timeout{10000};
};

// nullopt and `error` when no answer came (cannot connect, timeout, not HTTP).
std::optional<AdminReply> call_admin(const AdminUrl& url, boost::beast::http::verb method,
                                     std::string_view target, const AdminCallOptions& options,
                                     std::string* error);

// The token in `path` (a --token-file, in admin.token_file's format). nullopt and `error`
// ("cannot read --token-file F", or what is wrong with its content) otherwise.
std::optional<std::string> read_admin_token_file(const std::string& path, std::string* error);

// A reply outside 2xx as one line: "the admin API answered 401 Unauthorized: <its detail>".
std::string describe_refusal(const AdminReply& reply);

}  // namespace edgeguard
