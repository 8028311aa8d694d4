#include "guard/crowdsec/decision_set.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace edgeguard {
namespace {

constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kT0 = 1'000 * kS;  // an arbitrary monotonic "now"
constexpr ScopeMask kAll = scope_bit(DecisionScope::ip) | scope_bit(DecisionScope::range) |
                           scope_bit(DecisionScope::country) | scope_bit(DecisionScope::as);

struct D {
  int id;
  std::string scope, value, duration = "1h", type = "ban", scenario = "s";
};

std::string json_of(const D& d) {
  return R"({"id":)" + std::to_string(d.id) + R"(,"scope":")" + d.scope + R"(","value":")" +
         d.value + R"(","duration":")" + d.duration + R"(","type":")" + d.type +
         R"(","scenario":")" + d.scenario + R"(","origin":"cscli"})";
}

std::string answer(const std::vector<D>& added, const std::vector<D>& deleted = {}) {
  auto list = [](const std::vector<D>& ds) {
    if (ds.empty()) return std::string("null");
    std::string out = "[";
    for (const D& d : ds) {
      if (out.size() > 1) out += ',';
      out += json_of(d);
    }
    return out + "]";
  };
  return R"({"new":)" + list(added) + R"(,"deleted":)" + list(deleted) + "}";
}

std::shared_ptr<const DecisionSet> apply(const DecisionSet& base, const std::string& body,
                                         bool startup, std::int64_t now = kT0) {
  StreamUpdate u;
  std::string error;
  EXPECT_TRUE(parse_decision_stream(body, kAll, u, &error)) << error;
  return DecisionSet::apply(base, u, startup, now);
}

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

// The id of the decision found for a client, or 0.
std::int64_t found(const DecisionSet& set, const char* address, std::int64_t now = kT0,
                   std::string_view country = "", std::uint32_t asn = 0) {
  const CrowdsecDecision* d = set.find(ip(address), country, asn, now);
  return d == nullptr ? 0 : d->id;
}

TEST(CrowdsecDecisionSet, EmptyFindsNothing) {
  const DecisionSet empty;
  EXPECT_EQ(found(empty, "192.0.2.1", kT0, "FR", 64496), 0);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(CrowdsecDecisionSet, MatchesAddressesRangesCountriesAndAses) {
  const DecisionSet empty;
  auto set = apply(empty,
                   answer({{1, "Ip", "192.0.2.1"},
                           {2, "Ip", "2001:db8::7"},
                           {3, "Range", "198.51.100.0/24"},
                           {4, "Range", "2001:db8:1::/48"},
                           {5, "Country", "FR"},
                           {6, "AS", "64496"}}),
                   true);
  ASSERT_EQ(set->size(), 6u);
  EXPECT_EQ(found(*set, "192.0.2.1"), 1);
  EXPECT_EQ(found(*set, "::ffff:192.0.2.1"), 1);  // the mapped form is the same address
  EXPECT_EQ(found(*set, "192.0.2.2"), 0);
  EXPECT_EQ(found(*set, "2001:db8::7"), 2);
  EXPECT_EQ(found(*set, "2001:db8::8"), 0);
  EXPECT_EQ(found(*set, "198.51.100.0"), 3);
  EXPECT_EQ(found(*set, "198.51.100.255"), 3);
  EXPECT_EQ(found(*set, "198.51.101.0"), 0);
  EXPECT_EQ(found(*set, "198.51.99.255"), 0);
  EXPECT_EQ(found(*set, "2001:db8:1:ffff::1"), 4);
  EXPECT_EQ(found(*set, "2001:db8:2::1"), 0);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0, "FR"), 5);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0, "fr"), 5);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0, "DE"), 0);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0, "", 64496), 6);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0, "", 64497), 0);

  const CrowdsecDecision* d = set->find(ip("198.51.100.77"), "", 0, kT0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->scope, DecisionScope::range);
  EXPECT_EQ(d->value_text(), "198.51.100.0/24");
  EXPECT_EQ(d->scenario(), "s");
  EXPECT_EQ(d->origin(), "cscli");
  EXPECT_EQ(d->type_name(), "ban");
  EXPECT_EQ(d->until_ns, kT0 + 3600 * kS);
  EXPECT_EQ(set->find(ip("1.1.1.1"), "FR", 0, kT0)->value_text(), "FR");
  EXPECT_EQ(set->find(ip("1.1.1.1"), "", 64496, kT0)->value_text(), "64496");
}

