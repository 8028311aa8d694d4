#include "tests/support/alloc_counter.h"

#include <cstddef>

// glibc's own entry points, which the interposers below forward to.
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t n, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);
}

namespace {
// A plain thread_local integer: no constructor, so counting works before main and inside
// glibc's own thread start-up.
thread_local std::uint64_t allocations = 0;
}  // namespace

namespace edgeguard {
std::uint64_t thread_allocations() {
  return allocations;
}
}  // namespace edgeguard

#ifndef EDGEGUARD_NO_MALLOC_HOOK
extern "C" {

void* malloc(std::size_t size) {
  ++allocations;
  return __libc_malloc(size);
}

void* calloc(std::size_t n, std::size_t size) {
  ++allocations;
  return __libc_calloc(n, size);
}

void* realloc(void* p, std::size_t size) {
  ++allocations;
  return __libc_realloc(p, size);
}

void* aligned_alloc(std::size_t alignment, std::size_t size) {
  ++allocations;
  return __libc_memalign(alignment, size);
}

void* memalign(std::size_t alignment, std::size_t size) {
  ++allocations;
  return __libc_memalign(alignment, size);
}

int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  ++allocations;
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}

}  // extern "C"
#endif  // EDGEGUARD_NO_MALLOC_HOOK
