#include "guard/tailnet/node_list_parser.h"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/json.hpp>

namespace edgeguard {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxQuoted = 64;

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// Header-bound strings: a control byte here could split a response header.
std::string clean(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (is_control(static_cast<unsigned char>(c))) c = '?';
  }
  return out;
}

// Input bytes quoted in an error message: bounded and printable, so a log line stays one line.
std::string quote(std::string_view text) {
  std::string out = "\"";
  out += clean(text.substr(0, kMaxQuoted));
  if (text.size() > kMaxQuoted) out += "...";
  out += '"';
  return out;
}

// IpAddress::parse hands the text to inet_pton as a C string, so "100.64.0.1\0junk" would read
// as 100.64.0.1; a NUL is never part of an address.
std::optional<IpAddress> parse_address(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  return IpAddress::parse(text);
}

std::string_view strip_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

const char* kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

std::string expected(const std::string& path, const char* what, const json::value& got) {
  return path + ": expected " + what + ", got " + kind_name(got);
}

// Optional string field: missing or null reads as empty.
bool read_string(const json::object& obj, std::string_view key, const std::string& path,
                 std::string* out, std::string* error) {
  const json::value* v = obj.if_contains(key);
  out->clear();
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) {
    *error = expected(path + "." + std::string(key), "a string", *v);
    return false;
  }
  *out = std::string(v->get_string());
  return true;
}

// Optional id: string or integer (headscale's uint64 prints as a number, protojson as a string).
bool read_id(const json::object& obj, std::string_view key, const std::string& path,
             std::string* out, std::string* error) {
  const json::value* v = obj.if_contains(key);
  out->clear();
  if (v == nullptr || v->is_null()) return true;
  if (v->is_string()) {
    *out = clean(v->get_string());
  } else if (v->is_int64()) {
    *out = std::to_string(v->get_int64());
  } else if (v->is_uint64()) {
    *out = std::to_string(v->get_uint64());
  } else {
    *error = expected(path + "." + std::string(key), "a string or an integer", *v);
    return false;
  }
  return true;
}

// Optional array of strings; each element goes through `each`, which may refuse it.
template <typename Each>
bool read_string_array(const json::object& obj, std::string_view key, const std::string& path,
                       std::string* error, Each each) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  const std::string here = path + "." + std::string(key);
  if (!v->is_array()) {
    *error = expected(here, "an array", *v);
    return false;
  }
  const json::array& arr = v->get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string item = here + "[" + std::to_string(i) + "]";
    if (!arr[i].is_string()) {
      *error = expected(item, "a string", arr[i]);
      return false;
    }
    if (!each(std::string_view(arr[i].get_string()), item)) return false;
  }
  return true;
}

bool read_addresses(const json::object& obj, std::string_view key, const std::string& path,
                    TailnetNode* node, std::string* error) {
  return read_string_array(obj, key, path, error,
                           [&](std::string_view text, const std::string& at) {
                             const std::optional<IpAddress> ip = parse_address(text);
                             if (!ip) {
                               *error = at + ": " + quote(text) + " is not an IP address";
                               return false;
                             }
                             // A node listing one address twice is harmless; keep the first.
                             if (std::find(node->addresses.begin(), node->addresses.end(), *ip) ==
                                 node->addresses.end()) {
                               node->addresses.push_back(*ip);
                             }
                             return true;
                           });
}

bool read_tags(const json::object& obj, std::string_view key, const std::string& path,
               TailnetNode* node, std::string* error) {
  return read_string_array(obj, key, path, error, [&](std::string_view tag, const std::string& at) {
    if (!is_valid_tag(tag)) {
      *error = at + ": " + quote(tag) + " is not a tag (tag:name)";
      return false;
    }
    if (std::find(node->tags.begin(), node->tags.end(), tag) == node->tags.end()) {
      node->tags.emplace_back(tag);
    }
    return true;
  });
}

bool parse_json(std::string_view text, json::value* out, std::string* error) {
  boost::system::error_code ec;
  *out = json::parse(text, ec);
  if (ec) {
    *error = "not valid JSON: " + ec.message();
    return false;
  }
  return true;
}

// --- tailscale status --json -------------------------------------------------------------------

