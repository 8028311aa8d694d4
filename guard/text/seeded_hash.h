#pragma once
// A 64-bit hash of a byte string under a seed, for the tables a client can fill with keys of its
// choosing: the local store's buckets (guard/core/limit_key.h) and the ban index
// (guard/bans/ban_table.h). With the process's random seed nobody outside can aim keys at one
// slot; with a fixed seed (0) the hash is the same in every replica, for what goes to Redis.
#include <cstdint>
#include <string_view>

namespace edgeguard {

// Random, drawn once per process.
std::uint64_t process_hash_seed();

// Every byte counts, and the length: strings that differ anywhere, or only in length, hash apart
// (up to the collisions of any 64-bit hash).
std::uint64_t seeded_hash(std::string_view text, std::uint64_t seed);

}  // namespace edgeguard
