#pragma once
// hiredis builds every reply with calloc: a node per element and an array of pointers per
// aggregate, all freed right after the reply callback. The GCRA script's answer is 5 integers,
// so 7 callocs and 7 frees per command, the largest cost left on our side of a Redis command.
// These object functions keep the nodes and small element arrays of the thread's replies for
// the next ones. Nodes and arrays are still malloc'd blocks laid out as hiredis lays them out,
// so anything that frees a reply with freeReplyObject frees it correctly.
#include <hiredis/read.h>

#include <cstddef>

namespace edgeguard {

// For redisReader::fn (redisReaderCreateWithFunctions, or a context's reader). Free replies
// with its freeObject (hiredis's async context does).
redisReplyObjectFunctions* pooled_reply_functions();

// Nodes and element arrays kept by the calling thread (for tests).
std::size_t pooled_reply_nodes();
std::size_t pooled_reply_arrays();

}  // namespace edgeguard
