#pragma once
// Counters the request path writes are kept per thread: each io thread writes only its own
// cache line (relaxed), and /metrics sums the cells. This is the calling thread's cell index.
namespace edgeguard {

inline constexpr int kMaxThreads = 64;

// The io thread this code runs on (0..threads-1); other threads share the last slot.
int metrics_thread_index();
void set_metrics_thread_index(int index);

}  // namespace edgeguard
