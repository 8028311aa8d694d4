#pragma once
// One check per fuzz target: feeds arbitrary bytes through a part of edgeguard and traps on any
// broken invariant. The same functions run under libFuzzer (tests/fuzz, clang) and over the
// committed corpus and regression inputs in the normal unit suite (tests/fuzz_regression, gcc),
// so a finding stays fixed.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edgeguard::fuzz {

using FuzzCheck = void (*)(const std::uint8_t* data, std::size_t size);

struct FuzzTarget {
  std::string_view name;  // also the corpus folder: tests/fuzz/corpus/<name>/
  FuzzCheck check;
};

void check_forward_auth(const std::uint8_t* data, std::size_t size);
void check_forward_auth_scanner(const std::uint8_t* data, std::size_t size);
void check_xff(const std::uint8_t* data, std::size_t size);
void check_path(const std::uint8_t* data, std::size_t size);
void check_host(const std::uint8_t* data, std::size_t size);
void check_policy(const std::uint8_t* data, std::size_t size);
void check_nodes_tailscale_status(const std::uint8_t* data, std::size_t size);
void check_nodes_tailscale_api(const std::uint8_t* data, std::size_t size);
void check_nodes_headscale(const std::uint8_t* data, std::size_t size);
void check_nodes_list(const std::uint8_t* data, std::size_t size);
void check_redis_reply(const std::uint8_t* data, std::size_t size);
void check_gcra_reply(const std::uint8_t* data, std::size_t size);
void check_ban_message(const std::uint8_t* data, std::size_t size);
void check_admin_request(const std::uint8_t* data, std::size_t size);
void check_crowdsec_stream(const std::uint8_t* data, std::size_t size);
void check_access_log(const std::uint8_t* data, std::size_t size);
void check_failure_reports(const std::uint8_t* data, std::size_t size);
void check_login_name(const std::uint8_t* data, std::size_t size);
void check_ban_list(const std::uint8_t* data, std::size_t size);

inline constexpr FuzzTarget kTargets[] = {
    {"forward_auth", check_forward_auth},
    {"forward_auth_scanner", check_forward_auth_scanner},
    {"xff", check_xff},
    {"path", check_path},
    {"host", check_host},
    {"policy", check_policy},
    {"nodes_tailscale_status", check_nodes_tailscale_status},
    {"nodes_tailscale_api", check_nodes_tailscale_api},
    {"nodes_headscale", check_nodes_headscale},
    {"nodes_list", check_nodes_list},
    {"redis_reply", check_redis_reply},
    {"gcra_reply", check_gcra_reply},
    {"ban_message", check_ban_message},
    {"admin_request", check_admin_request},
    {"crowdsec_stream", check_crowdsec_stream},
    {"access_log", check_access_log},
    {"failure_reports", check_failure_reports},
    {"login_name", check_login_name},
    {"ban_list", check_ban_list},
};

}  // namespace edgeguard::fuzz
