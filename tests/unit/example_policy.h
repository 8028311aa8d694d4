#pragma once
// The example policy shipped in config/, loaded once per test binary.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "guard/config/policy_loader.h"

namespace edgeguard::testing {

inline std::shared_ptr<const Policy> example_policy() {
  static const std::shared_ptr<const Policy> policy = [] {
    const auto load =
        load_policy_file(std::string(EDGEGUARD_SOURCE_DIR) + "/config/edgeguard.yaml");
    EXPECT_TRUE(load.policy) << load.error;
    return load.policy;
  }();
  return policy;
}

}  // namespace edgeguard::testing
