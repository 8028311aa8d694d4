#include "guard/crowdsec/decision_set.h"

#include <algorithm>
#include <bit>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace edgeguard {
namespace {

// The memory figure in bench/README.md counts on it (100 000 decisions, 77 bytes each in all).
static_assert(sizeof(CrowdsecDecision) == 48);

constexpr std::uint32_t kEmpty = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
constexpr int kTypeCount = 3;
constexpr std::size_t kV4Buckets = 65536;          // one per /16
constexpr std::size_t kMinPiecesForBucket = 1024;  // below, a binary search is a few steps

std::uint64_t hash_address(u128 bits) {
  // splitmix64's finaliser over both halves: IPv4 keys differ only in the low 32 bits.
  std::uint64_t h = static_cast<std::uint64_t>(bits) ^
                    (static_cast<std::uint64_t>(bits >> 64) * 0x9e3779b97f4a7c15ULL);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

// The value a decision applies to, for sorting: address then prefix, or the packed target.
bool value_less(const CrowdsecDecision& a, const CrowdsecDecision& b) {
  if (a.scope != b.scope) return a.scope < b.scope;
  if (a.scope == DecisionScope::ip || a.scope == DecisionScope::range) {
    if (a.address != b.address) return a.address < b.address;
    return a.prefix < b.prefix;
  }
  return a.target < b.target;
}

// Precedence among decisions on the same value: ban, custom types, captcha; then the latest
// deadline first, so the first active one of a type is the one that lasts longest.
bool precedes(const CrowdsecDecision& a, const CrowdsecDecision& b) {
  if (a.type != b.type) return a.type < b.type;
  return a.until_ns > b.until_ns;
}

// The first active decision of a run sorted by precedence: the head of each type decides for
// the type (if it has expired, so have the rest of that type).
template <typename Same>
const CrowdsecDecision* first_active(const CrowdsecDecision* it, const CrowdsecDecision* end,
                                     Same same, std::int64_t now_ns) {
  while (it != end && same(*it)) {
    if (it->active(now_ns)) return it;
    const DecisionType type = it->type;
    while (it != end && same(*it) && it->type == type) ++it;
  }
  return nullptr;
}

// Strings shared by decisions: each set keeps those its decisions use, and a new set reuses the
// base set's copies.
class TextInterner {
 public:
  explicit TextInterner(const std::vector<std::shared_ptr<const DecisionText>>& base) {
    for (const auto& text : base) {
      owner_.emplace(text.get(), text);
      key_of(text->type, text->scenario, text->origin, key_);
      by_value_.emplace(key_, text);
    }
  }

  const DecisionText* keep(const DecisionText* text) {
    if (text != last_) used_.insert(text);
    last_ = text;
    return text;
  }

  const DecisionText* intern(std::string_view type, std::string_view scenario,
                             std::string_view origin) {
    key_of(type, scenario, origin, key_);  // reuses key_'s buffer: no allocation per decision
    auto it = by_value_.find(key_);
    if (it == by_value_.end()) {
      auto text = std::make_shared<const DecisionText>(
          DecisionText{std::string(type), std::string(scenario), std::string(origin)});
      owner_.emplace(text.get(), text);
      it = by_value_.emplace(key_, std::move(text)).first;
    }
    return keep(it->second.get());
  }

  std::vector<std::shared_ptr<const DecisionText>> take() {
    std::vector<std::shared_ptr<const DecisionText>> out;
    out.reserve(used_.size());
    for (const DecisionText* t : used_) out.push_back(owner_.at(t));
    return out;
  }

 private:
  static void key_of(std::string_view type, std::string_view scenario, std::string_view origin,
                     std::string& key) {
    key.clear();
    key.append(type).append(1, '\0').append(scenario).append(1, '\0').append(origin);
  }

  std::unordered_map<const DecisionText*, std::shared_ptr<const DecisionText>> owner_;
  std::unordered_map<std::string, std::shared_ptr<const DecisionText>> by_value_;
  std::unordered_set<const DecisionText*> used_;
  const DecisionText* last_ = nullptr;
  std::string key_;
};

template <typename Key>
Key range_first(const CrowdsecDecision& d) {
  if constexpr (sizeof(Key) == 4) {
    return d.address.v4();
  } else {
    return d.address.bits();
  }
}

template <typename Key>
Key range_last(const CrowdsecDecision& d) {
  constexpr int kWidth = sizeof(Key) == 4 ? 32 : 128;
  const int host_bits = kWidth - d.prefix;
  if (host_bits <= 0) return range_first<Key>(d);
  const Key low = host_bits >= kWidth ? ~Key{0} : (Key{1} << host_bits) - 1;
  return range_first<Key>(d) | low;
}

}  // namespace

std::string CrowdsecDecision::value_text() const {
  switch (scope) {
    case DecisionScope::ip:
      return address.to_string();
    case DecisionScope::range:
      return address.to_string() + "/" + std::to_string(prefix);
    case DecisionScope::country: {
      const auto c = country();
      return std::string(c.data(), c.size());
    }
    case DecisionScope::as:
      return std::to_string(target);
  }
  return {};
}

std::string_view decision_scope_name(DecisionScope scope) {
  switch (scope) {
    case DecisionScope::ip:
      return "Ip";
    case DecisionScope::range:
      return "Range";
    case DecisionScope::country:
      return "Country";
    case DecisionScope::as:
      return "AS";
  }
  return "";
}

std::shared_ptr<const DecisionSet> DecisionSet::apply(const DecisionSet& base,
                                                      const StreamUpdate& update, bool startup,
                                                      std::int64_t now_ns) {
  TextInterner texts(base.texts_);
  std::vector<CrowdsecDecision> out;
  if (!startup) {
    std::unordered_set<std::int64_t> replaced;
    replaced.reserve(update.deleted.size() + update.added.size());
    for (const StreamDecision& d : update.deleted) replaced.insert(d.key());
    for (const StreamDecision& d : update.added) replaced.insert(d.key());
    out.reserve(base.decisions_.size() + update.added.size());
    for (const CrowdsecDecision& d : base.decisions_) {
      if (!d.active(now_ns) || replaced.contains(d.id)) continue;
      out.push_back(d);
      texts.keep(d.text);
    }
  } else {
    out.reserve(update.added.size());
  }
  for (const StreamDecision& s : update.added) {
    if (s.duration_ns <= 0) continue;  // already over
    CrowdsecDecision d;
    d.address = s.address;
    d.prefix = s.prefix;
    d.target = s.target;
    d.scope = s.scope;
    d.type = s.type;
    d.id = s.key();
    d.until_ns = s.duration_ns > kNever - now_ns ? kNever : now_ns + s.duration_ns;
    d.text = texts.intern(s.type_name, s.scenario, s.origin);
    out.push_back(d);
  }
  return build(std::move(out), texts.take());
}

std::shared_ptr<const DecisionSet> DecisionSet::without_expired(const DecisionSet& base,
                                                                std::int64_t now_ns) {
  TextInterner texts(base.texts_);
  std::vector<CrowdsecDecision> out;
  out.reserve(base.decisions_.size());
  for (const CrowdsecDecision& d : base.decisions_) {
    if (!d.active(now_ns)) continue;
    out.push_back(d);
    texts.keep(d.text);
  }
  return build(std::move(out), texts.take());
}

std::shared_ptr<const DecisionSet> DecisionSet::build(
    std::vector<CrowdsecDecision> decisions,
    std::vector<std::shared_ptr<const DecisionText>> texts) {
  auto set = std::make_shared<DecisionSet>();
  std::sort(decisions.begin(), decisions.end(),
            [](const CrowdsecDecision& a, const CrowdsecDecision& b) {
              if (value_less(a, b)) return true;
              if (value_less(b, a)) return false;
              return precedes(a, b);
            });
  decisions.shrink_to_fit();
  set->decisions_ = std::move(decisions);
  set->texts_ = std::move(texts);
  const auto& ds = set->decisions_;
  for (int s = 0; s <= kDecisionScopeCount; ++s) {
    const auto at = std::find_if(ds.begin(), ds.end(), [s](const CrowdsecDecision& d) {
      return static_cast<int>(d.scope) >= s;
    });
    set->section_[s] = static_cast<std::uint32_t>(at - ds.begin());
  }
  for (const CrowdsecDecision& d : ds) {
    set->next_expiry_ns_ = std::min(set->next_expiry_ns_, d.until_ns);
  }
  set->index_addresses();
  set->index_ranges(set->v4_ranges_, true);
  set->index_ranges(set->v6_ranges_, false);
  return set;
}

void DecisionSet::index_addresses() {
  const std::uint32_t begin = section_[static_cast<int>(DecisionScope::ip)];
  const std::uint32_t end = section_[static_cast<int>(DecisionScope::ip) + 1];
  std::size_t groups = 0;
  for (std::uint32_t i = begin; i < end; ++i) {
    if (i == begin || decisions_[i].address != decisions_[i - 1].address) ++groups;
  }
  if (groups == 0) return;
  // At most half full, so a miss (the common case: most clients have no decision) ends at
  // the first or second slot.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(8, groups * 2));
  slots_.assign(capacity, Slot{});
  slot_shift_ = 64 - std::countr_zero(capacity);
  const std::size_t mask = capacity - 1;
  for (std::uint32_t i = begin; i < end; ++i) {
    if (i != begin && decisions_[i].address == decisions_[i - 1].address) continue;
    const std::uint64_t h = hash_address(decisions_[i].address.bits());
    std::size_t pos = static_cast<std::size_t>(h >> slot_shift_);
    while (slots_[pos].index != kEmpty) pos = (pos + 1) & mask;
    slots_[pos] = Slot{static_cast<std::uint32_t>(h), i};
  }
}

template <typename Key>
void DecisionSet::index_ranges(Intervals<Key>& into, bool v4) {
  struct Span {
    Key first, last;
    std::uint32_t index;
  };
  std::vector<Span> spans;
  const std::uint32_t begin = section_[static_cast<int>(DecisionScope::range)];
  const std::uint32_t end = section_[static_cast<int>(DecisionScope::range) + 1];
  for (std::uint32_t i = begin; i < end; ++i) {
    const CrowdsecDecision& d = decisions_[i];
    if (d.address.is_v4() != v4) continue;
    spans.push_back({range_first<Key>(d), range_last<Key>(d), i});
  }
  if (spans.empty()) return;
  std::vector<Key> bounds;
  bounds.reserve(spans.size() * 2 + 1);
  bounds.push_back(Key{0});
  for (const Span& s : spans) {
    bounds.push_back(s.first);
    if (s.last != ~Key{0}) bounds.push_back(s.last + 1);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.first < b.first; });
  // Sweep the pieces left to right. Of the ranges covering a piece only the longest-lasting
  // decision of each type can decide (when it has expired the others of its type have too),
  // so a piece lists at most one per type: memory stays linear however ranges nest or repeat.
  // Ranges that ended stay in the queues until they reach the top (lazy removal).
  using Entry = std::pair<std::int64_t, std::uint32_t>;  // (until, span)
  std::priority_queue<Entry> best[kTypeCount];
  into.starts = std::move(bounds);
  into.ref_begin.reserve(into.starts.size() + 1);
  std::size_t next = 0;
  for (const Key b : into.starts) {
    while (next < spans.size() && spans[next].first == b) {
      const CrowdsecDecision& d = decisions_[spans[next].index];
      best[static_cast<int>(d.type)].push({d.until_ns, static_cast<std::uint32_t>(next)});
      ++next;
    }
    into.ref_begin.push_back(static_cast<std::uint32_t>(into.refs.size()));
    for (auto& queue : best) {
      while (!queue.empty() && spans[queue.top().second].last < b) queue.pop();
      if (!queue.empty()) into.refs.push_back(spans[queue.top().second].index);
    }
  }
  into.ref_begin.push_back(static_cast<std::uint32_t>(into.refs.size()));
  into.starts.shrink_to_fit();
  into.refs.shrink_to_fit();
  if constexpr (sizeof(Key) == 4) {
    // 256 KB of index pays off once a binary search would take more than a few steps.
    if (into.starts.size() > kMinPiecesForBucket) {
      into.bucket.resize(kV4Buckets + 1);
      std::size_t piece = 0;
      for (std::size_t b = 0; b <= kV4Buckets; ++b) {
        const std::uint64_t first = static_cast<std::uint64_t>(b) << 16;
        while (piece < into.starts.size() && into.starts[piece] < first) ++piece;
        into.bucket[b] = static_cast<std::uint32_t>(piece);
      }
    }
  }
}

