#pragma once
// What a connection needs only while a request is in flight: the read buffer sized for a full
// header block, the parser and its arena, the handler (its request scratch and limit keys are
// most of its 14 KB) and the output. An idle keep-alive connection holds none of it: a session
// borrows one set from its worker's pool when a header block is complete (or its small first
// buffer is full) and gives it back once the answer is written and nothing more is buffered
// (nginx's model: about 250 bytes per idle connection instead of ~20 KB).
//
// The pool belongs to one worker thread and is touched by it only. Sets nobody borrowed for a
// whole decay interval are freed, so a burst of connections leaves no pool behind it, while a
// steady load reuses the same sets without a system call. Each set is one mapping
// (mapped_memory.h): freed, its pages leave the process at once, whatever malloc keeps.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guard/http/forward_auth_parser.h"
#include "guard/server/forward_auth_handler.h"

namespace edgeguard {

struct RequestBuffers {
  struct Unmap {
    void operator()(RequestBuffers* b) const noexcept;
  };
  using Ptr = std::unique_ptr<RequestBuffers, Unmap>;
  static Ptr make(std::size_t header_limit);

  // A full header block plus room for what is pipelined behind it.
  char* read_buf() { return block(); }
  std::size_t read_capacity() const { return header_limit + kPipelineRoom; }
  // The parser copies captured values here; values are a subset of the header block.
  std::span<char> arena() { return {block() + read_capacity(), header_limit + 1024}; }

  const std::size_t header_limit;
  std::optional<ForwardAuthParser> parser;
  std::string out;
  std::string body;  // a forwarded body, only when a route reads usernames
  ForwardAuthHandler handler;

  explicit RequestBuffers(std::size_t limit) : header_limit(limit) {}  // make() only

 private:
  static constexpr std::size_t kPipelineRoom = 4096;
  friend class RequestBufferPool;  // marks the block unaddressable while pooled
  static std::size_t mapped_bytes(std::size_t header_limit);
  static std::size_t block_bytes(std::size_t header_limit) {
    return header_limit + kPipelineRoom + header_limit + 1024;  // read buffer, arena
  }
  // The read buffer and the arena follow the object in its mapping. Nothing there is written
  // before a request is read into it: pages past the request's length are never touched.
  char* block();
};

class RequestBufferPool {
 public:
  // A set for requests whose header block may be `header_limit` bytes (the policy's
  // server.max_header_bytes; a set made for another limit is dropped, not reused).
  RequestBuffers::Ptr acquire(std::size_t header_limit);
  // Takes a set back; the caller has reset its parser and cleared what it wrote.
  void release(RequestBuffers::Ptr buffers);
  // Frees the sets that stayed in the pool since the previous call, once `interval_ns` has
  // passed since then; the worker calls it from a periodic timer.
  void decay(std::int64_t now_ns, std::int64_t interval_ns = 1'000'000'000);

  std::size_t idle() const { return free_.size(); }
  std::size_t lent() const { return lent_; }

 private:
  // Whatever the load, no more than this many sets wait unused (each is ~36 KB of address
  // space, a few KB touched).
  static constexpr std::size_t kMaxIdle = 256;

  std::vector<RequestBuffers::Ptr> free_;
  std::size_t lent_ = 0;
  std::size_t low_water_ = 0;  // the fewest sets in free_ since the last decay
  std::int64_t last_decay_ns_ = 0;
};

}  // namespace edgeguard
