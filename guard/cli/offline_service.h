#pragma once
// The policy and its data sources (GeoIP databases, node list) opened as the server would open
// them, for verbs that decide without serving (explain, replay). Logs are silenced: these verbs
// print their own report.
#include <memory>
#include <string>

#include "guard/service/service.h"

namespace edgeguard {

// Prints the FILE:LINE:COL or data-source error to stderr and returns null on failure.
std::unique_ptr<Service> open_offline_service(const std::string& config_path);

}  // namespace edgeguard