TEST(CrowdsecDecisionSet, AnIpv6RangeNeverCoversIpv4Clients) {
  const DecisionSet empty;
  // ::/0 spans the v4-mapped block edgeguard stores IPv4 in; LAPI means IPv6 clients only.
  auto set = apply(empty, answer({{1, "Range", "::/0"}, {2, "Range", "0.0.0.0/1"}}), true);
  EXPECT_EQ(found(*set, "2001:db8::1"), 1);
  EXPECT_EQ(found(*set, "10.0.0.1"), 2);
  EXPECT_EQ(found(*set, "192.0.2.1"), 0);
}

TEST(CrowdsecDecisionSet, ExpiryIsHonouredBetweenPulls) {
  const DecisionSet empty;
  auto set = apply(empty,
                   answer({{1, "Ip", "192.0.2.1", "10s"},
                           {2, "Range", "198.51.100.0/24", "20s"},
                           {3, "Country", "FR", "30s"}}),
                   true);
  EXPECT_EQ(found(*set, "192.0.2.1", kT0 + 10 * kS - 1), 1);
  EXPECT_EQ(found(*set, "192.0.2.1", kT0 + 10 * kS), 0);
  EXPECT_EQ(found(*set, "198.51.100.1", kT0 + 20 * kS - 1), 2);
  EXPECT_EQ(found(*set, "198.51.100.1", kT0 + 20 * kS), 0);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0 + 30 * kS - 1, "FR"), 3);
  EXPECT_EQ(found(*set, "203.0.113.1", kT0 + 30 * kS, "FR"), 0);
  EXPECT_EQ(set->next_expiry_ns(), kT0 + 10 * kS);

  auto purged = DecisionSet::without_expired(*set, kT0 + 25 * kS);
  EXPECT_EQ(purged->size(), 1u);
  EXPECT_EQ(found(*purged, "203.0.113.1", kT0 + 25 * kS, "FR"), 3);
}

TEST(CrowdsecDecisionSet, ABanOutranksACaptchaAndALongerOneOutlivesAShorter) {
  const DecisionSet empty;
  auto set = apply(empty,
                   answer({{1, "Range", "10.0.0.0/8", "1h", "captcha"},
                           {2, "Range", "10.1.0.0/16", "10s", "ban"},
                           {3, "Range", "10.1.2.0/24", "20s", "ban"},
                           {4, "Ip", "10.1.2.3", "5s", "captcha"},
                           {5, "Country", "FR", "30s", "ban"},
                           {6, "Ip", "10.50.0.1", "1h", "throttle"},
                           {7, "Range", "10.50.0.0/16", "1h", "ban"}}),
                   true);
  // 10.1.2.3: captcha on the address, bans on two ranges (20 s wins), a captcha on the /8.
  EXPECT_EQ(found(*set, "10.1.2.3", kT0), 3);
  EXPECT_EQ(found(*set, "10.1.2.3", kT0 + 19 * kS), 3);
  EXPECT_EQ(found(*set, "10.1.2.3", kT0 + 20 * kS), 1);  // bans over: the /8's captcha
  EXPECT_EQ(found(*set, "10.1.3.3", kT0 + 9 * kS), 2);
  EXPECT_EQ(found(*set, "10.1.3.3", kT0 + 10 * kS), 1);
  EXPECT_EQ(found(*set, "10.9.9.9", kT0), 1);
  // A captcha on the address does not hide a ban on the country.
  EXPECT_EQ(found(*set, "10.200.0.1", kT0, "FR"), 5);
  EXPECT_EQ(set->find(ip("10.9.9.9"), "", 0, kT0)->type, DecisionType::captcha);
  // A custom type on the address does not hide a ban on its range either.
  EXPECT_EQ(found(*set, "10.50.0.1", kT0), 7);
  EXPECT_EQ(found(*set, "10.50.0.1", kT0 + 3600 * kS - 1), 7);
}

