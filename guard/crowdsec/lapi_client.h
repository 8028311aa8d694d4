#pragma once
// HTTP/1.1 to CrowdSec's Local API on an io_context the caller runs (the guard's maintenance
// loop): no thread of its own, one short-lived connection per exchange (a pull every few
// seconds, a batch of alerts now and then), a deadline on connecting and one on the whole
// exchange, and a bound on the answer's size. Plain http: LAPI is reached on loopback or the
// stack's internal network (README, "CrowdSec"). Errors never carry request headers, so the
// API key and tokens stay out of logs.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "guard/crowdsec/crowdsec_settings.h"

namespace boost::asio {
class io_context;
}

namespace edgeguard {

struct LapiHttpOptions {
  std::int64_t connect_timeout_ns = 3'000'000'000;
  std::int64_t timeout_ns = 30'000'000'000;            // the whole exchange, name lookup included
  std::size_t max_body_bytes = std::size_t{64} << 20;  // 100 000 decisions are about 16 MB
};

struct LapiRequest {
  bool post = false;   // GET otherwise
  std::string target;  // "/v1/decisions/stream?startup=true"; the endpoint's base path goes first
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // POST: JSON
};

struct LapiResponse {
  std::string error;  // set when no complete answer arrived (refused, timed out, too large...)
  int status = 0;
  std::string body;
  bool answered() const { return error.empty(); }
};

class LapiClient {
 public:
  using Handler = std::function<void(LapiResponse)>;

  LapiClient(boost::asio::io_context& io, LapiEndpoint endpoint, LapiHttpOptions options);
  ~LapiClient();  // cancels what is in flight
  LapiClient(const LapiClient&) = delete;
  LapiClient& operator=(const LapiClient&) = delete;

  // Starts one exchange. `handler` runs exactly once, on the io_context: with the answer, or
  // with `error` set (also when cancelled). Call from the io_context's thread, or before it runs.
  void send(LapiRequest request, Handler handler);
  // Ends every exchange in flight; their handlers run before this returns, with error
  // "cancelled".
  void cancel();

  const LapiEndpoint& endpoint() const { return endpoint_; }

 private:
  class Exchange;
  boost::asio::io_context& io_;
  LapiEndpoint endpoint_;
  LapiHttpOptions options_;
  std::vector<std::weak_ptr<Exchange>> live_;
};

}  // namespace edgeguard