bool status_node(const json::value& v, const std::string& path, const json::object* users,
                 TailnetNode* node, std::string* error) {
  if (!v.is_object()) {
    *error = expected(path, "an object", v);
    return false;
  }
  const json::object& obj = v.get_object();
  std::string dns, host;
  if (!read_id(obj, "ID", path, &node->id, error) ||
      !read_string(obj, "DNSName", path, &dns, error) ||
      !read_string(obj, "HostName", path, &host, error) ||
      !read_addresses(obj, "TailscaleIPs", path, node, error) ||
      !read_tags(obj, "Tags", path, node, error)) {
    return false;
  }
  node->name = clean(dns.empty() ? host : strip_trailing_dot(dns));

  const json::value* uid = obj.if_contains("UserID");
  if (uid == nullptr || uid->is_null()) return true;
  std::string key;
  if (uid->is_int64()) {
    key = std::to_string(uid->get_int64());
  } else if (uid->is_uint64()) {
    key = std::to_string(uid->get_uint64());
  } else {
    *error = expected(path + ".UserID", "an integer", *uid);
    return false;
  }
  // A peer whose owner is not in the User map keeps an empty login: it still is enrolled.
  const json::value* user = users ? users->if_contains(key) : nullptr;
  if (user == nullptr || user->is_null()) return true;
  const std::string upath = "User[\"" + key + "\"]";
  if (!user->is_object()) {
    *error = expected(upath, "an object", *user);
    return false;
  }
  std::string login, display;
  if (!read_string(user->get_object(), "LoginName", upath, &login, error) ||
      !read_string(user->get_object(), "DisplayName", upath, &display, error)) {
    return false;
  }
  node->login = clean(login);
  node->user = clean(display.empty() ? login : display);
  return true;
}

bool parse_tailscale_status(const json::value& root, std::vector<TailnetNode>* nodes,
                            std::string* error) {
  if (!root.is_object()) {
    *error = expected("(top level)", "an object", root);
    return false;
  }
  const json::object& top = root.get_object();
  const json::object* users = nullptr;
  if (const json::value* u = top.if_contains("User"); u != nullptr && !u->is_null()) {
    if (!u->is_object()) {
      *error = expected("User", "an object", *u);
      return false;
    }
    users = &u->get_object();
  }
  if (const json::value* self = top.if_contains("Self"); self != nullptr && !self->is_null()) {
    TailnetNode node;
    if (!status_node(*self, "Self", users, &node, error)) return false;
    nodes->push_back(std::move(node));
  }
  const json::value* peers = top.if_contains("Peer");
  if (peers == nullptr || peers->is_null()) return true;  // Go prints a nil map as null
  if (!peers->is_object()) {
    *error = expected("Peer", "an object", *peers);
    return false;
  }
  for (const auto& [key, value] : peers->get_object()) {
    TailnetNode node;
    if (!status_node(value, "Peer[" + quote(key) + "]", users, &node, error)) return false;
    // A peer whose node key expired is no longer enrolled until it re-authenticates (the API
    // form says the same with authorized: false).
    const json::value* expired = value.get_object().if_contains("Expired");
    if (expired != nullptr && expired->is_bool() && expired->get_bool()) continue;
    nodes->push_back(std::move(node));
  }
  return true;
}

// --- Tailscale API v2 devices ------------------------------------------------------------------

bool parse_tailscale_api(const json::value& root, std::vector<TailnetNode>* nodes,
                         std::string* error) {
  if (!root.is_object()) {
    *error = expected("(top level)", "an object", root);
    return false;
  }
  const json::value* devices = root.get_object().if_contains("devices");
  if (devices == nullptr) {
    *error = "devices: missing";
    return false;
  }
  if (!devices->is_array()) {
    *error = expected("devices", "an array", *devices);
    return false;
  }
  const json::array& arr = devices->get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string path = "devices[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) {
      *error = expected(path, "an object", arr[i]);
      return false;
    }
    const json::object& obj = arr[i].get_object();
    const json::value* authorized = obj.if_contains("authorized");
    if (authorized != nullptr && !authorized->is_bool() && !authorized->is_null()) {
      *error = expected(path + ".authorized", "a boolean", *authorized);
      return false;
    }
    TailnetNode node;
    std::string node_id, name, host, login;
    if (!read_id(obj, "nodeId", path, &node_id, error) ||
        !read_id(obj, "id", path, &node.id, error) ||
        !read_string(obj, "name", path, &name, error) ||
        !read_string(obj, "hostname", path, &host, error) ||
        !read_string(obj, "user", path, &login, error) ||
        !read_addresses(obj, "addresses", path, &node, error) ||
        !read_tags(obj, "tags", path, &node, error)) {
      return false;
    }
    // Validated whole before skipping, so a malformed unauthorized device is still reported.
    if (authorized == nullptr || !authorized->is_bool() || !authorized->get_bool()) continue;
    if (!node_id.empty()) node.id = std::move(node_id);
    node.name = clean(name.empty() ? host : strip_trailing_dot(name));
    node.login = clean(login);
    node.user = node.login;
    nodes->push_back(std::move(node));
  }
  return true;
}

// --- headscale nodes list -o json --------------------------------------------------------------

