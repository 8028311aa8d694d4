#include "guard/accesslog/log_reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace edgeguard {
namespace {

constexpr std::size_t kBlockBytes = 1 << 20;

}  // namespace

std::unique_ptr<LogReader> LogReader::open(const std::string& path, std::string* error) {
  const int fd = path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  gzFile gz = ::gzdopen(fd, "rb");
  if (gz == nullptr) {
    ::close(fd);
    *error = path + ": cannot open";
    return nullptr;
  }
  ::gzbuffer(gz, 256 * 1024);
  auto r = std::make_unique<LogReader>(Private{});
  r->gz_ = gz;
  r->buf_.resize(kBlockBytes * 2);
  return r;
}

LogReader::~LogReader() {
  if (gz_ != nullptr) ::gzclose(static_cast<gzFile>(gz_));
}

// Moves the unread tail to the front and reads more after it. False when nothing was added.
bool LogReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < kBlockBytes) buf_.resize(end_ + kBlockBytes);
  const int n = ::gzread(static_cast<gzFile>(gz_), buf_.data() + end_,
                         static_cast<unsigned>(buf_.size() - end_));
  if (n < 0) {
    int code = 0;
    const char* msg = ::gzerror(static_cast<gzFile>(gz_), &code);
    error_ = msg != nullptr ? msg : "read error";
    eof_ = true;
    return false;
  }
  if (n == 0) {
    // A gzip stream cut short reads as an end of file; zlib only notes it (Z_BUF_ERROR).
    int code = Z_OK;
    const char* msg = ::gzerror(static_cast<gzFile>(gz_), &code);
    if (code != Z_OK) error_ = std::string(msg != nullptr ? msg : "read error") + " (truncated?)";
    eof_ = true;
    return false;
  }
  end_ += static_cast<std::size_t>(n);
  return true;
}

bool LogReader::next(std::string_view& line) {
  bool skipping = false;  // inside an oversized line: drop bytes up to its newline
  for (;;) {
    const char* start = buf_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl != nullptr) {
      const char* stop = static_cast<const char*>(nl);
      const std::size_t len = static_cast<std::size_t>(stop - start);
      begin_ += len + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (len > kMaxLineBytes) {
        ++oversized_;
        continue;
      }
      line = std::string_view(start, len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    if (end_ - begin_ > kMaxLineBytes) {
      if (!skipping) ++oversized_;
      skipping = true;
      begin_ = end_ = 0;
    }
    if (!fill()) {
      if (skipping || begin_ == end_) return false;
      line = std::string_view(buf_.data() + begin_, end_ - begin_);
      begin_ = end_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
  }
}

}  // namespace edgeguard
