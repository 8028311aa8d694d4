#include "tests/support/ports.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace edgeguard::testing {
namespace {

constexpr int kFirst = 20000;
constexpr int kBlock = 32;
constexpr const char* kLockDir = "/tmp/edgeguard-test-ports";

// The first port of the kernel's ephemeral range: every reserved port must lie below it.
int ephemeral_low() {
  int low = 32768, high = 60999;
  if (std::FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d %d", &low, &high) != 2) low = 32768;
    std::fclose(f);
  }
  return low;
}

// Whether a server could listen on `port` now. SO_REUSEADDR as servers set it: a port whose
// old connections sit in TIME_WAIT is free for them.
bool port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

class PortBlocks {
 public:
  int reserve() {
    std::lock_guard lock(mu_);
    for (;;) {
      while (next_ < end_) {
        const int port = next_++;
        if (port_free(port)) return port;
      }
      if (!take_block()) return 0;
    }
  }

 private:
  bool take_block() {
    ::mkdir(kLockDir, 01777);
    ::chmod(kLockDir, 01777);  // past the umask, so other users' tests can lock blocks too
    const int blocks = (ephemeral_low() - kFirst) / kBlock;
    if (blocks <= 0) return false;
    // Start where the pid points, so test processes starting together seldom try the same
    // lock files first.
    const int start = static_cast<int>(::getpid()) % blocks;
    for (int i = 0; i < blocks; ++i) {
      const int block = (start + i) % blocks;
      if (std::find(taken_.begin(), taken_.end(), block) != taken_.end()) continue;
      const std::string path = std::string(kLockDir) + "/" + std::to_string(block) + ".lock";
      const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        continue;
      }
      held_.push_back(fd);  // never closed: the block is this process's until it exits
      taken_.push_back(block);
      next_ = kFirst + block * kBlock;
      end_ = next_ + kBlock;
      return true;
    }
    return false;
  }

  std::mutex mu_;
  std::vector<int> held_;
  std::vector<int> taken_;
  int next_ = 0, end_ = 0;
};

}  // namespace

int reserve_port() {
  static PortBlocks blocks;
  return blocks.reserve();
}

}  // namespace edgeguard::testing
