#include "guard/tailnet/node_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/tailnet/test_util.h"

namespace edgeguard {
namespace {

namespace fs = std::filesystem;
using test::fixture_path;
using test::ip;
using test::read_fixture;

NodeSourceConfig file_config(NodeListFormat format, std::string file) {
  NodeSourceConfig c;
  c.format = format;
  c.file = std::move(file);
  return c;
}

NodeSourceConfig command_config(NodeListFormat format, std::vector<std::string> argv) {
  NodeSourceConfig c;
  c.format = format;
  c.command = std::move(argv);
  return c;
}

// A scratch directory under the test's working directory (the build tree), removed afterwards.
class NodeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::current_path() /
           ("tailnet_scratch_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Replaces `name` atomically, as a deploy tool would: write aside, then rename over.
  void replace(const std::string& name, const std::string& content) {
    const fs::path tmp = dir_ / (name + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << content;
    }
    fs::rename(tmp, dir_ / name);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

TEST_F(NodeSourceTest, EmptyDirectoryBeforeFirstLoad) {
  NodeSource source(file_config(NodeListFormat::list, path("missing.list")));
  ASSERT_NE(source.current(), nullptr);
  EXPECT_EQ(source.current()->size(), 0u);
  const LoadResult r = source.refresh();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("missing.list"), std::string::npos) << r.error;
  EXPECT_EQ(source.current()->size(), 0u);
  EXPECT_EQ(source.loads_failed(), 1u);
  EXPECT_EQ(source.loads_ok(), 0u);
}

TEST_F(NodeSourceTest, FileReplacedByRenameIsPickedUp) {
  replace("tailnet.json", read_fixture("tailscale_status.json"));
  NodeSource source(file_config(NodeListFormat::tailscale_status, path("tailnet.json")));

  LoadResult r = source.reload_if_changed();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.loaded);
  EXPECT_EQ(r.nodes, 4u);
  const auto first = source.current();
  ASSERT_NE(first->find(ip("100.64.0.5")), nullptr);

  r = source.reload_if_changed();  // nothing changed: no reload
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.loaded);
  EXPECT_EQ(source.current(), first);
  EXPECT_EQ(source.loads_ok(), 1u);

  // Alice's laptop leaves the tailnet.
  std::string next = read_fixture("tailscale_status.json");
  const std::size_t at = next.find("\"100.64.0.5\"");
  ASSERT_NE(at, std::string::npos);
  next.replace(at, 12, "\"100.64.0.6\"");
  next.replace(next.find("\"100.64.0.5/32\""), 15, "\"100.64.0.6/32\"");
  replace("tailnet.json", next);

  r = source.reload_if_changed();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.loaded);
  EXPECT_EQ(source.current()->find(ip("100.64.0.5")), nullptr);
  EXPECT_NE(source.current()->find(ip("100.64.0.6")), nullptr);
  EXPECT_EQ(source.loads_ok(), 2u);
  // A reader holding the old directory still sees it whole.
  EXPECT_NE(first->find(ip("100.64.0.5")), nullptr);
}

TEST_F(NodeSourceTest, GarbageReplacementKeepsLastGoodAndReportsOnce) {
  replace("nodes.list", read_fixture("nodes.list"));
  NodeSource source(file_config(NodeListFormat::list, path("nodes.list")));
  ASSERT_TRUE(source.reload_if_changed().ok);
  const auto good = source.current();
  ASSERT_EQ(good->size(), 5u);

  replace("nodes.list", "100.64.0.5 tag:admin\n100.64.0.999\n");
  LoadResult r = source.reload_if_changed();
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.loaded);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("nodes.list"), std::string::npos) << r.error;
  EXPECT_EQ(r.nodes, 5u);
  EXPECT_EQ(source.current(), good);
  EXPECT_EQ(source.loads_failed(), 1u);

  r = source.reload_if_changed();  // the same bad file is not re-reported
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.loaded);
  EXPECT_EQ(source.loads_failed(), 1u);
  EXPECT_EQ(source.current(), good);

  r = source.refresh();  // the refresh timer does retry, and fails again
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(source.loads_failed(), 2u);

  replace("nodes.list", "100.64.0.7\n");  // fixed: loads
  r = source.reload_if_changed();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(source.current()->size(), 1u);
  EXPECT_NE(source.current()->find(ip("100.64.0.7")), nullptr);
}

TEST_F(NodeSourceTest, DeletedFileKeepsLastGood) {
  replace("nodes.list", "100.64.0.1\n");
  NodeSource source(file_config(NodeListFormat::list, path("nodes.list")));
  ASSERT_TRUE(source.reload_if_changed().ok);
  fs::remove(dir_ / "nodes.list");
  const LoadResult r = source.reload_if_changed();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(source.current()->size(), 1u);
  EXPECT_TRUE(source.reload_if_changed().ok);  // still missing: reported once
  EXPECT_EQ(source.loads_failed(), 1u);
}

TEST_F(NodeSourceTest, OversizedFileIsRefused) {
  replace("big.list", std::string(4096, '#'));
  NodeSourceConfig config = file_config(NodeListFormat::list, path("big.list"));
  config.max_bytes = 1000;
  NodeSource source(config);
  const LoadResult r = source.refresh();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("larger than 1000 bytes"), std::string::npos) << r.error;
}

