#include "guard/tailnet/node_list_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <random>
#include <vector>

#include "tests/tailnet/test_util.h"

namespace edgeguard {
namespace {

using test::ip;
using test::read_fixture;
using Strings = std::vector<std::string>;
using Ips = std::vector<IpAddress>;

const TailnetNode* by_id(const std::vector<TailnetNode>& nodes, const std::string& id) {
  for (const TailnetNode& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

TEST(NodeListFormat, NamesRoundTripAndUnknownIsRefused) {
  for (const char* name : {"tailscale-status", "tailscale-api", "headscale", "list"}) {
    const auto format = parse_node_list_format(name);
    ASSERT_TRUE(format.has_value()) << name;
    EXPECT_EQ(node_list_format_name(*format), name);
  }
  for (const char* bad : {"", "tailscale", "Tailscale-Status", "headscale ", "json"}) {
    EXPECT_FALSE(parse_node_list_format(bad).has_value()) << bad;
  }
}

TEST(NodeListParser, TailscaleStatusFieldByField) {
  const NodeListParse p =
      parse_node_list(NodeListFormat::tailscale_status, read_fixture("tailscale_status.json"));
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 4u);  // Self + 3 peers

  const TailnetNode* self = by_id(p.nodes, "nGw7Sx3CNTRL");
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->name, "edge-gw.tail4f2c1.ts.net");
  EXPECT_EQ(self->login, "tagged-devices");
  EXPECT_EQ(self->tags, Strings{"tag:server"});
  EXPECT_EQ(self->addresses, (Ips{ip("100.101.102.1"), ip("fd7a:115c:a1e0::1")}));

  const TailnetNode* alice = by_id(p.nodes, "nAl1ce7CNTRL");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice-macbook.tail4f2c1.ts.net");  // DNSName, trailing dot dropped
  EXPECT_EQ(alice->login, "alice@example.com");
  EXPECT_EQ(alice->user, "Alice Byrne");
  EXPECT_TRUE(alice->tags.empty());
  EXPECT_EQ(alice->addresses, (Ips{ip("100.64.0.5"), ip("fd7a:115c:a1e0:ab12:4843:cd96:6240:5")}));

  const TailnetNode* admin = by_id(p.nodes, "nAdm1n9CNTRL");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name, "admin-box.tail4f2c1.ts.net");
  EXPECT_EQ(admin->login, "bob@example.com");
  EXPECT_EQ(admin->user, "Bob Quinn");
  EXPECT_EQ(admin->tags, (Strings{"tag:admin", "tag:ops"}));
  EXPECT_EQ(admin->addresses, (Ips{ip("100.64.0.9"), ip("fd7a:115c:a1e0::9")}));

  const TailnetNode* phone = by_id(p.nodes, "nB0bPh0CNTRL");
  ASSERT_NE(phone, nullptr);
  EXPECT_EQ(phone->login, "bob@example.com");
  EXPECT_EQ(phone->addresses, (Ips{ip("100.88.1.2"), ip("fd7a:115c:a1e0::1:2")}));
}

TEST(NodeListParser, TailscaleStatusWithoutPeersOrUsers) {
  const NodeListParse p = parse_node_list(
      NodeListFormat::tailscale_status,
      R"({"Self":{"ID":"n1","HostName":"solo","DNSName":"","TailscaleIPs":["100.64.0.1"],)"
      R"("UserID":7},"Peer":null,"User":null})");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 1u);
  EXPECT_EQ(p.nodes[0].name, "solo");  // HostName when DNSName is empty
  EXPECT_EQ(p.nodes[0].login, "");     // owner not in the User map: still enrolled
}

TEST(NodeListParser, TailscaleStatusSkipsPeersWithExpiredKeys) {
  const NodeListParse p = parse_node_list(
      NodeListFormat::tailscale_status,
      R"({"Self":null,"User":null,"Peer":{)"
      R"("k1":{"ID":"n1","HostName":"live","TailscaleIPs":["100.64.0.1"],"Expired":false},)"
      R"("k2":{"ID":"n2","HostName":"stale","TailscaleIPs":["100.64.0.2"],"Expired":true}}})");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 1u);
  EXPECT_EQ(p.nodes[0].name, "live");
}