TEST(CrowdsecDecisionSet, SeveralDecisionsOnOneAddressExpireOneByOne) {
  const DecisionSet empty;
  auto set = apply(empty,
                   answer({{1, "Ip", "192.0.2.1", "10s", "ban"},
                           {2, "Ip", "192.0.2.1", "30s", "ban"},
                           {3, "Ip", "192.0.2.1", "60s", "captcha"},
                           {4, "Ip", "192.0.2.1", "20s", "throttle"}}),
                   true);
  EXPECT_EQ(found(*set, "192.0.2.1", kT0), 2);
  EXPECT_EQ(found(*set, "192.0.2.1", kT0 + 30 * kS), 3);  // both bans and the throttle over
  EXPECT_EQ(found(*set, "192.0.2.1", kT0 + 15 * kS), 2);
  EXPECT_EQ(found(*set, "192.0.2.1", kT0 + 60 * kS), 0);
}

TEST(CrowdsecDecisionSet, DeltasAddDeleteAndReplaceIdempotently) {
  const DecisionSet empty;
  auto s1 = apply(empty, answer({{1, "Ip", "192.0.2.1"}, {2, "Range", "198.51.100.0/24"}}), true);
  // A delta: one new decision, one deletion, one deletion of something never seen.
  auto s2 = apply(*s1,
                  answer({{3, "Ip", "192.0.2.3"}},
                         {{2, "Range", "198.51.100.0/24"}, {99, "Ip", "203.0.113.99"}}),
                  false);
  EXPECT_EQ(s2->size(), 2u);
  EXPECT_EQ(found(*s2, "192.0.2.1"), 1);
  EXPECT_EQ(found(*s2, "192.0.2.3"), 3);
  EXPECT_EQ(found(*s2, "198.51.100.1"), 0);
  // The same deletion again (LAPI sends expired decisions in `deleted` more than once).
  auto s3 = apply(*s2, answer({}, {{2, "Range", "198.51.100.0/24"}}), false);
  EXPECT_EQ(s3->size(), 2u);
  // The same new decision again replaces it rather than doubling it.
  auto s4 = apply(*s3, answer({{3, "Ip", "192.0.2.3", "2h"}}), false);
  EXPECT_EQ(s4->size(), 2u);
  EXPECT_EQ(s4->find(ip("192.0.2.3"), "", 0, kT0)->until_ns, kT0 + 7200 * kS);
  // A startup answer replaces everything.
  auto s5 = apply(*s4, answer({{7, "Ip", "192.0.2.7"}}), true);
  EXPECT_EQ(s5->size(), 1u);
  EXPECT_EQ(found(*s5, "192.0.2.1"), 0);
  EXPECT_EQ(found(*s5, "192.0.2.7"), 7);
  // The older sets are untouched (request threads may still hold them).
  EXPECT_EQ(found(*s1, "198.51.100.1"), 2);
}

TEST(CrowdsecDecisionSet, NewDecisionsAlreadyOverAreLeftOut) {
  const DecisionSet empty;
  auto set =
      apply(empty, answer({{1, "Ip", "192.0.2.1", "-1.5s"}, {2, "Ip", "192.0.2.2", "0"}}), true);
  EXPECT_EQ(set->size(), 0u);
}

TEST(CrowdsecDecisionSet, SharesStringsAndKeepsThemAliveAcrossSets) {
  const DecisionSet empty;
  std::vector<D> many;
  for (int i = 1; i <= 1000; ++i) {
    many.push_back({i, "Ip", "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256),
                    "1h", "ban", "crowdsecurity/http-probing"});
  }
  auto s1 = apply(empty, answer(many), true);
  auto s2 = apply(*s1, answer({}, {{1, "Ip", "10.0.0.1"}}), false);
  const CrowdsecDecision* a = s1->find(ip("10.0.0.2"), "", 0, kT0);
  const CrowdsecDecision* b = s2->find(ip("10.0.0.2"), "", 0, kT0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->text, b->text);  // one copy of the strings for all of them
  s1.reset();                   // the old set goes; the new one still reads its strings
  EXPECT_EQ(b->scenario(), "crowdsecurity/http-probing");
  EXPECT_LT(s2->memory_bytes(), 1000u * 120u);
}

