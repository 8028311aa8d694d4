#pragma once
// Counts heap allocations made by this thread: malloc and friends are interposed for the whole
// executable that links this (C++ new, libmaxminddb, hiredis, Boost all end in them), so a test
// can prove a request path allocates nothing and a benchmark can report how many allocations
// one request costs. Linked only into executables of their own: the interposer affects all of
// the executable. Not under the sanitizers, which bring their own malloc.
#include <cstdint>

namespace edgeguard {

std::uint64_t thread_allocations();

}  // namespace edgeguard
