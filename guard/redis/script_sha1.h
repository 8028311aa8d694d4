#pragma once
// The SHA1 that EVALSHA names a Lua script by: lower-case hex of the source's bytes.
#include <string>
#include <string_view>

namespace edgeguard {

std::string script_sha1(std::string_view source);

}  // namespace edgeguard
