#include "guard/server/session_slab.h"

#include <memory>
#include <new>

#include "guard/server/mapped_memory.h"

namespace edgeguard {

// The head of every slot: its chunk (null: from the global allocator) and, for those, the size.
struct SessionSlab::Slot {
  Chunk* chunk;
  union {
    Slot* next_free;    // while free
    std::size_t bytes;  // global allocator only
  };
  // The object follows the head, aligned as malloc would align it.
  std::byte* payload() {
    static_assert(sizeof(Slot) == alignof(std::max_align_t));
    return reinterpret_cast<std::byte*>(this + 1);
  }
};

// The head of a chunk; its slots follow.
struct SessionSlab::Chunk {
  Chunk* prev = nullptr;  // in open_
  Chunk* next = nullptr;
  bool listed = false;
  Slot* free = nullptr;      // freed slots
  std::size_t used = 0;      // slots holding an object
  std::size_t carved = 0;    // slots ever handed out; those beyond were never touched
  std::size_t capacity = 0;  // slots that fit
};

namespace {
constexpr std::size_t round_up(std::size_t n) {
  return (n + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) *
         alignof(std::max_align_t);
}
}  // namespace

SessionSlab::Slot* SessionSlab::slot_at(Chunk* c, std::size_t i) const {
  return reinterpret_cast<Slot*>(reinterpret_cast<std::byte*>(c) + round_up(sizeof(Chunk)) +
                                 i * stride_);
}

SessionSlab::~SessionSlab() {
  // Sessions die before their worker's slab; only empty chunks are left.
  while (open_ != nullptr) {
    Chunk* c = open_;
    unlist(c);
    unmap_pages(c, kChunkBytes);
  }
  if (spare_ != nullptr) unmap_pages(spare_, kChunkBytes);
}

void* SessionSlab::allocate(std::size_t bytes, std::size_t align) {
  if (payload_bytes_ == 0 && align <= alignof(std::max_align_t)) {
    payload_bytes_ = bytes;
    stride_ = sizeof(Slot) + round_up(bytes);
  }
  if (bytes != payload_bytes_ || align > alignof(std::max_align_t)) {
    std::allocator<Slot> heap;
    const std::size_t n = 1 + (bytes + sizeof(Slot) - 1) / sizeof(Slot);
    Slot* s = std::construct_at(heap.allocate(n));
    s->chunk = nullptr;
    s->bytes = n;
    return s->payload();
  }
  Chunk* c = open_ != nullptr ? open_ : take_chunk();
  Slot* s;
  if (c->free != nullptr) {
    s = c->free;
    c->free = s->next_free;
  } else {
    s = std::construct_at(slot_at(c, c->carved));
    ++c->carved;
  }
  s->chunk = c;
  if (++c->used == c->capacity) unlist(c);
  ++in_use_;
  unpoison(s->payload(), payload_bytes_);
  return s->payload();
}

void SessionSlab::deallocate(void* p) noexcept {
  if (p == nullptr) return;
  Slot* s = static_cast<Slot*>(p) - 1;
  if (s->chunk == nullptr) {
    std::allocator<Slot>().deallocate(s, s->bytes);
    return;
  }
  Chunk* c = s->chunk;
  poison(s->payload(), payload_bytes_);
  s->next_free = c->free;
  c->free = s;
  --in_use_;
  if (--c->used == 0) {
    if (c->listed) unlist(c);
    drop(c);
  } else if (!c->listed) {
    open(c);
  }
}

SessionSlab::Chunk* SessionSlab::take_chunk() {
  Chunk* c = spare_;
  spare_ = nullptr;
  if (c == nullptr) {
    c = std::construct_at(static_cast<Chunk*>(map_pages(kChunkBytes)));
    c->capacity = (kChunkBytes - round_up(sizeof(Chunk))) / stride_;
    ++chunks_;
  }
  open(c);
  return c;
}

void SessionSlab::open(Chunk* c) {
  c->prev = nullptr;
  c->next = open_;
  if (open_ != nullptr) open_->prev = c;
  open_ = c;
  c->listed = true;
}

void SessionSlab::unlist(Chunk* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (open_ == c) open_ = c->next;
  c->prev = c->next = nullptr;
  c->listed = false;
}

// An empty chunk: kept as the spare (its slots start over), or returned to the kernel.
void SessionSlab::drop(Chunk* c) noexcept {
  if (spare_ == nullptr) {
    c->free = nullptr;
    c->carved = 0;
    unpoison(c, kChunkBytes);  // its slots are carved again from scratch
    spare_ = c;
    return;
  }
  unmap_pages(c, kChunkBytes);
  --chunks_;
}

}  // namespace edgeguard
