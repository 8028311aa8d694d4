#include "guard/tailnet/node_directory.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>

#include "guard/tailnet/node_list_parser.h"
#include "tests/tailnet/test_util.h"

namespace edgeguard {
namespace {

using test::ip;
using test::read_fixture;

TailnetNode make_node(std::string id, std::string login, std::vector<std::string> tags,
                      std::vector<IpAddress> addresses) {
  TailnetNode n;
  n.id = std::move(id);
  n.login = std::move(login);
  n.tags = std::move(tags);
  n.addresses = std::move(addresses);
  return n;
}

struct Fixture {
  NodeListFormat format;
  const char* file;
  std::size_t nodes;
};
void PrintTo(const Fixture& f, std::ostream* os) {
  *os << f.file;
}

class DirectoryFromFixture : public ::testing::TestWithParam<Fixture> {};

// Every address of every node is found and maps back to that node; nothing else in the tailnet
// ranges is found.
TEST_P(DirectoryFromFixture, FindsEveryEnrolledAddressAndNothingElse) {
  const NodeListParse p = parse_node_list(GetParam().format, read_fixture(GetParam().file));
  ASSERT_TRUE(p.ok()) << p.error;
  const std::vector<TailnetNode> nodes = p.nodes;
  const NodeDirectory dir(p.nodes);
  EXPECT_EQ(dir.size(), GetParam().nodes);
  std::size_t addresses = 0;
  for (const TailnetNode& n : nodes) {
    for (const IpAddress& a : n.addresses) {
      ++addresses;
      const TailnetNode* found = dir.find(a);
      ASSERT_NE(found, nullptr) << a.to_string();
      EXPECT_EQ(found->id, n.id);
      EXPECT_EQ(found->addresses, n.addresses);
    }
  }
  EXPECT_EQ(dir.address_count(), addresses);
  for (const char* miss :
       {"100.64.0.0", "100.64.0.4", "100.64.0.6", "100.77.7.7", "100.88.1.3", "100.127.255.255",
        "100.101.102.2", "fd7a:115c:a1e0::8", "fd7a:115c:a1e0::77",
        "fd7a:115c:a1e0:ab12:4843:cd96:6240:6", "1.1.1.1", "::", "::ffff:0.0.0.0"}) {
    bool enrolled = false;
    for (const TailnetNode& n : nodes) {
      for (const IpAddress& a : n.addresses) enrolled |= a == ip(miss);
    }
    if (!enrolled) {
      EXPECT_EQ(dir.find(ip(miss)), nullptr) << miss;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DirectoryFromFixture,
    ::testing::Values(Fixture{NodeListFormat::tailscale_status, "tailscale_status.json", 4},
                      Fixture{NodeListFormat::tailscale_api, "tailscale_api.json", 3},
                      Fixture{NodeListFormat::headscale, "headscale_nodes.json", 3},
                      Fixture{NodeListFormat::list, "nodes.list", 5}));

TEST(NodeDirectory, EmptyFindsNothing) {
  const NodeDirectory dir;
  EXPECT_EQ(dir.size(), 0u);
  EXPECT_EQ(dir.find(ip("100.64.0.1")), nullptr);
}

TEST(NodeDirectory, MappedV4FormFindsTheSameNode) {
  const NodeListParse p =
      parse_node_list(NodeListFormat::tailscale_status, read_fixture("tailscale_status.json"));
  ASSERT_TRUE(p.ok());
  const NodeDirectory dir(p.nodes);
  const TailnetNode* a = dir.find(ip("100.64.0.5"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(dir.find(ip("::ffff:100.64.0.5")), a);
  EXPECT_EQ(a->login, "alice@example.com");
}

TEST(NodeDirectory, TagsHeaderIsPrecomputed) {
  const NodeListParse p =
      parse_node_list(NodeListFormat::tailscale_status, read_fixture("tailscale_status.json"));
  ASSERT_TRUE(p.ok());
  const NodeDirectory dir(p.nodes);
  const DirectoryEntry* admin = dir.find_entry(ip("fd7a:115c:a1e0::9"));
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->tags_header, "tag:admin,tag:ops");
  const DirectoryEntry* alice = dir.find_entry(ip("100.64.0.5"));
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->tags_header, "");
  EXPECT_EQ(dir.find_entry(ip("100.101.102.1"))->tags_header, "tag:server");
}

TEST(NodeDirectory, DuplicateAddressKeepsTheFirstNode) {
  const TailnetNode a = make_node("a", "", {}, {ip("100.64.0.1")});
  const TailnetNode b = make_node("b", "", {}, {ip("100.64.0.1"), ip("100.64.0.2")});
  const NodeDirectory dir({a, b});
  EXPECT_EQ(dir.find(ip("100.64.0.1"))->id, "a");
  EXPECT_EQ(dir.find(ip("100.64.0.2"))->id, "b");
}

TEST(NodeDirectory, ManyNodesAllFound) {
  std::vector<TailnetNode> nodes;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    TailnetNode n;
    n.id = std::to_string(i);
    n.addresses = {IpAddress::from_v4(0x64400000u + i * 3),
                   IpAddress::from_bits((u128{0xfd7a115ca1e0} << 80) | (i * 7 + 1))};
    nodes.push_back(std::move(n));
  }
  const NodeDirectory dir(nodes);
  for (std::uint32_t i = 0; i < 5000; ++i) {
    ASSERT_EQ(dir.find(IpAddress::from_v4(0x64400000u + i * 3))->id, std::to_string(i));
    ASSERT_EQ(dir.find(IpAddress::from_v4(0x64400000u + i * 3 + 1)), nullptr);
    ASSERT_EQ(dir.find(IpAddress::from_bits((u128{0xfd7a115ca1e0} << 80) | (i * 7 + 1)))->id,
              std::to_string(i));
  }
}

CidrSet ranges(std::initializer_list<const char*> cidrs) {
  CidrSet set;
  for (const char* c : cidrs) set.add(*Cidr::parse(c));
  set.finish();
  return set;
}

// tailnet.ranges narrows the list: an address outside is not a tailnet address, and a node
// left with none is not enrolled.
TEST(WithinRanges, DropsAddressesOutsideAndNodesLeftWithNone) {
  const auto all = std::make_shared<const NodeDirectory>(std::vector<TailnetNode>{
      make_node("in", "", {}, {ip("100.100.1.1"), ip("fd7a:115c:a1e0::1")}),
      make_node("half", "", {}, {ip("100.100.2.2"), ip("198.51.100.7")}),
      make_node("out", "", {}, {ip("203.0.113.9")}),
  });
  const auto narrowed = within_ranges(all, ranges({"100.64.0.0/10", "fd7a:115c:a1e0::/48"}));
  EXPECT_EQ(narrowed->size(), 2u);
  EXPECT_EQ(narrowed->address_count(), 3u);
  ASSERT_NE(narrowed->find(ip("100.100.1.1")), nullptr);
  EXPECT_EQ(narrowed->find(ip("fd7a:115c:a1e0::1"))->id, "in");
  EXPECT_EQ(narrowed->find(ip("100.100.2.2"))->id, "half");
  EXPECT_EQ(narrowed->find(ip("198.51.100.7")), nullptr);
  EXPECT_EQ(narrowed->find(ip("203.0.113.9")), nullptr);
  EXPECT_EQ(narrowed->find(ip("100.100.2.2"))->addresses,
            std::vector<IpAddress>{ip("100.100.2.2")});
  // The unnarrowed directory is untouched (it is shared with readers).
  EXPECT_EQ(all->find(ip("203.0.113.9"))->id, "out");
  // Narrower ranges enrol fewer nodes.
  EXPECT_EQ(within_ranges(all, ranges({"100.100.2.0/24"}))->size(), 1u);
}

TEST(WithinRanges, SharesTheDirectoryWhenEveryAddressIsInside) {
  const auto all = std::make_shared<const NodeDirectory>(std::vector<TailnetNode>{
      make_node("a", "", {}, {ip("100.100.1.1")}), make_node("b", "", {}, {ip("100.100.1.2")})});
  EXPECT_EQ(within_ranges(all, ranges({"100.64.0.0/10"})), all);
}

TEST(TailnetRule, TagsMatchAnyAndUsersMatchLogin) {
  const TailnetNode admin = make_node("1", "Bob@Example.com", {"tag:admin", "tag:ops"}, {});
  const TailnetNode plain = make_node("2", "alice@example.com", {}, {});
  const TailnetNode listed = make_node("3", "", {"tag:ops"}, {});  // plain list: no login
  const std::vector<std::string> want_tags = {"tag:admin", "tag:db"};
  const std::vector<std::string> want_users = {"alice@example.com", "bob@example.com"};

  EXPECT_TRUE(has_any_tag(admin, want_tags));
  EXPECT_FALSE(has_any_tag(plain, want_tags));
  EXPECT_FALSE(has_any_tag(listed, want_tags));
  EXPECT_FALSE(has_any_tag(admin, std::vector<std::string>{}));
  EXPECT_TRUE(has_tag(listed, "tag:ops"));
  EXPECT_FALSE(has_tag(listed, "tag:Ops"));  // tags are case-sensitive

  EXPECT_TRUE(login_in(admin, want_users));  // logins compare case-insensitively
  EXPECT_TRUE(login_in(plain, want_users));
  EXPECT_FALSE(login_in(listed, want_users));
  EXPECT_FALSE(login_in(plain, std::vector<std::string>{"alice@example.co"}));
  EXPECT_FALSE(login_in(listed, std::vector<std::string>{""}));
}

}  // namespace
}  // namespace edgeguard
