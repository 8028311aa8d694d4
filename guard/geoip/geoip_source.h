#pragma once
// The live GeoIP databases: loaded once at start, then reopened when a file is replaced
// (geoipupdate and deploy/fetch-geoip.sh replace by rename). Request threads read current();
// one caller (the server's timer) drives reload_if_changed(). No threads of its own.
#include <sys/types.h>
#include <memory>
#include <mutex>
#include <string>

#include "guard/geoip/geo_database.h"
#include "guard/sync/published.h"

namespace edgeguard {

struct ReloadResult {
  enum class Status {
    kUnchanged,  // no file changed since the last attempt
    kReloaded,   // a changed file opened and is now current
    kFailed,     // a changed file failed to open; the previous databases keep answering
  };
  Status status = Status::kUnchanged;
  std::string error;  // set when kFailed
};

class GeoIpSource {
 public:
  explicit GeoIpSource(GeoIpConfig config);

  // Initial load; on failure nothing is current and `error` names the file and the problem.
  bool load(std::string* error);

  // Stats the configured files (device, inode, mtime, size) and reopens when any differs from the
  // last attempt. A file that fails to open is not retried until it changes again, so a broken
  // replacement is reported once, not on every tick.
  ReloadResult reload_if_changed();

  // The databases to use for one request (null before a successful load()).
  std::shared_ptr<const GeoDatabase> current() const { return current_.get(); }

  const GeoIpConfig& config() const { return config_; }

 private:
  struct FileStamp {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    long long mtime_ns = 0;
    long long size = 0;
    bool operator==(const FileStamp&) const = default;
  };
  struct Stamps {
    FileStamp country;
    FileStamp asn;
    bool operator==(const Stamps&) const = default;
  };
  Stamps stat_files() const;

  const GeoIpConfig config_;
  Published<GeoDatabase> current_;
  std::mutex reload_mu_;  // load() and reload_if_changed() are rare; serialise them
  Stamps stamps_;         // guarded by reload_mu_
};

}  // namespace edgeguard
