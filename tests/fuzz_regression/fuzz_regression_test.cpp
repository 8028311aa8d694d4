#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_checks.h"

namespace edgeguard::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_of(std::string_view target, const char* kind) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(EDGEGUARD_SOURCE_DIR) / "tests/fuzz" / kind / std::string(target);
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

class FuzzInputs : public ::testing::TestWithParam<FuzzTarget> {};

// A check that finds a broken invariant aborts, which fails this test with the message.
TEST_P(FuzzInputs, SeedsAndPastFindingsPassTheirCheck) {
  const FuzzTarget target = GetParam();
  const auto seeds = inputs_of(target.name, "corpus");
  EXPECT_FALSE(seeds.empty()) << "every fuzz target has a seed corpus";
  auto all = seeds;
  for (auto& f : inputs_of(target.name, "regressions")) all.push_back(f);
  for (const fs::path& file : all) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    target.check(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzInputs, ::testing::ValuesIn(kTargets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace edgeguard::fuzz
