#pragma once
#include <fstream>
#include <sstream>
#include <string>

#include "guard/net/ip_address.h"

namespace edgeguard::test {

inline std::string fixture_path(const std::string& name) {
  return std::string(EDGEGUARD_TEST_DATA) + "/tailnet/" + name;
}

inline std::string read_fixture(const std::string& name) {
  std::ifstream in(fixture_path(name), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

}  // namespace edgeguard::test
