#pragma once
// Lines of a log file, plain or gzip (zlib recognises the gzip magic bytes 1f 8b and reads any
// other file as it is; concatenated gzip members, as logrotate and `cat a.gz b.gz` make, read
// as one stream). "-" is standard input. Reads in large blocks and hands out views: no
// allocation per line.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace edgeguard {

class LogReader {
 public:
  // Opens `path` ("-" = stdin). Returns null with `error` set when it cannot be opened.
  static std::unique_ptr<LogReader> open(const std::string& path, std::string* error);
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // The next line without its "\n" (and "\r"); valid until the next call. False at the end of
  // the input or on a read error (see error()).
  bool next(std::string_view& line);
  // Lines longer than this are skipped and counted (a log line is a few hundred bytes; this
  // bounds memory against a file that is not a log).
  static constexpr std::size_t kMaxLineBytes = 1 << 20;
  std::uint64_t oversized_lines() const { return oversized_; }
  const std::string& error() const { return error_; }

 private:
  struct Private {};

 public:
  explicit LogReader(Private) {}

 private:
  bool fill();

  void* gz_ = nullptr;  // gzFile; kept opaque so zlib.h stays out of this header
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::uint64_t oversized_ = 0;
  std::string error_;
};

}  // namespace edgeguard
