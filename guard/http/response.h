#pragma once
// Decision -> HTTP/1.1 response bytes. Pure formatting into a reused string: the headers of
// SPEC section 4, and application/problem+json bodies for every refusal.
#include <string>
#include <string_view>

#include "guard/core/decision.h"
#include "guard/request/forward_request.h"

namespace edgeguard {

// Appends one response for `decision` to `out`. `keep_alive` false adds "Connection: close".
// An allowed decision carries what `facts` know (country, AS, the tailnet node's identity).
void write_decision(std::string& out, const Decision& decision, const Facts& facts,
                    bool keep_alive);

// 400 naming the header and its problem.
void write_bad_request(std::string& out, const BadRequest& bad, bool keep_alive);
// 431, 413 and other protocol-level refusals; always closes.
void write_protocol_error(std::string& out, int status, std::string_view detail);

// "Too Many Requests" for 429, etc.
const char* status_text(int status);

}  // namespace edgeguard
