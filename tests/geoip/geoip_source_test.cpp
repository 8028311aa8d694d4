// GeoIpSource: databases replaced on disk (by rename, as geoipupdate does) are picked up; a broken
// replacement is refused and the previous databases keep answering.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "guard/geoip/geoip_source.h"
#include "guard/net/ip_address.h"
#include "tests/geoip/temp_dir.h"
#include "tests/support/mmdb_writer.h"

namespace edgeguard {
namespace {

using testing::ip_location_country;
using testing::MmdbWriter;
using testing::TempDir;
using Status = ReloadResult::Status;

std::string country_of(const std::shared_ptr<const GeoDatabase>& db, const char* text) {
  if (!db) return "<no db>";
  return db->lookup(*IpAddress::parse(text)).country;
}

// Writes aside and renames over `path`, as geoipupdate and deploy/fetch-geoip.sh do.
void replace_with_country(const TempDir& dir, const std::string& path, const char* code,
                          std::uint64_t epoch) {
  MmdbWriter w(6, "country ipvAll");
  ASSERT_TRUE(w.insert("8.8.8.0/24", ip_location_country(code)));
  w.set_build_epoch(epoch);
  const std::string tmp = dir.file(".incoming.mmdb");
  ASSERT_TRUE(w.write_file(tmp));
  std::filesystem::rename(tmp, path);
}

void replace_with_garbage(const TempDir& dir, const std::string& path) {
  const std::string tmp = dir.file(".incoming.mmdb");
  {
    std::ofstream f(tmp, std::ios::binary);
    f << "<html>503 Service Unavailable</html>";
  }
  std::filesystem::rename(tmp, path);
}

TEST(GeoIpSource, LoadsAndReportsUnchangedWhileFilesStay) {
  TempDir dir;
  const std::string path = dir.file("country.mmdb");
  replace_with_country(dir, path, "US", 1'700'000'000);
  GeoIpSource source({path, "", ""});
  EXPECT_EQ(source.current(), nullptr);
  std::string error;
  ASSERT_TRUE(source.load(&error)) << error;
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "US");
  EXPECT_EQ(source.current()->build_epoch(), 1'700'000'000);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(source.reload_if_changed().status, Status::kUnchanged);
}

TEST(GeoIpSource, ReplacementByRenameIsPickedUpAndOldHoldersKeepTheirCopy) {
  TempDir dir;
  const std::string path = dir.file("country.mmdb");
  replace_with_country(dir, path, "US", 1'700'000'000);
  GeoIpSource source({path, "", ""});
  std::string error;
  ASSERT_TRUE(source.load(&error)) << error;
  const auto before = source.current();

  replace_with_country(dir, path, "DE", 1'700'086'400);
  const ReloadResult result = source.reload_if_changed();
  EXPECT_EQ(result.status, Status::kReloaded) << result.error;
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "DE");
  EXPECT_EQ(source.current()->build_epoch(), 1'700'086'400);
  // A request that took the old databases before the swap still reads them safely (the old
  // file is unlinked but stays mapped until the last holder lets go).
  EXPECT_EQ(country_of(before, "8.8.8.8"), "US");
  EXPECT_EQ(source.reload_if_changed().status, Status::kUnchanged);
}

TEST(GeoIpSource, GarbageReplacementIsRefusedOnceAndTheOldDatabaseKeepsAnswering) {
  TempDir dir;
  const std::string path = dir.file("country.mmdb");
  replace_with_country(dir, path, "US", 1'700'000'000);
  GeoIpSource source({path, "", ""});
  std::string error;
  ASSERT_TRUE(source.load(&error)) << error;

  replace_with_garbage(dir, path);
  const ReloadResult failed = source.reload_if_changed();
  EXPECT_EQ(failed.status, Status::kFailed);
  EXPECT_NE(failed.error.find(path), std::string::npos) << failed.error;
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "US");
  // The same broken file is not reopened (and re-reported) on every tick.
  EXPECT_EQ(source.reload_if_changed().status, Status::kUnchanged);
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "US");

  // A good file afterwards is taken.
  replace_with_country(dir, path, "FR", 1'700'100'000);
  EXPECT_EQ(source.reload_if_changed().status, Status::kReloaded);
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "FR");
}

TEST(GeoIpSource, DeletedFileIsAFailedReloadNotAnEmptyDatabase) {
  TempDir dir;
  const std::string path = dir.file("country.mmdb");
  replace_with_country(dir, path, "US", 1'700'000'000);
  GeoIpSource source({path, "", ""});
  std::string error;
  ASSERT_TRUE(source.load(&error)) << error;
  std::filesystem::remove(path);
  const ReloadResult failed = source.reload_if_changed();
  EXPECT_EQ(failed.status, Status::kFailed);
  EXPECT_NE(failed.error.find("No such file"), std::string::npos) << failed.error;
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "US");
}

TEST(GeoIpSource, ChangedAsnFileAloneTriggersReload) {
  TempDir dir;
  const std::string country = dir.file("country.mmdb");
  const std::string asn = dir.file("asn.mmdb");
  replace_with_country(dir, country, "US", 1'700'000'000);
  MmdbWriter a1(6, "GeoLite2-ASN");
  ASSERT_TRUE(a1.insert("8.8.8.0/24", testing::asn_record(15169, "GOOGLE")));
  ASSERT_TRUE(a1.write_file(asn));
  GeoIpSource source({country, asn, ""});
  std::string error;
  ASSERT_TRUE(source.load(&error)) << error;
  EXPECT_EQ(source.current()->lookup(*IpAddress::parse("8.8.8.8")).asn, 15169u);

  MmdbWriter a2(6, "GeoLite2-ASN");
  ASSERT_TRUE(a2.insert("8.8.8.0/24", testing::asn_record(64496, "DOC")));
  ASSERT_TRUE(a2.write_file(dir.file("asn.new")));
  std::filesystem::rename(dir.file("asn.new"), asn);
  EXPECT_EQ(source.reload_if_changed().status, Status::kReloaded);
  EXPECT_EQ(source.current()->lookup(*IpAddress::parse("8.8.8.8")).asn, 64496u);
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "US");
}

TEST(GeoIpSource, MissingFileAtStartFailsWithItsName) {
  TempDir dir;
  GeoIpSource source({dir.file("not-there.mmdb"), "", ""});
  std::string error;
  EXPECT_FALSE(source.load(&error));
  EXPECT_NE(error.find("not-there.mmdb"), std::string::npos) << error;
  EXPECT_EQ(source.current(), nullptr);
  // Once the file appears, the next tick loads it.
  replace_with_country(dir, dir.file("not-there.mmdb"), "NL", 1'700'000'000);
  EXPECT_EQ(source.reload_if_changed().status, Status::kReloaded);
  EXPECT_EQ(country_of(source.current(), "8.8.8.8"), "NL");
}

}  // namespace
}  // namespace edgeguard
