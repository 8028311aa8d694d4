#include "guard/redis/script_sha1.h"

#include <boost/uuid/detail/sha1.hpp>
#include <cstdio>

namespace edgeguard {

std::string script_sha1(std::string_view source) {
  boost::uuids::detail::sha1 sha;
  sha.process_bytes(source.data(), source.size());
  boost::uuids::detail::sha1::digest_type digest;
  sha.get_digest(digest);
  char hex[41];
  for (int i = 0; i < 5; ++i) {
    std::snprintf(hex + i * 8, 9, "%08x", digest[i]);
  }
  return std::string(hex, 40);
}

}  // namespace edgeguard
