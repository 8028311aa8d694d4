#pragma once
// Small helpers shared by the end-to-end suites: fixtures copied into a test's scratch directory
// (tests read nothing outside the repository and write nothing into it), files replaced by
// rename as geoipupdate does, and the `reason` of a problem+json answer.
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/harness.h"

namespace edgeguard::testing {

inline std::filesystem::path fixture(const std::string& relative) {
  return std::filesystem::path(EDGEGUARD_TEST_DATA) / relative;
}

inline void copy_in(const ScratchDir& dir, const std::string& relative, const std::string& as) {
  std::filesystem::copy_file(fixture(relative), dir.file(as),
                             std::filesystem::copy_options::overwrite_existing);
}

// Writes `bytes` beside `name` and renames it over: readers see the old or the new file whole.
inline void replace_by_rename(const ScratchDir& dir, const std::string& name,
                              const std::string& bytes) {
  const auto staged = dir.file(name + ".new");
  {
    std::ofstream out(staged, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::filesystem::rename(staged, dir.file(name));
}

inline std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The "reason" of a problem+json body ("" when the body is not one).
inline std::string reason_of(const HttpResponse& r) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return "";
  const auto* reason = v.as_object().if_contains("reason");
  return reason != nullptr && reason->is_string() ? std::string(reason->as_string()) : "";
}

inline Call call_from(const std::string& host, const std::string& ip,
                      const std::string& method = "GET", const std::string& uri = "/") {
  Call c;
  c.host = host;
  c.xff = ip;
  c.method = method;
  c.uri = uri;
  return c;
}

}  // namespace edgeguard::testing
