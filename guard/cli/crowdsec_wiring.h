#pragma once
// CrowdSec in `serve`: the puller that keeps the decision list the rule reads (its first pull
// before serving: a refused bouncer key is a startup error, LAPI unreachable is not), the
// optional reporter that posts every ban edgeguard makes, and their metrics (at zero without
// CrowdSec). Everything runs on the maintenance loop.
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

#include "guard/crowdsec/crowdsec_puller.h"
#include "guard/crowdsec/crowdsec_reporter.h"
#include "guard/service/service.h"

namespace edgeguard {

class CrowdsecWiring {
 public:
  CrowdsecWiring(Service& service, const Policy& policy, boost::asio::io_context& maintenance);
  ~CrowdsecWiring();
  // Empty when CrowdSec is ready or not configured; else why not (a startup error).
  const std::string& error() const { return error_; }
  void stop();  // on the maintenance loop, when draining

 private:
  // Reports each ban this process makes (not lifts: a CrowdSec decision ends by itself).
  class Reporting final : public BanEvents {
   public:
    explicit Reporting(CrowdsecReporter& reporter) : reporter_(reporter) {}
    void made(const Ban& ban, std::int64_t now_ns) override;
    void lifted(const std::string&, std::size_t, std::int64_t) override {}

   private:
    CrowdsecReporter& reporter_;
  };

  std::shared_ptr<CrowdsecPuller> puller_;
  std::shared_ptr<CrowdsecReporter> reporter_;
  std::unique_ptr<Reporting> reporting_;
  MetricsRegistry::Registration registration_;
  std::string error_;
};

}  // namespace edgeguard