template <typename Key>
const std::uint32_t* DecisionSet::Intervals<Key>::lookup(Key key, const std::uint32_t** end) const {
  // starts[0] is 0, so every key falls in a piece: the last one starting at or before it. With
  // a bucket index only the pieces starting in key's /16 can follow that one; if none of them
  // starts at or before key, it is the piece before them.
  auto first = starts.begin(), last = starts.end();
  if constexpr (sizeof(Key) == 4) {
    if (!bucket.empty()) {
      first = starts.begin() + bucket[key >> 16];
      last = starts.begin() + bucket[(key >> 16) + 1];
    }
  }
  const auto it = std::upper_bound(first, last, key);
  const auto piece = static_cast<std::size_t>(it - starts.begin()) - 1;
  *end = refs.data() + ref_begin[piece + 1];
  return refs.data() + ref_begin[piece];
}

template <typename Key>
std::size_t DecisionSet::Intervals<Key>::memory_bytes() const {
  return starts.capacity() * sizeof(Key) +
         (ref_begin.capacity() + refs.capacity() + bucket.capacity()) * sizeof(std::uint32_t);
}

const CrowdsecDecision* DecisionSet::find_ip(const IpAddress& ip, std::int64_t now_ns) const {
  if (slots_.empty()) return nullptr;
  const std::uint64_t h = hash_address(ip.bits());
  const auto tag = static_cast<std::uint32_t>(h);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t pos = static_cast<std::size_t>(h >> slot_shift_);; pos = (pos + 1) & mask) {
    const Slot& slot = slots_[pos];
    if (slot.index == kEmpty) return nullptr;
    if (slot.tag != tag || decisions_[slot.index].address != ip) continue;
    const CrowdsecDecision* end =
        decisions_.data() + section_[static_cast<int>(DecisionScope::ip) + 1];
    return first_active(
        decisions_.data() + slot.index, end,
        [&ip](const CrowdsecDecision& d) { return d.address == ip; }, now_ns);
  }
}

