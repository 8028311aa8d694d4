#pragma once
// The CrowdSec series, from the puller's and reporter's own stats. Rendered at zero when CrowdSec
// is not configured (null stats), so dashboards and alerts see the same names in every setup.
#include <cstdint>

#include "guard/crowdsec/crowdsec_stats.h"
#include "guard/metrics/registry.h"

namespace edgeguard {

void write_crowdsec_metrics(MetricsWriter& w, const CrowdsecPullerStats* puller,
                            const CrowdsecReporterStats* reporter, std::int64_t now_ns);

}  // namespace edgeguard
