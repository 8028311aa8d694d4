#pragma once
// Room inside a session for the Asio operation it has in flight, instead of a malloc per read,
// write or timer wait: with thousands of connections each pending operation would otherwise be
// a small heap block between Asio's per-socket reactor states, and those (kept by Asio for
// reuse) pin every page they share after the connections close. Asio frees an operation's
// memory before it calls the handler, so one slot serves one operation at a time; another
// operation while the slot is taken (a timer re-armed while its cancelled wait is still
// queued) gets heap memory, correct and rare.
#include <array>
#include <cassert>
#include <cstddef>
#include <memory>

namespace edgeguard {

template <std::size_t Bytes>
class OpMemory {
 public:
  void* allocate(std::size_t n) {
    // Sized for the operations the session starts (Boost 1.81): a bigger one means the session
    // no longer keeps its operations out of malloc's arenas. Debug builds stop here.
    assert(n <= Bytes);
    if (!in_use_ && n <= Bytes) {
      in_use_ = true;
      return bytes_.data();
    }
    return std::allocator<std::max_align_t>().allocate(blocks(n));
  }
  void deallocate(void* p, std::size_t n) noexcept {
    if (p == bytes_.data()) {
      in_use_ = false;
      return;
    }
    std::allocator<std::max_align_t>().deallocate(static_cast<std::max_align_t*>(p), blocks(n));
  }

 private:
  static std::size_t blocks(std::size_t n) {
    return (n + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  }

  alignas(std::max_align_t) std::array<std::byte, Bytes> bytes_;  // not zeroed
  bool in_use_ = false;
};

// The handler's associated allocator (boost::asio::bind_allocator).
template <typename T, std::size_t Bytes>
class OpAllocator {
 public:
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = OpAllocator<U, Bytes>;
  };

  explicit OpAllocator(OpMemory<Bytes>& memory) : memory_(&memory) {}
  template <typename U>
  OpAllocator(const OpAllocator<U, Bytes>& other) : memory_(other.memory()) {}  // NOLINT
  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { memory_->deallocate(p, n * sizeof(T)); }
  OpMemory<Bytes>* memory() const { return memory_; }
  bool operator==(const OpAllocator& other) const { return memory_ == other.memory_; }

 private:
  OpMemory<Bytes>* memory_;
};

}  // namespace edgeguard