const CrowdsecDecision* DecisionSet::find_range(const IpAddress& ip, std::int64_t now_ns) const {
  const std::uint32_t* end = nullptr;
  const std::uint32_t* it = nullptr;
  if (ip.is_v4()) {
    if (v4_ranges_.starts.empty()) return nullptr;
    it = v4_ranges_.lookup(ip.v4(), &end);
  } else {
    if (v6_ranges_.starts.empty()) return nullptr;
    it = v6_ranges_.lookup(ip.bits(), &end);
  }
  for (; it != end; ++it) {
    if (decisions_[*it].active(now_ns)) return &decisions_[*it];
  }
  return nullptr;
}

const CrowdsecDecision* DecisionSet::find_target(DecisionScope scope, std::uint32_t target,
                                                 std::int64_t now_ns) const {
  const CrowdsecDecision* begin = decisions_.data() + section_[static_cast<int>(scope)];
  const CrowdsecDecision* end = decisions_.data() + section_[static_cast<int>(scope) + 1];
  const CrowdsecDecision* it = std::lower_bound(
      begin, end, target,
      [](const CrowdsecDecision& d, std::uint32_t value) { return d.target < value; });
  return first_active(
      it, end, [target](const CrowdsecDecision& d) { return d.target == target; }, now_ns);
}

