#pragma once
// The bans endpoints (SPEC section 9, "Admin API"), all behind admin.token_file (loopback
// callers only without one):
//   GET    /v1/bans            200 {"bans": [ban, ...]}, soonest end first
//   POST   /v1/bans            201 {"ban": ban}   body {"subject", "for", "route"?}
//   DELETE /v1/bans/<subject>  200 {"subject", "lifted": n}; 404 when the subject is not banned
// where ban = {"subject", "route", "until" (RFC 3339, UTC), "count", "reason", "source"}.
// A process without a BanAuthority answers 503 on each (bans are not available); one whose
// authority reports an error (its store did not answer) answers 503 with that error.
#include <cstdint>
#include <string>

#include "guard/admin/admin_router.h"
#include "guard/bans/ban_authority.h"

namespace edgeguard {

// `bans` may be null; it must outlive the router.
void add_ban_endpoints(AdminRouter& router, BanAuthority* bans);

// One ban as the API shows it (`until_ns` in Unix time).
void append_ban_json(std::string& out, const Ban& ban);

// "2026-05-01T12:34:56Z": whole seconds, rounded up (a ban shown as ending is over by then).
std::string format_utc_seconds(std::int64_t unix_ns);

}  // namespace edgeguard
