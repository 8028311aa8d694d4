#pragma once
// Where the node list comes from (a file, or a command's stdout) and the current NodeDirectory.
// Readers call current() from any thread (a pointer copy under a short lock). refresh() and
// reload_if_changed() do blocking I/O (a command may run for up to command_timeout_ns) and are
// meant for one background timer thread; concurrent calls are serialised by a mutex. No threads
// are started here. A load that fails keeps the last good directory and returns the error.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "guard/sync/published.h"
#include "guard/tailnet/node_directory.h"
#include "guard/tailnet/node_list_parser.h"

namespace edgeguard {

struct NodeSourceConfig {
  NodeListFormat format = NodeListFormat::tailscale_status;
  std::string file;                                  // exactly one of file / command
  std::vector<std::string> command;                  // argv; argv[0] searched in PATH; no shell
  std::size_t max_bytes = std::size_t{64} << 20;     // file size / command stdout bound
  std::int64_t command_timeout_ns = 10'000'000'000;  // then SIGKILL
};

struct LoadResult {
  bool ok = false;         // false: `error` says why; the previous directory stays current
  bool loaded = false;     // a new directory was published (false when nothing had changed)
  bool unchanged = false;  // the source was read and parsed, and lists the nodes already current
  std::size_t nodes = 0;   // nodes in the current directory after this call
  std::string error;
};

class NodeSource {
 public:
  explicit NodeSource(NodeSourceConfig config);

  // Reads (or runs) the source, parses, publishes on success unless the nodes are the ones
  // already current (then `unchanged`: a status poll every 30 s mostly finds nothing new).
  LoadResult refresh();
  // File sources: refresh only when (dev, inode, size, mtime) differ from the last attempt, so
  // an unchanged bad file is reported once, not on every poll. Command sources: nothing to watch,
  // returns ok without running the command (the owner calls refresh() on its own timer).
  LoadResult reload_if_changed();

  // Never null: an empty directory until the first successful load.
  std::shared_ptr<const NodeDirectory> current() const { return current_.get(); }

  const NodeSourceConfig& config() const { return config_; }
  std::uint64_t loads_ok() const { return loads_ok_.load(std::memory_order_relaxed); }
  std::uint64_t loads_failed() const { return loads_failed_.load(std::memory_order_relaxed); }

 private:
  struct FileStamp {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool valid = false;
    bool operator==(const FileStamp&) const = default;
  };

  LoadResult refresh_locked();
  LoadResult fail(std::string error);

  const NodeSourceConfig config_;
  std::mutex load_mu_;
  FileStamp last_stamp_;  // guarded by load_mu_
  Published<NodeDirectory> current_;
  std::atomic<std::uint64_t> loads_ok_{0};
  std::atomic<std::uint64_t> loads_failed_{0};
};

// Runs argv (no shell) with stdin from /dev/null and returns its stdout. Fails on spawn error,
// output over `max_bytes`, a run over `timeout_ns` (the child is killed), a non-zero exit or a
// signal; the error carries the start of stderr. Exposed for tests.
struct CommandOutput {
  bool ok = false;
  std::string out;
  std::string error;
};
CommandOutput run_command(const std::vector<std::string>& argv, std::size_t max_bytes,
                          std::int64_t timeout_ns);

}  // namespace edgeguard