TEST(NodeListParser, TailscaleApiSkipsUnauthorizedDevices) {
  const NodeListParse p =
      parse_node_list(NodeListFormat::tailscale_api, read_fixture("tailscale_api.json"));
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 3u);
  EXPECT_EQ(by_id(p.nodes, "nPend1ngCNTRL"), nullptr);
  for (const TailnetNode& n : p.nodes) {
    for (const IpAddress& a : n.addresses) EXPECT_NE(a, ip("100.77.7.7"));
  }

  const TailnetNode* admin = by_id(p.nodes, "nAdm1n9CNTRL");  // nodeId preferred over id
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name, "admin-box.tail4f2c1.ts.net");
  EXPECT_EQ(admin->login, "bob@example.com");
  EXPECT_EQ(admin->user, "bob@example.com");  // the API has no display name
  EXPECT_EQ(admin->tags, (Strings{"tag:admin", "tag:ops"}));
  EXPECT_EQ(admin->addresses, (Ips{ip("100.64.0.9"), ip("fd7a:115c:a1e0::9")}));

  const TailnetNode* alice = by_id(p.nodes, "nAl1ce7CNTRL");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->login, "alice@example.com");
  EXPECT_TRUE(alice->tags.empty());
}

TEST(NodeListParser, TailscaleApiFallsBackToLegacyIdAndHostname) {
  const NodeListParse p = parse_node_list(
      NodeListFormat::tailscale_api,
      R"({"devices":[{"id":"123","hostname":"box","addresses":["100.64.1.1"],"authorized":true},)"
      R"({"id":"124","addresses":["100.64.1.2"]}]})");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 1u);  // no "authorized": not enrolled
  EXPECT_EQ(p.nodes[0].id, "123");
  EXPECT_EQ(p.nodes[0].name, "box");
}

TEST(NodeListParser, HeadscaleUnionOfForcedAndValidTags) {
  const NodeListParse p =
      parse_node_list(NodeListFormat::headscale, read_fixture("headscale_nodes.json"));
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 3u);

  const TailnetNode* alice = by_id(p.nodes, "1");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice-laptop");  // given_name over name
  EXPECT_EQ(alice->login, "alice@example.com");
  EXPECT_EQ(alice->user, "Alice Byrne");
  EXPECT_TRUE(alice->tags.empty());
  EXPECT_EQ(alice->addresses, (Ips{ip("100.64.0.1"), ip("fd7a:115c:a1e0::1")}));

  const TailnetNode* admin = by_id(p.nodes, "2");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name, "admin-box");
  EXPECT_EQ(admin->login, "ops");  // no email: the user name
  EXPECT_EQ(admin->user, "ops");
  EXPECT_EQ(admin->tags, (Strings{"tag:admin", "tag:ops"}));  // invalid_tags are not tags

  const TailnetNode* bob = by_id(p.nodes, "3");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->tags, (Strings{"tag:ops", "tag:mobile"}));  // no duplicate tag:ops
  EXPECT_EQ(bob->addresses, (Ips{ip("100.64.0.3"), ip("fd7a:115c:a1e0::3")}));
}

TEST(NodeListParser, HeadscaleObjectFormAndStringIds) {
  const NodeListParse p = parse_node_list(
      NodeListFormat::headscale,
      R"({"nodes":[{"id":"18446744073709551615","name":"n","ip_addresses":["100.64.9.9"],)"
      R"("user":{"name":"u"}}]})");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 1u);
  EXPECT_EQ(p.nodes[0].id, "18446744073709551615");
  EXPECT_EQ(p.nodes[0].name, "n");
  EXPECT_EQ(p.nodes[0].login, "u");
}

TEST(NodeListParser, ListLinesWithTagsAndComments) {
  const NodeListParse p = parse_node_list(NodeListFormat::list, read_fixture("nodes.list"));
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 5u);
  EXPECT_EQ(p.nodes[0].addresses, Ips{ip("100.64.0.5")});
  EXPECT_EQ(p.nodes[0].tags, (Strings{"tag:admin", "tag:ops"}));
  EXPECT_EQ(p.nodes[1].addresses, Ips{ip("100.64.0.9")});
  EXPECT_EQ(p.nodes[1].tags, Strings{"tag:ops"});
  EXPECT_EQ(p.nodes[2].addresses, Ips{ip("fd7a:115c:a1e0::5")});
  EXPECT_EQ(p.nodes[3].addresses, Ips{ip("100.88.1.2")});
  EXPECT_TRUE(p.nodes[3].tags.empty());
  EXPECT_EQ(p.nodes[4].addresses, Ips{ip("fd7a:115c:a1e0::1:2")});
  for (const TailnetNode& n : p.nodes) EXPECT_TRUE(n.login.empty());
}

