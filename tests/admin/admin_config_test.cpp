// `admin: {token_file}`: the token is read when the policy loads; every way a token file can be
// wrong is a config error at the token_file value that never quotes the file's content.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "guard/config/admin_reader.h"
#include "guard/config/policy_loader.h"

namespace edgeguard {
namespace {

namespace fs = std::filesystem;

class AdminConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("edgeguard-admin-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  PolicyLoad load(const std::string& yaml) { return parse_policy(yaml, "t.yaml", dir_.string()); }

  fs::path dir_;
};

constexpr const char* kToken = "3f9a2c7e1b5d4a6f8e0c2b4d6f8a0c2e";

TEST_F(AdminConfig, NoSectionMeansNoToken) {
  const auto p = load("listen: 127.0.0.1:8080\n");
  ASSERT_TRUE(p.policy) << p.error;
  EXPECT_TRUE(p.policy->admin.token_file.empty());
  EXPECT_TRUE(p.policy->admin.token.empty());
}

TEST_F(AdminConfig, ReadsTheTokenRelativeToTheConfigAndDropsTheNewline) {
  write("admin-token", std::string(kToken) + "\n");
  const auto p = load("admin:\n  token_file: admin-token\n");
  ASSERT_TRUE(p.policy) << p.error;
  EXPECT_EQ(p.policy->admin.token, kToken);
  EXPECT_EQ(p.policy->admin.token_file, (dir_ / "admin-token").string());
}

TEST_F(AdminConfig, EveryBadTokenFileIsAnErrorAtTheValueThatNeverQuotesIt) {
  struct Case {
    const char* what;
    const char* content;  // nullptr: no file
    const char* message;
  };
  const Case cases[] = {
      {"missing file", nullptr, "admin.token_file: cannot read"},
      {"empty file", "\n\n", "holds no token"},
      {"too short", "too-short-token\n", "16 to 4096 characters"},
      {"two lines", "3f9a2c7e1b5d4a6f\n8e0c2b4d6f8a0c2e\n", "one token"},
      {"inner space", "3f9a2c7e1b5d4a6f 8e0c2b4d6f8a0c2e", "one token"},
      {"not ASCII",
       "3f9a2c7e1b5d4a6f\xc3\xa9"
       "8e0c2b4d6f8a0c2e",
       "one token"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    fs::remove(dir_ / "tok");
    if (c.content != nullptr) write("tok", c.content);
    const auto p = load("listen: 127.0.0.1:8080\nadmin:\n  token_file: tok\n");
    ASSERT_FALSE(p.policy);
    EXPECT_EQ(p.error.rfind("t.yaml:3:15: ", 0), 0u) << p.error;
    EXPECT_NE(p.error.find(c.message), std::string::npos) << p.error;
    if (c.content != nullptr && std::string(c.content).size() > 8) {
      EXPECT_EQ(p.error.find(std::string(c.content).substr(0, 8)), std::string::npos)
          << "the error quotes the file: " << p.error;
    }
  }
}

TEST_F(AdminConfig, UnknownKeysAndEmptyPathsAreErrors) {
  auto p = load("admin:\n  token: abc\n");
  ASSERT_FALSE(p.policy);
  EXPECT_NE(p.error.find("t.yaml:2:3: unknown key 'token' in admin"), std::string::npos) << p.error;
  p = load("admin:\n  token_file: \"\"\n");
  ASSERT_FALSE(p.policy);
  EXPECT_NE(p.error.find("must not be empty"), std::string::npos) << p.error;
  p = load("admin: secrets/x\n");
  ASSERT_FALSE(p.policy);
  EXPECT_NE(p.error.find("admin must be a mapping"), std::string::npos) << p.error;
}

TEST(AdminToken, TrimsSurroundingWhitespaceOnly) {
  std::string error;
  EXPECT_EQ(config::parse_admin_token("  \t3f9a2c7e1b5d4a6f8e0c\r\n", &error),
            "3f9a2c7e1b5d4a6f8e0c");
  EXPECT_EQ(config::parse_admin_token(std::string(16, 'a'), &error), std::string(16, 'a'));
  EXPECT_FALSE(config::parse_admin_token(std::string(15, 'a'), &error));
  EXPECT_TRUE(config::parse_admin_token(std::string(4096, 'a'), &error));
  EXPECT_FALSE(config::parse_admin_token(std::string(4097, 'a'), &error));
  EXPECT_FALSE(config::parse_admin_token(std::string("aaaaaaaa\0aaaaaaaa", 17), &error));
}

}  // namespace
}  // namespace edgeguard
