#include "guard/crowdsec/crowdsec_settings.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace edgeguard {
namespace {

CrowdsecSettings valid() {
  CrowdsecSettings s;
  s.lapi = "http://127.0.0.1:8081";
  s.api_key_file = "secrets/crowdsec-key";
  return s;
}

TEST(CrowdsecSettings, DefaultsAreTheSpecs) {
  const CrowdsecSettings s;
  EXPECT_EQ(s.lapi, "http://127.0.0.1:8080");
  EXPECT_EQ(s.refresh_ns, 10'000'000'000);
  EXPECT_EQ(s.scopes, scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range));
  EXPECT_EQ(s.captcha, CaptchaAction::deny);
  EXPECT_FALSE(s.report.has_value());
  EXPECT_EQ(scopes_query(s.scopes), "ip,range");
}

TEST(CrowdsecSettings, ValidationNamesTheKey) {
  EXPECT_FALSE(validate_crowdsec_settings(valid()).has_value());
  struct Case {
    void (*edit)(CrowdsecSettings&);
    const char* key;
  };
  const Case cases[] = {
      {[](CrowdsecSettings& s) { s.lapi = "https://lapi:8080"; }, "lapi"},
      {[](CrowdsecSettings& s) { s.lapi = "lapi:8080"; }, "lapi"},
      {[](CrowdsecSettings& s) { s.lapi = "http://lapi:99999"; }, "lapi"},
      {[](CrowdsecSettings& s) { s.lapi = "http://:8080"; }, "lapi"},
      {[](CrowdsecSettings& s) { s.lapi = "http://u:p@lapi:8080"; }, "lapi"},
      {[](CrowdsecSettings& s) { s.api_key_file.clear(); }, "api_key_file"},
      {[](CrowdsecSettings& s) { s.refresh_ns = 500'000'000; }, "refresh"},
      {[](CrowdsecSettings& s) { s.refresh_ns = 7'200'000'000'000; }, "refresh"},
      {[](CrowdsecSettings& s) { s.scopes = 0; }, "scopes"},
      {[](CrowdsecSettings& s) {
         s.report = CrowdsecReportSettings{"", "pw"};
       },
       "report.machine_id"},
      {[](CrowdsecSettings& s) {
         s.report = CrowdsecReportSettings{"a b", "pw"};
       },
       "report.machine_id"},
      {[](CrowdsecSettings& s) {
         s.report = CrowdsecReportSettings{"edgeguard", ""};
       },
       "report.password_file"},
  };
  for (const Case& c : cases) {
    CrowdsecSettings s = valid();
    c.edit(s);
    const auto error = validate_crowdsec_settings(s);
    ASSERT_TRUE(error.has_value()) << c.key;
    EXPECT_EQ(error->key, c.key);
    EXPECT_FALSE(error->message.empty());
  }
  CrowdsecSettings with_report = valid();
  with_report.report = CrowdsecReportSettings{"edgeguard", "secrets/crowdsec-machine"};
  EXPECT_FALSE(validate_crowdsec_settings(with_report).has_value());
}

TEST(CrowdsecSettings, LapiUrls) {
  std::string error;
  auto e = parse_lapi_url("http://127.0.0.1:8081", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8081);
  EXPECT_EQ(e->base_path, "");
  EXPECT_EQ(e->host_header(), "127.0.0.1:8081");

  e = parse_lapi_url("http://crowdsec:8080/", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "crowdsec");
  EXPECT_EQ(e->base_path, "");

  e = parse_lapi_url("http://[::1]:8080/lapi//", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->base_path, "/lapi");
  EXPECT_EQ(e->host_header(), "[::1]:8080");

  e = parse_lapi_url("http://crowdsec", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->port, 80);
  e = parse_lapi_url("http://[fd00::1]", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->host, "fd00::1");
  EXPECT_EQ(e->port, 80);

  EXPECT_FALSE(parse_lapi_url("https://crowdsec:8080", &error));
  EXPECT_NE(error.find("https is not supported"), std::string::npos);
  EXPECT_FALSE(parse_lapi_url("http://crowdsec:8080/?x=1", &error));
  EXPECT_FALSE(parse_lapi_url("http://crowd sec:8080", &error));
  EXPECT_FALSE(parse_lapi_url("http://crowdsec:0", &error));
}

TEST(CrowdsecSettings, ScopeAndCaptchaNames) {
  EXPECT_EQ(parse_scope_name("ip"), DecisionScope::ip);
  EXPECT_EQ(parse_scope_name("range"), DecisionScope::range);
  EXPECT_EQ(parse_scope_name("country"), DecisionScope::country);
  EXPECT_EQ(parse_scope_name("as"), DecisionScope::as);
  EXPECT_FALSE(parse_scope_name("username"));
  EXPECT_EQ(parse_captcha_action("deny"), CaptchaAction::deny);
  EXPECT_EQ(parse_captcha_action("allow"), CaptchaAction::allow);
  EXPECT_FALSE(parse_captcha_action("captcha"));
  EXPECT_EQ(scopes_query(scope_bit(DecisionScope::as) | scope_bit(DecisionScope::ip)), "ip,as");
}

TEST(CrowdsecSettings, SecretFiles) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("edgeguard-crowdsec-secret-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  };
  std::string secret, error;
  EXPECT_TRUE(read_secret_file(write("key", "b7e50de4cbd0f98e\n"), &secret, &error)) << error;
  EXPECT_EQ(secret, "b7e50de4cbd0f98e");
  EXPECT_FALSE(read_secret_file(write("empty", "\n"), &secret, &error));
  EXPECT_NE(error.find("empty"), std::string::npos);
  EXPECT_FALSE(read_secret_file(write("ctl", "abc\r\ndef"), &secret, &error));
  EXPECT_EQ(error.find("abc"), std::string::npos) << "the secret is never in the message";
  EXPECT_FALSE(read_secret_file((dir / "missing").string(), &secret, &error));
  EXPECT_NE(error.find("missing"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeguard
