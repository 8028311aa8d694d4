// The pooled reply functions build what hiredis's own build, and reuse what they free.
#include "guard/redis/reply_pool.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard::testing {
namespace {

using namespace std::string_view_literals;
using ReaderPtr = std::unique_ptr<redisReader, void (*)(redisReader*)>;

// A printable tree, to compare the two builders.
void show(const redisReply* r, std::string& out) {
  if (r == nullptr) {
    out.append("null");
    return;
  }
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.append(":").append(std::to_string(r->integer));
      return;
    case REDIS_REPLY_NIL:
      out.append("nil");
      return;
    case REDIS_REPLY_ARRAY:
      out.append("[").append(std::to_string(r->elements));
      for (std::size_t i = 0; i < r->elements; ++i) {
        out.append(" ");
        show(r->element[i], out);
      }
      out.append("]");
      return;
    default:
      out.append(std::to_string(r->type)).append("'").append(r->str, r->len).append("'/");
      out.append(std::to_string(std::strlen(r->str)));
  }
}

// Every reply in `resp`, shown, or "error" where the reader fails.
std::vector<std::string> read_all(std::string_view resp, redisReplyObjectFunctions* fn) {
  ReaderPtr reader(fn ? redisReaderCreateWithFunctions(fn) : redisReaderCreate(), redisReaderFree);
  std::vector<std::string> out;
  if (redisReaderFeed(reader.get(), resp.data(), resp.size()) != REDIS_OK) return {"feed"};
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      out.push_back("error");
      break;
    }
    if (raw == nullptr) break;
    out.emplace_back();
    show(static_cast<redisReply*>(raw), out.back());
    reader->fn->freeObject(raw);
  }
  return out;
}

TEST(ReplyPool, BuildsWhatHiredisBuilds) {
  const std::string_view cases[] = {
      "*5\r\n:1\r\n:-1\r\n:0\r\n:4\r\n:600\r\n",  // the GCRA script's answer
      "-NOSCRIPT No matching script\r\n+OK\r\n$5\r\nhe\0lo\r\n$-1\r\n*-1\r\n*0\r\n"sv,
      "*3\r\n*2\r\n:0\r\n:5460\r\n*1\r\n*2\r\n$9\r\n127.0.0.1\r\n:7000\r\n$0\r\n\r\n",
      // more elements than a kept array holds
      "*10\r\n:0\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n*9\r\n:1\r\n:2\r\n:3\r\n:4\r\n"
      ":5\r\n:6\r\n:7\r\n:8\r\n$1\r\nx\r\n",
      // a protocol error in the middle of an array: the half-built reply is freed
      "*3\r\n:1\r\n$2\r\nab\r\n!bad\r\n",
  };
  for (std::string_view resp : cases) {
    const std::vector<std::string> want = read_all(resp, nullptr);
    EXPECT_EQ(read_all(resp, pooled_reply_functions()), want) << resp;
    EXPECT_EQ(read_all(resp, pooled_reply_functions()), want) << resp << " (reused objects)";
  }
}

TEST(ReplyPool, ObjectsOfAFreedReplyServeTheNext) {
  const std::string_view gcra = "*5\r\n:1\r\n:-1\r\n:0\r\n:4\r\n:600\r\n";
  read_all(gcra, pooled_reply_functions());  // the pool holds at least one reply's worth now
  const std::size_t nodes = pooled_reply_nodes(), arrays = pooled_reply_arrays();
  ASSERT_GE(nodes, 6u);
  ASSERT_GE(arrays, 1u);

  ReaderPtr reader(redisReaderCreateWithFunctions(pooled_reply_functions()), redisReaderFree);
  ASSERT_EQ(redisReaderFeed(reader.get(), gcra.data(), gcra.size()), REDIS_OK);
  void* raw = nullptr;
  ASSERT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(pooled_reply_nodes(), nodes - 6) << "an array and its five integers, all reused";
  EXPECT_EQ(pooled_reply_arrays(), arrays - 1);
  // freeReplyObject (what hiredis calls in some paths) frees pooled objects like its own.
  freeReplyObject(raw);
  EXPECT_EQ(pooled_reply_nodes(), nodes - 6);
}

}  // namespace
}  // namespace edgeguard::testing
