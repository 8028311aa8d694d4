// The ForwardAuth parser's one-pass head scan (guard/http/head_scanner.h) against Beast's parser:
// for every input, reading with the scan and reading with Beast alone give the same outcomes
// (errors, need_more, bytes consumed, keep-alive) and the same captured values. The inputs: the
// requests Traefik sends, the smuggling and malformed cases of tests/server, every seed of the
// forward_auth fuzz corpora, and 60 000 single- and double-byte mutations of a Traefik request.
// The scan must also actually take the requests it is for, or the fast path is gone unnoticed.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "guard/http/head_scanner.h"
#include "tests/fuzz/parser_differential.h"

namespace edgeguard {
namespace {

using testing::read_requests;

const std::string kTraefik =
    "GET /auth HTTP/1.1\r\nHost: guard:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    "Accept: text/html,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "X-Forwarded-For: 203.0.113.9, 198.51.100.7\r\nX-Forwarded-Host: erp.example.test\r\n"
    "X-Forwarded-Method: POST\r\nX-Forwarded-Port: 443\r\nX-Forwarded-Proto: https\r\n"
    "X-Forwarded-Server: traefik-1\r\nX-Forwarded-Uri: /api/method/login?cmd=x\r\n"
    "X-Real-Ip: 198.51.100.7\r\nX-Api-Key: k-123\r\nCookie: sid=abc; theme=dark\r\n\r\n";

std::string with(const std::string& lines) {
  return kTraefik.substr(0, kTraefik.size() - 2) + lines + "\r\n\r\n";
}

const CapturePlan& plan() {
  static const CapturePlan p("X-Forwarded-For", {"X-Api-Key"});
  return p;
}
const CapturePlan& body_plan() {
  static const CapturePlan p("X-Real-Ip", {"X-Api-Key", "Cookie"}, true);
  return p;
}

// Both readings agree under both plans and two header limits (one for the mutations: they are
// many); returns the requests scanned.
int expect_same(const std::string& in, bool small_limit_too = true) {
  int scanned = 0;
  for (const CapturePlan* p : {&plan(), &body_plan()}) {
    for (const std::uint32_t limit : {8192u, 64u}) {
      if (limit == 64 && !small_limit_too) continue;
      const auto fast = read_requests(in, *p, true, limit);
      const auto beast = read_requests(in, *p, false, limit);
      EXPECT_EQ(fast.record, beast.record) << "input: " << ::testing::PrintToString(in);
      if (p == &plan() && limit == 8192) scanned = fast.scanned;
    }
  }
  return scanned;
}

TEST(HeadScanner, TakesTheRequestsTraefikSendsWithTheSameValuesAsBeast) {
  EXPECT_EQ(expect_same(kTraefik), 1);
  EXPECT_EQ(expect_same(with("Connection: close")), 1);
  EXPECT_EQ(expect_same(with("Connection: Keep-Alive")), 1);
  std::string http10 = kTraefik;
  http10.replace(http10.find("HTTP/1.1"), 8, "HTTP/1.0");
  EXPECT_EQ(expect_same(http10), 1);  // closes: no keep-alive asked
  EXPECT_EQ(expect_same(http10.substr(0, http10.size() - 2) + "Connection: keep-alive\r\n\r\n"), 1);
  EXPECT_EQ(expect_same(kTraefik + kTraefik + kTraefik), 3);                // pipelined
  EXPECT_EQ(expect_same(with("x-forwarded-host: other.example.test")), 1);  // a duplicate
  EXPECT_EQ(expect_same(with("X-Forwarded-For: 192.0.2.1")), 1);            // joined with ","
  EXPECT_EQ(expect_same(with("X-Note:   spaced value \t ")), 1);            // trimmed
  EXPECT_EQ(expect_same(with("X-Empty:")), 1);
  EXPECT_EQ(expect_same(with("X-Note: caf\xc3\xa9")), 1);  // obs-text
}

TEST(HeadScanner, LeavesToBeastWhatItDoesNotReadItself) {
  const std::vector<std::string> declined = {
      with("Content-Length: 0"),
      with("Content-Length: 3") + "abc",
      with("Transfer-Encoding: chunked") + "3\r\nabc\r\n0\r\n\r\n",
      with("Upgrade: websocket\r\nConnection: upgrade"),
      with("Connection: keep-alive, close"),
      with("Proxy-Connection: close"),
      with("X-Forwarded-Proto: https\r\n  folded"),
      kTraefik.substr(0, kTraefik.size() - 1),  // not complete yet
  };
  for (const auto& in : declined) EXPECT_EQ(expect_same(in), 0) << in;
}

// The malformed and smuggling cases of tests/server (AbsurdInputIsRefusedAndNeverStopsTheServer,
// the body tests), plus line-ending and character edge cases.
TEST(HeadScanner, MalformedAndSmugglingCasesGetBeastsAnswer) {
  const std::vector<std::string> cases = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
      with("NoColonHere"),
      with(std::string("X-Forwarded-Proto: ht\0tp", 24)),
      with("Content-Length: 99999999999999999999999"),
      with("Content-Length: -5"),
      with("Content-Length: 1\r\nContent-Length: 2") + "ab",
      with("Content-Length: 5\r\nTransfer-Encoding: chunked") + "0\r\n\r\n",
      with("Transfer-Encoding: chunked\r\nContent-Length: 5") + "0\r\n\r\n",
      with("Transfer-Encoding: gzip"),
      with("Transfer-Encoding: gzip, chunked") + "0\r\n\r\n",
      with("Transfer-Encoding: chunked, gzip"),
      with("Transfer-Encoding: chunked") + "zz\r\n",
      with("Transfer-Encoding: chunked") + "5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
      with("Content-Length: 10000000"),
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      "GET / HTTP/3.0\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",
      "GET /\r\n\r\n",
      "\r\nGET / HTTP/1.1\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 \r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "G\x7fT / HTTP/1.1\r\n\r\n",
      "GET /a\x01z HTTP/1.1\r\n\r\n",
      "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
      std::string(300, 'P') + " / HTTP/1.1\r\n\r\n",
      with("X-Note : spaced name"),
      with(": no name"),
      with("X(Note): bad name"),
      with("X-Note: a\x7f"),
      with("X-Note: a\rb"),
      kTraefik.substr(0, 40) + "\n" + kTraefik.substr(42),  // a bare LF
      "GET / HTTP/1.1\r\nHost: x\r\n\n",
      "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
  };
  for (const auto& in : cases) expect_same(in);
}

TEST(HeadScanner, EveryForwardAuthFuzzSeedGetsBeastsAnswer) {
  namespace fs = std::filesystem;
  int files = 0;
  for (const char* target : {"forward_auth", "forward_auth_scanner"}) {
    const fs::path dir = fs::path(EDGEGUARD_SOURCE_DIR) / "tests/fuzz/corpus" / target;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(entry.path().string());
      expect_same(bytes);
      ++files;
    }
  }
  EXPECT_GT(files, 20);
}