TEST_F(NodeSourceTest, CommandSourceReadsStdout) {
  NodeSource source(command_config(NodeListFormat::headscale,
                                   {"/bin/cat", fixture_path("headscale_nodes.json")}));
  const LoadResult r = source.refresh();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.loaded);
  EXPECT_EQ(r.nodes, 3u);
  EXPECT_EQ(source.current()->find(ip("100.64.0.2"))->name, "admin-box");
  // Nothing to watch for a command: reload_if_changed does not run it.
  const LoadResult again = source.reload_if_changed();
  EXPECT_TRUE(again.ok);
  EXPECT_FALSE(again.loaded);
  EXPECT_EQ(source.loads_ok(), 1u);
}

// `tailscale status --json` changes on every poll (traffic counters, LastSeen) while the nodes
// stay the same: such a refresh must not publish a new directory (nor log it, see service.cpp).
TEST_F(NodeSourceTest, RefreshFindingTheSameNodesPublishesNothing) {
  const std::string status = read_fixture("tailscale_status.json");
  replace("status.json", status);
  NodeSource source(
      command_config(NodeListFormat::tailscale_status, {"/bin/cat", path("status.json")}));
  LoadResult r = source.refresh();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.loaded);
  EXPECT_FALSE(r.unchanged);
  const auto first = source.current();

  std::string busier = status;
  const std::size_t at = busier.find("\"RxBytes\": 183744");
  ASSERT_NE(at, std::string::npos);
  busier.replace(at, 17, "\"RxBytes\": 999999");
  replace("status.json", busier);
  r = source.refresh();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.loaded);
  EXPECT_TRUE(r.unchanged);
  EXPECT_EQ(r.nodes, first->size());
  EXPECT_EQ(source.current(), first);

  // A tag taken away is a change.
  std::string retagged = busier;
  const std::size_t tag = retagged.find("\"tag:ops\"");
  ASSERT_NE(tag, std::string::npos);
  retagged.replace(tag, 9, "\"tag:dev\"");
  replace("status.json", retagged);
  r = source.refresh();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.loaded);
  EXPECT_FALSE(r.unchanged);
  EXPECT_NE(source.current(), first);
  EXPECT_EQ(source.loads_ok(), 3u);
}

TEST_F(NodeSourceTest, CommandFoundThroughPath) {
  NodeSource source(command_config(NodeListFormat::list, {"cat", fixture_path("nodes.list")}));
  const LoadResult r = source.refresh();
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.nodes, 5u);
}

TEST_F(NodeSourceTest, CommandThatCannotStartKeepsLastGood) {
  replace("nodes.list", "100.64.0.1\n");
  NodeSource source(
      command_config(NodeListFormat::list, {path("no-such-tailscale"), "status", "--json"}));
  const LoadResult r = source.refresh();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no-such-tailscale"), std::string::npos) << r.error;
  EXPECT_EQ(source.current()->size(), 0u);
  EXPECT_EQ(source.loads_failed(), 1u);
}

TEST_F(NodeSourceTest, CommandExitingNonZeroKeepsLastGood) {
  // First a good load, then the same source's command fails: swap the script under it.
  replace("nodes.sh", "#!/bin/sh\necho 100.64.0.1 tag:admin\n");
  fs::permissions(dir_ / "nodes.sh", fs::perms::owner_all);
  NodeSource source(command_config(NodeListFormat::list, {path("nodes.sh")}));
  ASSERT_TRUE(source.refresh().ok);
  const auto good = source.current();
  ASSERT_EQ(good->size(), 1u);

  replace("nodes.sh", "#!/bin/sh\necho 100.64.0.2\necho 'not logged in' >&2\nexit 3\n");
  fs::permissions(dir_ / "nodes.sh", fs::perms::owner_all);
  const LoadResult r = source.refresh();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("exited with status 3"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("not logged in"), std::string::npos) << r.error;
  EXPECT_EQ(source.current(), good);
  EXPECT_EQ(source.loads_ok(), 1u);
  EXPECT_EQ(source.loads_failed(), 1u);
}

TEST_F(NodeSourceTest, CommandWithBadOutputIsAParseError) {
  NodeSource source(
      command_config(NodeListFormat::tailscale_status, {"/bin/echo", "{\"Peer\": 5}"}));
  const LoadResult r = source.refresh();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("Peer: expected an object"), std::string::npos) << r.error;
}

TEST(RunCommand, SlowCommandIsKilledAtTheDeadline) {
  const auto start = std::chrono::steady_clock::now();
  const CommandOutput out = run_command({"/bin/sleep", "30"}, 1024, 200'000'000);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("timed out after 200 ms"), std::string::npos) << out.error;
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(RunCommand, OutputBeyondTheBoundIsRefused) {
  const CommandOutput out =
      run_command({"/bin/cat", fixture_path("tailscale_api.json")}, 100, 10'000'000'000);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("output exceeds 100 bytes"), std::string::npos) << out.error;
  EXPECT_TRUE(out.out.empty());
}

TEST(RunCommand, EndlessOutputIsCutAtTheBound) {
  const CommandOutput out = run_command({"/usr/bin/yes"}, 1 << 20, 10'000'000'000);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("output exceeds"), std::string::npos) << out.error;
}

TEST(RunCommand, ChildSeesNoStdin) {
  const CommandOutput out = run_command({"/bin/cat"}, 1024, 5'000'000'000);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.out, "");
}

TEST(RunCommand, KilledBySignalIsReported) {
  const CommandOutput out = run_command({"/bin/sh", "-c", "kill -9 $$"}, 1024, 5'000'000'000);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(out.error.find("killed by signal 9"), std::string::npos) << out.error;
}

TEST(RunCommand, EmptyArgvIsAnError) {
  EXPECT_FALSE(run_command({}, 1024, 1'000'000'000).ok);
}

}  // namespace
}  // namespace edgeguard