TEST(NodeListParser, ListAcceptsCrLfAndEmptyInput) {
  const NodeListParse crlf =
      parse_node_list(NodeListFormat::list, "100.64.0.1\r\n100.64.0.2 tag:x\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.error;
  ASSERT_EQ(crlf.nodes.size(), 2u);
  EXPECT_EQ(crlf.nodes[1].tags, Strings{"tag:x"});
  const NodeListParse empty = parse_node_list(NodeListFormat::list, "");
  EXPECT_TRUE(empty.ok());
  EXPECT_TRUE(empty.nodes.empty());
}

TEST(NodeListParser, ControlBytesNeverReachHeaderFields) {
  const NodeListParse p = parse_node_list(
      NodeListFormat::tailscale_api,
      R"({"devices":[{"nodeId":"n\r\nX-Evil: 1","name":"a\nb","user":"e\u0000vil@x",)"
      R"("addresses":["100.64.0.1"],"authorized":true}]})");
  ASSERT_TRUE(p.ok()) << p.error;
  ASSERT_EQ(p.nodes.size(), 1u);
  for (const std::string* s : {&p.nodes[0].id, &p.nodes[0].name, &p.nodes[0].login}) {
    for (char c : *s) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << *s;
  }
  EXPECT_EQ(p.nodes[0].id, "n??X-Evil: 1");
}

struct Malformed {
  NodeListFormat format;
  const char* text;
  const char* error_has;  // the error must name where
};

// Short, stable ctest names: the format, not the bytes of the struct.
void PrintTo(const Malformed& m, std::ostream* os) {
  *os << node_list_format_name(m.format);
}

class NodeListMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(NodeListMalformed, IsAnErrorThatSaysWhere) {
  const Malformed& m = GetParam();
  const NodeListParse p = parse_node_list(m.format, m.text);
  EXPECT_FALSE(p.ok()) << m.text;
  EXPECT_TRUE(p.nodes.empty());
  EXPECT_NE(p.error.find(m.error_has), std::string::npos)
      << "error: " << p.error << "\nwanted: " << m.error_has;
}

constexpr auto kStatus = NodeListFormat::tailscale_status;
constexpr auto kApi = NodeListFormat::tailscale_api;
constexpr auto kHead = NodeListFormat::headscale;
constexpr auto kList = NodeListFormat::list;

INSTANTIATE_TEST_SUITE_P(
    AllFormats, NodeListMalformed,
    ::testing::Values(
        Malformed{kStatus, "", "not valid JSON"},
        Malformed{kStatus, "{\"Self\":", "not valid JSON"},
        Malformed{kStatus, "[]", "(top level): expected an object"},
        Malformed{kStatus, R"({"Peer":[]})", "Peer: expected an object"},
        Malformed{kStatus, R"({"Peer":{"k":{"TailscaleIPs":["100.64.0.300"]}}})",
                  "Peer[\"k\"].TailscaleIPs[0]: \"100.64.0.300\" is not an IP address"},
        Malformed{kStatus, R"({"Self":{"TailscaleIPs":"100.64.0.1"}})",
                  "Self.TailscaleIPs: expected an array"},
        Malformed{kStatus, R"({"Self":{"TailscaleIPs":[1]}})",
                  "Self.TailscaleIPs[0]: expected a string"},
        Malformed{kStatus, R"({"Self":{"Tags":["admin"]}})",
                  "Self.Tags[0]: \"admin\" is not a tag"},
        Malformed{kStatus, R"({"Self":{"UserID":"1"}})", "Self.UserID: expected an integer"},
        Malformed{kStatus, R"({"Self":{"UserID":1},"User":{"1":{"LoginName":5}}})",
                  "User[\"1\"].LoginName: expected a string"},
        Malformed{kStatus, R"({"Self":{"DNSName":true}})", "Self.DNSName: expected a string"},
        Malformed{kStatus,
                  R"({"Self":{"ID":"a","TailscaleIPs":["100.64.0.1"]},)"
                  R"("Peer":{"k":{"ID":"b","TailscaleIPs":["100.64.0.1"]}}})",
                  "address 100.64.0.1 is claimed by"},
        Malformed{kApi, "nope", "not valid JSON"}, Malformed{kApi, "{}", "devices: missing"},
        Malformed{kApi, R"({"devices":{}})", "devices: expected an array"},
        Malformed{kApi, R"({"devices":[7]})", "devices[0]: expected an object"},
        Malformed{kApi, R"({"devices":[{"addresses":["100.64.0.1/32"],"authorized":true}]})",
                  "devices[0].addresses[0]: \"100.64.0.1/32\" is not an IP address"},
        Malformed{kApi, R"({"devices":[{"authorized":"yes"}]})",
                  "devices[0].authorized: expected a boolean"},
        Malformed{kApi, R"({"devices":[{"authorized":true},{"user":["x"],"authorized":false}]})",
                  "devices[1].user: expected a string"},
        Malformed{kApi, R"({"devices":[{"id":1.5,"authorized":true}]})",
                  "devices[0].id: expected a string or an integer"},
        Malformed{kApi, R"({"devices":[{"tags":["tag:a,b"],"authorized":true}]})",
                  "devices[0].tags[0]"},
        Malformed{kHead, "{", "not valid JSON"},
        Malformed{kHead, "42", "(top level): expected an array or an object"},
        Malformed{kHead, R"({"machines":[]})", "nodes: missing"},
        Malformed{kHead, R"([{"ip_addresses":["fd7a:115c:a1e0::zz"]}])",
                  "[0].ip_addresses[0]: \"fd7a:115c:a1e0::zz\" is not an IP address"},
        Malformed{kHead, R"({"nodes":[{},{"forced_tags":[""]}]})",
                  "nodes[1].forced_tags[0]: \"\" is not a tag"},
        Malformed{kHead, R"([{"user":"alice"}])", "[0].user: expected an object"},
        Malformed{kHead, R"([{"user":{"email":{}}}])", "[0].user.email: expected a string"},
        Malformed{kHead, R"([{"id":-1.0}])", "[0].id: expected a string or an integer"},
        Malformed{kList, "100.64.0.1\nnot-an-ip tag:x\n",
                  "line 2: \"not-an-ip\" is not an IP address"},
        Malformed{kList, "# header\n\n100.64.0.1 admin\n", "line 3: \"admin\" is not a tag"},
        Malformed{kList, "100.64.0.0/10\n", "line 1: \"100.64.0.0/10\" is not an IP address"},
        Malformed{kList, "100.64.0.1\n100.64.0.1\n", "address 100.64.0.1 is claimed by"},
        Malformed{kList, "100.64.0.1 tag:\n", "line 1: \"tag:\" is not a tag"}));

TEST(NodeListParser, EmbeddedNulIsAnError) {
  const std::string list("100.64.0.1\n100.64.0.2\0x\n", 24);
  const NodeListParse p = parse_node_list(NodeListFormat::list, list);
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.error.find("line 2"), std::string::npos) << p.error;
  const NodeListParse j =
      parse_node_list(NodeListFormat::headscale, R"([{"ip_addresses":["100.64.0.2\u0000x"]}])");
  EXPECT_FALSE(j.ok());
  EXPECT_NE(j.error.find("[0].ip_addresses[0]"), std::string::npos) << j.error;
}