// Over 1 024 IPv4 pieces the set indexes them by /16: a key whose /16 has pieces starting only
// after it belongs to the piece before them, which started in an earlier /16.
TEST(CrowdsecDecisionSet, IndexedRangesMatchAcrossTheirSixteenBuckets) {
  const DecisionSet empty;
  std::vector<D> ds = {{1, "Range", "10.0.0.0/15", "1h", "captcha"},
                       {2, "Range", "10.1.128.0/24", "1h", "ban"},
                       {3, "Range", "255.255.255.0/24", "1h", "ban"}};
  for (int i = 0; i < 600; ++i) {  // 1 200 pieces elsewhere
    ds.push_back({10 + i, "Range",
                  "192.168." + std::to_string(i % 256) + "." + std::to_string(i / 256 * 64) + "/27",
                  "1h", "ban"});
  }
  auto set = apply(empty, answer(ds), true);
  EXPECT_EQ(found(*set, "10.0.0.1"), 1);
  EXPECT_EQ(found(*set, "10.1.0.5"), 1);  // /16 10.1 has pieces, all starting after this key
  EXPECT_EQ(found(*set, "10.1.127.255"), 1);
  EXPECT_EQ(found(*set, "10.1.128.0"), 2);
  EXPECT_EQ(found(*set, "10.1.128.255"), 2);
  EXPECT_EQ(found(*set, "10.1.129.0"), 1);
  EXPECT_EQ(found(*set, "10.1.255.255"), 1);
  EXPECT_EQ(found(*set, "10.2.0.0"), 0);
  EXPECT_EQ(found(*set, "9.255.255.255"), 0);
  EXPECT_EQ(found(*set, "0.0.0.0"), 0);
  EXPECT_EQ(found(*set, "255.255.255.255"), 3);
  EXPECT_EQ(found(*set, "255.255.254.255"), 0);
  EXPECT_EQ(found(*set, "192.168.5.1"), 15);
  EXPECT_EQ(found(*set, "192.168.5.32"), 0);
}

// Against a plain list: random addresses, nested and overlapping ranges (IPv4 ones across 16
// /16s, so the IPv4 bucket index is built and ranges span its buckets), random expiries.
TEST(CrowdsecDecisionSet, AgreesWithALinearScan) {
  std::mt19937_64 rng(7);
  const DecisionSet empty;
  std::vector<D> ds;
  struct Ref {
    bool range;
    Cidr net;
    std::int64_t until;
    DecisionType type;
  };
  std::vector<Ref> refs;
  for (int i = 1; i <= 3000; ++i) {
    const bool v6 = rng() % 4 == 0;
    const bool range = rng() % 2 == 0;
    const int width = v6 ? 128 : 32;
    const int prefix = range ? static_cast<int>(rng() % (v6 ? 64 : 24)) + (v6 ? 48 : 8) : width;
    IpAddress a =
        v6 ? IpAddress::from_bits((u128{0x20010db8} << 96) | (u128{rng() % 64} << 80) | (rng() % 4))
           : IpAddress::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 20)));
    a = a.masked(prefix);
    const int seconds = static_cast<int>(rng() % 100) + 1;
    const bool captcha = rng() % 3 == 0;
    std::string value = a.to_string();
    if (range) value.append("/").append(std::to_string(prefix));
    ds.push_back({i, range ? "Range" : "Ip", value, std::to_string(seconds) + "s",
                  captcha ? "captcha" : "ban"});
    refs.push_back({range, Cidr{a, prefix}, kT0 + seconds * kS,
                    captcha ? DecisionType::captcha : DecisionType::ban});
  }
  auto set = apply(empty, answer(ds), true);
  for (int probe = 0; probe < 5000; ++probe) {
    const bool v6 = rng() % 4 == 0;
    const IpAddress a =
        v6 ? IpAddress::from_bits((u128{0x20010db8} << 96) | (u128{rng() % 64} << 80) | (rng() % 4))
           : IpAddress::from_v4(0x0a000000u | static_cast<std::uint32_t>(rng() % (1u << 20)));
    const std::int64_t now = kT0 + static_cast<std::int64_t>(rng() % 110) * kS;
    // The expected type: the best active one covering `a`.
    int best = 3;
    for (const Ref& r : refs) {
      if (now >= r.until) continue;
      if (a.is_v4() != r.net.address.is_v4() || !r.net.contains(a)) continue;
      best = std::min(best, static_cast<int>(r.type));
    }
    const CrowdsecDecision* d = set->find(a, "", 0, now);
    ASSERT_EQ(d == nullptr ? 3 : static_cast<int>(d->type), best)
        << a.to_string() << " at +" << (now - kT0) / kS << "s";
    if (d != nullptr) {
      EXPECT_TRUE(d->active(now));
    }
  }
}

}  // namespace
}  // namespace edgeguard
