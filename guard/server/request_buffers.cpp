#include "guard/server/request_buffers.h"

#include <algorithm>
#include <memory>

#include "guard/server/mapped_memory.h"

namespace edgeguard {

namespace {

constexpr std::size_t kObjectBytes = (sizeof(RequestBuffers) + 63) / 64 * 64;

}  // namespace

std::size_t RequestBuffers::mapped_bytes(std::size_t limit) {
  return kObjectBytes + block_bytes(limit);
}

char* RequestBuffers::block() {
  return reinterpret_cast<char*>(this) + kObjectBytes;
}

RequestBuffers::Ptr RequestBuffers::make(std::size_t limit) {
  void* mapping = map_pages(mapped_bytes(limit));
  return Ptr(std::construct_at(static_cast<RequestBuffers*>(mapping), limit));
}

void RequestBuffers::Unmap::operator()(RequestBuffers* b) const noexcept {
  const std::size_t bytes = mapped_bytes(b->header_limit);
  std::destroy_at(b);
  unmap_pages(b, bytes);
}

RequestBuffers::Ptr RequestBufferPool::acquire(std::size_t header_limit) {
  ++lent_;
  while (!free_.empty()) {
    RequestBuffers::Ptr b = std::move(free_.back());
    free_.pop_back();
    low_water_ = std::min(low_water_, free_.size());
    if (b->header_limit == header_limit) {
      unpoison(b->block(), RequestBuffers::block_bytes(header_limit));
      return b;
    }
    // Made before a reload changed server.max_header_bytes: never reused.
  }
  return RequestBuffers::make(header_limit);
}

void RequestBufferPool::release(RequestBuffers::Ptr buffers) {
  --lent_;
  if (free_.size() < kMaxIdle) {
    poison(buffers->block(), RequestBuffers::block_bytes(buffers->header_limit));
    free_.push_back(std::move(buffers));
  }
}

void RequestBufferPool::decay(std::int64_t now_ns, std::int64_t interval_ns) {
  if (now_ns - last_decay_ns_ < interval_ns) return;
  last_decay_ns_ = now_ns;
  // The bottom of the stack is what was used least recently; low_water_ sets were never taken
  // during the interval.
  free_.erase(free_.begin(), free_.begin() + static_cast<std::ptrdiff_t>(low_water_));
  low_water_ = free_.size();
}

}  // namespace edgeguard
