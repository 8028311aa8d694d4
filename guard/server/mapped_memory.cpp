#include "guard/server/mapped_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace edgeguard {
namespace {

std::size_t whole_pages(std::size_t bytes) {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

}  // namespace

void* map_pages(std::size_t bytes) {
  void* p = ::mmap(nullptr, whole_pages(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

void unmap_pages(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  unpoison(p, whole_pages(bytes));  // the address may be mapped again, for anything
  ::munmap(p, whole_pages(bytes));
}

#if defined(__SANITIZE_ADDRESS__)
void poison(const void* p, std::size_t bytes) noexcept {
  ASAN_POISON_MEMORY_REGION(p, bytes);
}
void unpoison(const void* p, std::size_t bytes) noexcept {
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
}
#else
void poison(const void*, std::size_t) noexcept {}
void unpoison(const void*, std::size_t) noexcept {}
#endif

}  // namespace edgeguard
