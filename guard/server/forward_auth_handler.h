#pragma once
// One ForwardAuth call, from its captured headers to the response bytes, with no socket: the
// caller check, the request, the decision pipeline around the worker's limit store, and what
// the service records of it (route counters, the decision histogram, the log line). The session
// moves bytes and keeps itself alive while a store answers later (Beast's split: the request is
// handled by code that does no I/O).
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "guard/pipeline/pipeline.h"
#include "guard/request/forward_request.h"
#include "guard/server/server_stats.h"

namespace edgeguard {

class ForwardAuthHandler {
 public:
  enum class Progress : std::uint8_t { answered, waiting_for_store };

  // Decides with `snapshot` (kept alive by the handler while the store answers) and `store`,
  // recording into `stats` (and the snapshot's route counters). Appends the answer to `out` and
  // returns `answered`, or returns `waiting_for_store`: the caller then hands calls() to the
  // store's admit_async and passes its answer to finish(). `headers` may be released once this
  // returns.
  Progress handle(const std::shared_ptr<const Snapshot>& snapshot, LimitStore& store,
                  ServerStats& stats, const ForwardHeaders& headers, const IpAddress& peer,
                  bool keep_alive, std::string& out);

  std::span<const LimitCall> calls() const { return pipeline_.calls(); }
  // The last decision's request, facts and verdict (valid after a decision, not after a 400).
  const Pipeline& pipeline() const { return pipeline_; }
  std::int64_t started_ns() const { return started_ns_; }
  void finish(const LimitOutcome& outcome, std::string& out);
  // While waiting for the store: the answer finish() writes ends the connection (the server
  // began to drain meanwhile).
  void end_keep_alive() { keep_alive_ = false; }
  // The connection closed while the store was answering: nothing is written.
  void abandon() { held_.reset(); }

 private:
  void answer(const Decision& d, const ForwardRequest* request, std::string& out);

  ServerStats* stats_ = nullptr;
  const Snapshot* snapshot_ = nullptr;
  std::shared_ptr<const Snapshot> held_;  // only while waiting for the store
  IpAddress peer_;
  bool keep_alive_ = true;
  std::int64_t started_ns_ = 0;
  RequestScratch scratch_;
  Pipeline pipeline_;
};

}  // namespace edgeguard
