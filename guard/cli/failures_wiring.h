#pragma once
// Failures in `serve` (SPEC section 9): the recorder that charges failure limits (on the
// maintenance loop, with the store the maintenance loop uses), the webhook endpoint on the admin
// listener, and the follower of Traefik's access log polled on a timer. Their counters are
// registered here.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>

#include "guard/accesslog/access_log_follower.h"
#include "guard/admin/admin_router.h"
#include "guard/failures/failure_recorder.h"
#include "guard/service/service.h"

namespace edgeguard {

class FailuresWiring {
 public:
  FailuresWiring(Service& service, const Policy& policy, LimitStore& store,
                 boost::asio::io_context& maintenance, AdminRouter& admin);
  void start();
  void stop();

 private:
  void arm_poll(std::chrono::milliseconds after);
  void on_record(const AccessRecord& record);

  Service& service_;
  FailureStats stats_;
  FailureRecorder recorder_;
  std::unique_ptr<AccessLogFollower> follower_;
  boost::asio::steady_timer timer_;
  std::string scratch_;
  RequestScratch request_scratch_;
  bool stopped_ = false;
  MetricsRegistry::Registration registration_;
};

}  // namespace edgeguard
