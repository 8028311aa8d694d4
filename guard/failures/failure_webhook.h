#pragma once
// POST /v1/failures on the admin listener: the webhook Authentik's notification transport calls
// for `login_failed` (and `login`) events (README, "Failures that count"). Behind its own token
// (failures.webhook.token_file: `Authorization: Bearer <token>`; anything else 401; no token
// configured: nobody may call it). The body is one report or a JSON array of up to
// kMaxFailureBatch:
//   {"route": "authentik-login", "client_ip": "198.51.100.7", "username": "alice"}
//   {"route": "authentik-login", "username": "alice", "event": "login"}     (a success)
// `route` is required and must be a route of the policy with failure_limits; at least one of
// client_ip and username; `event` is "login_failed" (the default) or "login". Strict: a body
// with any bad report is a 400 problem+json naming the field ("[2].client_ip") and nothing is
// applied. 202 {"applied": n}: the reports that charged (or reset) at least one failure limit.
#include <string_view>
#include <vector>

#include "guard/admin/admin_router.h"
#include "guard/admin/json_fields.h"
#include "guard/failures/failure_recorder.h"

namespace edgeguard {

inline constexpr std::size_t kMaxFailureBatch = 1000;

std::optional<std::vector<FailureReport>> parse_failure_reports(std::string_view body,
                                                                const Policy& policy,
                                                                FieldError* error);

// `recorder` must outlive the router.
void add_failure_endpoint(AdminRouter& router, FailureRecorder& recorder);

}  // namespace edgeguard
