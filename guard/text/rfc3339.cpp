#include "guard/text/rfc3339.h"

namespace edgeguard {
namespace {

void write_digits(char* out, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void write_utc_seconds(char* out, std::int64_t unix_s) {
  std::int64_t days = unix_s / 86400;
  std::int64_t rem = unix_s % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days (Hinnant): the proleptic Gregorian date of a day count from 1970-01-01.
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2);
  const auto secs = static_cast<unsigned>(rem);
  write_digits(out, static_cast<unsigned>(year), 4);
  out[4] = '-';
  write_digits(out + 5, month, 2);
  out[7] = '-';
  write_digits(out + 8, day, 2);
  out[10] = 'T';
  write_digits(out + 11, secs / 3600, 2);
  out[13] = ':';
  write_digits(out + 14, secs / 60 % 60, 2);
  out[16] = ':';
  write_digits(out + 17, secs % 60, 2);
}

std::string format_rfc3339_seconds(std::int64_t unix_s) {
  std::string out(kUtcSecondsBytes + 1, 'Z');
  write_utc_seconds(out.data(), unix_s);
  return out;
}

void write_rfc3339(char* out, std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / 1'000'000'000;
  if (unix_ns < 0 && unix_ns % 1'000'000'000 != 0) --secs;
  write_utc_seconds(out, secs);
  out[kUtcSecondsBytes] = 'Z';
}

std::string format_rfc3339(std::int64_t unix_ns) {
  std::string out(kRfc3339Bytes, 'Z');
  write_rfc3339(out.data(), unix_ns);
  return out;
}

}  // namespace edgeguard
