#pragma once
// Counts heap allocations made by this thread: malloc and friends are interposed for the whole
// bench binary (C++ new, libmaxminddb, Boost all end in them), so a benchmark can report how
// many allocations one request costs.
#include <cstdint>

namespace edgeguard::bench {

std::uint64_t thread_allocations();

}  // namespace edgeguard::bench
