#include "guard/geoip/geoip_source.h"

#include <sys/stat.h>

#include <utility>

namespace edgeguard {

GeoIpSource::GeoIpSource(GeoIpConfig config) : config_(std::move(config)) {}

GeoIpSource::Stamps GeoIpSource::stat_files() const {
  auto stamp = [](const std::string& path) {
    FileStamp s;
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
    s.exists = true;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    s.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
    s.size = static_cast<long long>(st.st_size);
    return s;
  };
  return Stamps{stamp(config_.country_db), stamp(config_.asn_db)};
}

bool GeoIpSource::load(std::string* error) {
  std::lock_guard lock(reload_mu_);
  // Stat before opening: if the file is replaced in between, the next tick sees a newer stamp
  // and reopens, rather than missing the change.
  stamps_ = stat_files();
  auto db = GeoDatabase::open(config_, error);
  if (!db) return false;
  current_.publish(std::move(db));
  return true;
}

ReloadResult GeoIpSource::reload_if_changed() {
  std::lock_guard lock(reload_mu_);
  Stamps now = stat_files();
  if (now == stamps_) return {};
  stamps_ = now;
  ReloadResult result;
  auto db = GeoDatabase::open(config_, &result.error);
  if (!db) {
    result.status = ReloadResult::Status::kFailed;
    return result;
  }
  current_.publish(std::move(db));
  result.status = ReloadResult::Status::kReloaded;
  return result;
}

}  // namespace edgeguard
