#include "guard/redis/reply_pool.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace edgeguard {
namespace {

// Element arrays up to this size are kept (every reply edgeguard reads on the request path
// is one); larger ones come and go with calloc, as in hiredis.
constexpr std::size_t kArraySlots = 8;
// Per thread: a few replies in flight per loop turn need no more.
constexpr std::size_t kKept = 256;

struct Pool {
  std::vector<redisReply*> nodes;
  std::vector<redisReply**> arrays;
  Pool() {
    nodes.reserve(kKept);
    arrays.reserve(kKept);
  }
  ~Pool() {
    for (redisReply* r : nodes) std::free(r);
    for (redisReply** a : arrays) std::free(a);
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
};

thread_local Pool pool;

redisReply* new_node(int type) {
  redisReply* r;
  if (!pool.nodes.empty()) {
    r = pool.nodes.back();
    pool.nodes.pop_back();
  } else {
    r = static_cast<redisReply*>(std::malloc(sizeof(redisReply)));
    if (r == nullptr) return nullptr;
  }
  std::memset(r, 0, sizeof *r);
  r->type = type;
  return r;
}

redisReply** new_array(std::size_t n) {
  if (n > kArraySlots) return static_cast<redisReply**>(std::calloc(n, sizeof(redisReply*)));
  redisReply** a;
  if (!pool.arrays.empty()) {
    a = pool.arrays.back();
    pool.arrays.pop_back();
  } else {
    a = static_cast<redisReply**>(std::malloc(kArraySlots * sizeof(redisReply*)));
    if (a == nullptr) return nullptr;
  }
  // A reply freed half-built (a protocol error mid-array) has null slots: they must read null.
  std::memset(a, 0, n * sizeof(redisReply*));
  return a;
}

void free_reply(void* p) {
  auto* r = static_cast<redisReply*>(p);
  if (r == nullptr) return;
  switch (r->type) {
    case REDIS_REPLY_ARRAY:
      if (r->element != nullptr) {
        for (std::size_t i = 0; i < r->elements; ++i) free_reply(r->element[i]);
        if (r->elements <= kArraySlots && pool.arrays.size() < kKept) {
          pool.arrays.push_back(r->element);
        } else {
          std::free(r->element);
        }
      }
      break;
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
      std::free(r->str);
      break;
    default:
      break;
  }
  if (pool.nodes.size() < kKept) {
    pool.nodes.push_back(r);
  } else {
    std::free(r);
  }
}

// As hiredis does: a child is linked into its parent's element array as it is created.
void* attach(const redisReadTask* task, redisReply* r) {
  if (task->parent != nullptr) {
    static_cast<redisReply*>(task->parent->obj)->element[task->idx] = r;
  }
  return r;
}

void* create_string(const redisReadTask* task, char* str, std::size_t len) {
  redisReply* r = new_node(task->type);
  if (r == nullptr) return nullptr;
  // The text stays a malloc'd copy per reply (errors and slot maps only, off the request path).
  char* buf = static_cast<char*>(std::malloc(len + 1));
  if (buf == nullptr) {
    free_reply(r);
    return nullptr;
  }
  std::memcpy(buf, str, len);
  buf[len] = '\0';
  r->str = buf;
  r->len = len;
  return attach(task, r);
}

void* create_array(const redisReadTask* task, int elements) {
  redisReply* r = new_node(REDIS_REPLY_ARRAY);
  if (r == nullptr) return nullptr;
  if (elements > 0) {
    r->element = new_array(static_cast<std::size_t>(elements));
    if (r->element == nullptr) {
      free_reply(r);
      return nullptr;
    }
  }
  r->elements = elements > 0 ? static_cast<std::size_t>(elements) : 0;
  return attach(task, r);
}

void* create_integer(const redisReadTask* task, long long value) {
  redisReply* r = new_node(REDIS_REPLY_INTEGER);
  if (r == nullptr) return nullptr;
  r->integer = value;
  return attach(task, r);
}

void* create_nil(const redisReadTask* task) {
  redisReply* r = new_node(REDIS_REPLY_NIL);
  if (r == nullptr) return nullptr;
  return attach(task, r);
}

redisReplyObjectFunctions functions = {create_string, create_array, create_integer, create_nil,
                                       free_reply};

}  // namespace

redisReplyObjectFunctions* pooled_reply_functions() {
  return &functions;
}

std::size_t pooled_reply_nodes() {
  return pool.nodes.size();
}

std::size_t pooled_reply_arrays() {
  return pool.arrays.size();
}

}  // namespace edgeguard