// Arbitrary bytes never crash and always give either nodes or an error (a fuzz target
// covers this more deeply; this is the bounded smoke version that runs in CI).
TEST(NodeListParser, SurvivesMutatedAndRandomInput) {
  const std::pair<NodeListFormat, std::string> seeds[] = {
      {kStatus, read_fixture("tailscale_status.json")},
      {kApi, read_fixture("tailscale_api.json")},
      {kHead, read_fixture("headscale_nodes.json")},
      {kList, read_fixture("nodes.list")},
  };
  std::mt19937 rng(20240611);
  int errors = 0;
  for (const auto& [format, seed] : seeds) {
    ASSERT_FALSE(seed.empty());
    for (int round = 0; round < 400; ++round) {
      std::string text = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % text.size();
        switch (rng() % 3) {
          case 0:
            text[at] = static_cast<char>(rng());
            break;
          case 1:
            text.erase(at, 1 + rng() % 16);
            break;
          default:
            text.resize(at + 1);
            break;
        }
        if (text.empty()) text.push_back('x');
      }
      for (NodeListFormat f : {kStatus, kApi, kHead, kList}) {
        const NodeListParse p = parse_node_list(f, text);
        if (!p.ok()) {
          ++errors;
          EXPECT_TRUE(p.nodes.empty());
        }
      }
    }
    (void)format;
  }
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  for (NodeListFormat f : {kStatus, kApi, kHead, kList}) {
    EXPECT_FALSE(parse_node_list(f, random).ok());
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace edgeguard
