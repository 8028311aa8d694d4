#include "guard/cli/admin_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <iterator>

#include "guard/config/admin_reader.h"
#include "guard/net/host_port.h"

namespace edgeguard {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;  // a long ban list still fits

}  // namespace

std::optional<AdminUrl> parse_admin_url(std::string_view url, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    *error = url.starts_with("https://")
                 ? "the admin listener speaks plain HTTP: use http://HOST:PORT (keep it on "
                   "loopback or a private network)"
                 : "--admin takes http://HOST:PORT (admin_listen)";
    return std::nullopt;
  }
  std::string_view authority = url.substr(kScheme.size());
  if (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) {
    *error = "--admin takes http://HOST:PORT with no path (admin_listen)";
    return std::nullopt;
  }
  AdminUrl out;
  HostPortError why = HostPortError::none;
  if (auto hp = parse_host_port(authority, &why)) {
    out.host = hp->host;
    out.port = hp->port;
  } else if (why == HostPortError::no_port) {
    out.host = std::string(authority);
    if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
      out.host = out.host.substr(1, out.host.size() - 2);
    }
  } else {
    *error = "--admin: bad port in '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (out.port == 0) {
    *error = "--admin: port 0 is not a port to connect to";
    return std::nullopt;
  }
  return out;
}

std::optional<AdminReply> call_admin(const AdminUrl& url, http::verb method,
                                     std::string_view target, const AdminCallOptions& options,
                                     std::string* error) {
  asio::io_context io;
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) {
    *error = "cannot resolve " + url.host + ": " + ec.message();
    return std::nullopt;
  }

  http::request<http::string_body> req(method, target, 11);
  const bool v6 = url.host.find(':') != std::string::npos;
  req.set(http::field::host,
          (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port));
  req.set(http::field::user_agent, "edgeguard/" EDGEGUARD_VERSION);
  req.set(http::field::accept, "application/json");
  req.keep_alive(false);
  if (!options.token.empty()) {
    req.set(http::field::authorization, "Bearer " + std::string(options.token));
  }
  if (!options.json_body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(options.json_body);
  }
  req.prepare_payload();

  // Asynchronous operations on a private io_context, so that each step has a deadline
  // (tcp_stream's timeouts apply to asynchronous operations only).
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  std::string failed_step;
  stream.expires_after(options.timeout);
  stream.async_connect(endpoints, [&](beast::error_code c, const tcp::endpoint&) {
    if (c) {
      ec = c;
      failed_step = "cannot connect";
      return;
    }
    stream.expires_after(options.timeout);
    http::async_write(stream, req, [&](beast::error_code w, std::size_t) {
      if (w) {
        ec = w;
        failed_step = "cannot send the request";
        return;
      }
      stream.expires_after(options.timeout);
      http::async_read(stream, buffer, parser, [&](beast::error_code r, std::size_t) {
        if (r) {
          ec = r;
          failed_step = "no answer";
        }
      });
    });
  });
  io.run();
  if (ec) {
    *error = failed_step + ": " +
             (ec == beast::error::timeout ? std::string("timed out") : ec.message());
    return std::nullopt;
  }
  const auto& res = parser.get();
  AdminReply reply;
  reply.status = static_cast<int>(res.result_int());
  const auto type = res[http::field::content_type];
  reply.content_type.assign(type.data(), type.size());
  reply.body = res.body();
  return reply;
}

std::optional<std::string> read_admin_token_file(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read --token-file " + path;
    return std::nullopt;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string why;
  auto token = config::parse_admin_token(text, &why);
  if (!token) *error = "--token-file " + path + " " + why;
  return token;
}

std::string describe_refusal(const AdminReply& reply) {
  std::string detail;
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* d = v.get_object().if_contains("detail"); d != nullptr && d->is_string()) {
      detail = std::string(d->get_string());
    }
  }
  if (detail.empty()) detail = reply.body.substr(0, 200);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
  const auto reason = http::obsolete_reason(static_cast<http::status>(reply.status));
  return "the admin API answered " + std::to_string(reply.status) + " " + std::string(reason) +
         ": " + detail;
}

}  // namespace edgeguard