bool parse_headscale(const json::value& root, std::vector<TailnetNode>* nodes, std::string* error) {
  const json::array* arr = nullptr;
  std::string base;
  if (root.is_array()) {
    arr = &root.get_array();
  } else if (root.is_object()) {
    const json::value* n = root.get_object().if_contains("nodes");
    if (n == nullptr) {
      *error = "nodes: missing";
      return false;
    }
    if (n->is_null()) return true;
    if (!n->is_array()) {
      *error = expected("nodes", "an array", *n);
      return false;
    }
    arr = &n->get_array();
    base = "nodes";
  } else if (root.is_null()) {
    return true;  // an empty Go slice can print as null
  } else {
    *error = expected("(top level)", "an array or an object", root);
    return false;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string path = base + "[" + std::to_string(i) + "]";
    if (!(*arr)[i].is_object()) {
      *error = expected(path, "an object", (*arr)[i]);
      return false;
    }
    const json::object& obj = (*arr)[i].get_object();
    TailnetNode node;
    std::string given, name;
    if (!read_id(obj, "id", path, &node.id, error) ||
        !read_string(obj, "given_name", path, &given, error) ||
        !read_string(obj, "name", path, &name, error) ||
        !read_addresses(obj, "ip_addresses", path, &node, error) ||
        !read_tags(obj, "forced_tags", path, &node, error) ||
        !read_tags(obj, "valid_tags", path, &node, error) ||
        !read_tags(obj, "tags", path, &node, error)) {
      return false;
    }
    node.name = clean(given.empty() ? name : given);
    if (const json::value* user = obj.if_contains("user"); user != nullptr && !user->is_null()) {
      const std::string upath = path + ".user";
      if (!user->is_object()) {
        *error = expected(upath, "an object", *user);
        return false;
      }
      std::string uname, display, email;
      if (!read_string(user->get_object(), "name", upath, &uname, error) ||
          !read_string(user->get_object(), "display_name", upath, &display, error) ||
          !read_string(user->get_object(), "email", upath, &email, error)) {
        return false;
      }
      node.login = clean(email.empty() ? uname : email);
      node.user = clean(!display.empty() ? display : !uname.empty() ? uname : email);
    }
    nodes->push_back(std::move(node));
  }
  return true;
}

// --- plain list ---------------------------------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool parse_list(std::string_view text, std::vector<TailnetNode>* nodes, std::string* error) {
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    TailnetNode node;
    bool first = true;
    while (true) {
      while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
      if (line.empty()) break;
      std::size_t end = 0;
      while (end < line.size() && !is_space(line[end])) ++end;
      const std::string_view token = line.substr(0, end);
      line.remove_prefix(end);
      if (first) {
        const std::optional<IpAddress> ip = parse_address(token);
        if (!ip) {
          *error =
              "line " + std::to_string(line_no) + ": " + quote(token) + " is not an IP address";
          return false;
        }
        node.addresses.push_back(*ip);
        first = false;
      } else {
        if (!is_valid_tag(token)) {
          *error =
              "line " + std::to_string(line_no) + ": " + quote(token) + " is not a tag (tag:name)";
          return false;
        }
        if (std::find(node.tags.begin(), node.tags.end(), token) == node.tags.end()) {
          node.tags.emplace_back(token);
        }
      }
    }
    if (!first) nodes->push_back(std::move(node));
  }
  return true;
}

// Two nodes claiming one address would make the identity headers depend on list order.
bool check_unique_addresses(const std::vector<TailnetNode>& nodes, std::string* error) {
  std::vector<std::pair<u128, std::size_t>> all;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const IpAddress& ip : nodes[i].addresses) all.emplace_back(ip.bits(), i);
  }
  std::sort(all.begin(), all.end());
  for (std::size_t i = 1; i < all.size(); ++i) {
    if (all[i].first != all[i - 1].first) continue;
    const auto label = [&](std::size_t n) {
      const TailnetNode& node = nodes[n];
      return "node " + std::to_string(n) + " " + quote(node.name.empty() ? node.id : node.name);
    };
    *error = "address " + IpAddress::from_bits(all[i].first).to_string() + " is claimed by " +
             label(all[i - 1].second) + " and " + label(all[i].second);
    return false;
  }
  return true;
}

}  // namespace

bool is_valid_tag(std::string_view tag) {
  constexpr std::string_view kPrefix = "tag:";
  if (tag.size() <= kPrefix.size() || tag.substr(0, kPrefix.size()) != kPrefix) return false;
  return std::none_of(tag.begin(), tag.end(), [](char c) {
    return c == ' ' || c == ',' || is_control(static_cast<unsigned char>(c));
  });
}

NodeListParse parse_node_list(NodeListFormat format, std::string_view text) {
  NodeListParse result;
  bool ok = false;
  if (format == NodeListFormat::list) {
    ok = parse_list(text, &result.nodes, &result.error);
  } else {
    json::value root;
    if (parse_json(text, &root, &result.error)) {
      switch (format) {
        case NodeListFormat::tailscale_status:
          ok = parse_tailscale_status(root, &result.nodes, &result.error);
          break;
        case NodeListFormat::tailscale_api:
          ok = parse_tailscale_api(root, &result.nodes, &result.error);
          break;
        case NodeListFormat::headscale:
          ok = parse_headscale(root, &result.nodes, &result.error);
          break;
        case NodeListFormat::list:
          break;
      }
    }
  }
  if (ok) ok = check_unique_addresses(result.nodes, &result.error);
  if (!ok) {
    if (result.error.empty()) result.error = "unreadable node list";
    result.nodes.clear();
  }
  return result;
}

}  // namespace edgeguard
