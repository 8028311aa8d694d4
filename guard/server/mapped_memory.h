#pragma once
// Memory straight from the kernel (anonymous mmap), given back to it (munmap) when freed. What
// a burst of connections allocates from malloc stays in malloc's arenas after they close: a
// freed chunk next to a live one (Asio keeps every socket's reactor state for reuse) is never
// returned, and the process keeps its peak RSS. The session slabs and the request buffers come
// from here instead, so their memory leaves the process with them. Pages nobody touched are
// never resident.
#include <cstddef>

namespace edgeguard {

// Rounds `bytes` up to whole pages and maps them (zeroed, read-write). Throws std::bad_alloc
// when the kernel refuses, as operator new would.
void* map_pages(std::size_t bytes);
// `bytes` as given to map_pages().
void unmap_pages(void* p, std::size_t bytes) noexcept;

// AddressSanitizer cannot see into memory reused without malloc: a slot or buffer that is free
// is marked unaddressable, so a use after it was given back is still reported. No-ops otherwise.
void poison(const void* p, std::size_t bytes) noexcept;
void unpoison(const void* p, std::size_t bytes) noexcept;

}  // namespace edgeguard
