#include "guard/admin/ban_request.h"

#include "guard/bans/ban.h"
#include "guard/config/duration.h"

namespace edgeguard {
namespace {

// A configured route: requests that match none (the default route) are never refused by a ban.
bool route_exists(const Policy& policy, std::string_view name) {
  for (const Route& r : policy.routes) {
    if (r.name == name) return true;
  }
  return false;
}

std::optional<std::string> subject_of(std::string_view text, const Policy& policy,
                                      FieldError* error) {
  std::string why;
  auto subject = canonical_subject(text, policy.client_ip.ipv6_prefix, &why);
  if (!subject) *error = {"subject", "subject " + quote_client_text(text) + ": " + why};
  return subject;
}

}  // namespace

std::optional<BanRequest> parse_ban_request(std::string_view body, const Policy& policy,
                                            FieldError* error) {
  auto fields = parse_json_fields(body, error);
  if (!fields) return std::nullopt;
  const JsonScalar* subject = nullptr;
  const JsonScalar* for_ = nullptr;
  const JsonScalar* route = nullptr;
  for (const JsonField& f : *fields) {
    const JsonScalar** slot = f.name == "subject" ? &subject
                              : f.name == "for"   ? &for_
                              : f.name == "route" ? &route
                                                  : nullptr;
    if (slot == nullptr) {
      *error = {printable_client_text(f.name), "unknown field " + quote_client_text(f.name) +
                                                   ": a ban takes subject, for and route"};
      return std::nullopt;
    }
    if (f.value.kind != JsonScalar::Kind::string) {
      *error = {f.name, f.name + " must be a string, not " + to_string(f.value.kind)};
      return std::nullopt;
    }
    *slot = &f.value;
  }
  if (subject == nullptr) {
    *error = {"subject", "subject is required (ip:<address>, user:<name> or key:<value>)"};
    return std::nullopt;
  }
  if (for_ == nullptr) {
    *error = {"for", "for is required (a duration like 15m, 1h or 24h)"};
    return std::nullopt;
  }

  BanRequest request;
  auto canonical = subject_of(subject->text, policy, error);
  if (!canonical) return std::nullopt;
  request.subject = std::move(*canonical);

  const auto for_ns = parse_duration_ns(for_->text);
  if (!for_ns) {
    *error = {"for", "for " + quote_client_text(for_->text) +
                         " is not a duration like 30s, 15m, 1h or 24h"};
    return std::nullopt;
  }
  if (*for_ns < kMinBanNs || *for_ns > kMaxBanNs) {
    *error = {"for", "for " + quote_client_text(for_->text) +
                         " is out of range: a ban lasts from 1s to 8760h (365 days)"};
    return std::nullopt;
  }
  request.for_ns = *for_ns;

  request.route = route != nullptr ? route->text : std::string(kEveryRoute);
  if (request.route != kEveryRoute && !route_exists(policy, request.route)) {
    *error = {"route", "route " + quote_client_text(request.route) +
                           " is not a route of the policy in force (\"*\" bans on every route)"};
    return std::nullopt;
  }
  return request;
}

std::optional<std::string> parse_unban_subject(std::string_view subject, const Policy& policy,
                                               FieldError* error) {
  // A JSON body is checked UTF-8 by its parser; a path is whatever bytes %-escapes make.
  if (!is_valid_utf8(subject)) {
    *error = {"subject", "the subject in the path is not UTF-8"};
    return std::nullopt;
  }
  return subject_of(subject, policy, error);
}

}  // namespace edgeguard
