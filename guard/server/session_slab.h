#pragma once
// One worker's sessions, in fixed-size slots carved from mapped 64 KB chunks (mapped_memory.h)
// instead of malloc: a chunk whose sessions have all closed goes back to the kernel, so RSS
// falls with the connection count instead of staying at its peak. Slots are carved lazily
// (pages of a chunk nobody used are never resident), freed slots are reused first, and one
// empty chunk is kept so a count moving across a chunk's edge does not map and unmap each time.
//
// Every allocation must have the size of the first (the session's shared_ptr block); another
// size is served by the global allocator. One thread only (the worker's).
#include <cstddef>
#include <memory>

namespace edgeguard {

class SessionSlab {
 public:
  static constexpr std::size_t kChunkBytes = 64 * 1024;

  SessionSlab() = default;
  ~SessionSlab();
  SessionSlab(const SessionSlab&) = delete;
  SessionSlab& operator=(const SessionSlab&) = delete;

  void* allocate(std::size_t bytes, std::size_t align);
  void deallocate(void* p) noexcept;

  std::size_t chunks() const { return chunks_; }  // mapped now, the spare one included
  std::size_t in_use() const { return in_use_; }

  // For std::allocate_shared.
  template <typename T>
  class Allocator {
   public:
    using value_type = T;
    explicit Allocator(SessionSlab& slab) : slab_(&slab) {}
    template <typename U>
    Allocator(const Allocator<U>& other) : slab_(other.slab()) {}  // NOLINT: rebinding
    T* allocate(std::size_t n) {
      return static_cast<T*>(slab_->allocate(n * sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t) noexcept { slab_->deallocate(p); }
    SessionSlab* slab() const { return slab_; }
    bool operator==(const Allocator& other) const { return slab_ == other.slab_; }

   private:
    SessionSlab* slab_;
  };

 private:
  struct Chunk;
  struct Slot;

  Slot* slot_at(Chunk* c, std::size_t i) const;
  Chunk* take_chunk();
  void open(Chunk* c);
  void unlist(Chunk* c);
  void drop(Chunk* c) noexcept;

  std::size_t payload_bytes_ = 0;  // fixed by the first allocation
  std::size_t stride_ = 0;
  Chunk* open_ = nullptr;   // chunks with a free slot, most recently opened first
  Chunk* spare_ = nullptr;  // an empty chunk kept mapped
  std::size_t chunks_ = 0;
  std::size_t in_use_ = 0;
};

}  // namespace edgeguard