// Header limits around the head's own length: the scan takes a head only within the limit.
TEST(HeadScanner, HeaderLimitsAroundTheHeadLengthGetBeastsAnswer) {
  for (std::uint32_t limit = static_cast<std::uint32_t>(kTraefik.size()) - 70;
       limit < kTraefik.size() + 4; ++limit) {
    for (const CapturePlan* p : {&plan(), &body_plan()}) {
      const auto fast = read_requests(kTraefik, *p, true, limit);
      const auto beast = read_requests(kTraefik, *p, false, limit);
      EXPECT_EQ(fast.record, beast.record) << "limit " << limit;
    }
  }
}

// Every byte position of a Traefik request replaced by the bytes that matter to a parser, and
// pairs of positions with random bytes (a fixed PRNG, so a failure repeats).
TEST(HeadScanner, MutatedRequestsGetBeastsAnswer) {
  const std::string interesting = std::string("\r\n \t:;,\"\x7f\x80\xff\x01", 13) + '\0' + "aZ0-";
  const std::string base = kTraefik + "GET / HTTP/1.1\r\nX-Forwarded-Uri: /b\r\n\r\n";
  int scanned = 0;
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (char c : interesting) {
      std::string m = base;
      m[i] = c;
      scanned += expect_same(m, false) > 0;
      m = base;
      m.insert(i, 1, c);
      expect_same(m, false);
    }
  }
  std::uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33);
  };
  for (int n = 0; n < 20000; ++n) {
    std::string m = base;
    m[next() % m.size()] = static_cast<char>(next() & 0xff);
    m[next() % m.size()] = interesting[next() % interesting.size()];
    expect_same(m, false);
  }
  EXPECT_GT(scanned, 1000);  // most single-byte changes leave a head the scan reads
}

}  // namespace
}  // namespace edgeguard