const CrowdsecDecision* DecisionSet::find(const IpAddress& ip, std::string_view country,
                                          std::uint32_t asn, std::int64_t now_ns) const {
  const CrowdsecDecision* best = nullptr;
  // A ban settles it; anything else may still be outranked by a ban in another scope.
  auto settles = [&best](const CrowdsecDecision* d) {
    if (d != nullptr && (best == nullptr || d->type < best->type)) best = d;
    return best != nullptr && best->type == DecisionType::ban;
  };
  if (settles(find_ip(ip, now_ns))) return best;
  if (settles(find_range(ip, now_ns))) return best;
  if (country.size() == 2 && count(DecisionScope::country) != 0) {
    auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; };
    const std::uint32_t packed = pack_country(upper(country[0]), upper(country[1]));
    if (settles(find_target(DecisionScope::country, packed, now_ns))) return best;
  }
  if (asn != 0 && count(DecisionScope::as) != 0) {
    settles(find_target(DecisionScope::as, asn, now_ns));
  }
  return best;
}

std::size_t DecisionSet::memory_bytes() const {
  std::size_t bytes = decisions_.capacity() * sizeof(CrowdsecDecision) +
                      texts_.capacity() * sizeof(texts_[0]) + slots_.capacity() * sizeof(Slot) +
                      v4_ranges_.memory_bytes() + v6_ranges_.memory_bytes();
  for (const auto& text : texts_) {
    // The shared_ptr's block with the strings in it, and any string too long for SSO.
    bytes += sizeof(DecisionText) + 16;
    for (const std::string* s : {&text->type, &text->scenario, &text->origin}) {
      if (s->capacity() > 15) bytes += s->capacity() + 1;
    }
  }
  return bytes;
}

}  // namespace edgeguard
