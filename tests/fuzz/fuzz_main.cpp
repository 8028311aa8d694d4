// libFuzzer entry for one target; EDGEGUARD_FUZZ_CHECK names the check (tests/fuzz/CMakeLists.txt).
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  edgeguard::fuzz::EDGEGUARD_FUZZ_CHECK(data, size);
  return 0;
}
