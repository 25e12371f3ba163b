// The engine's internal structures against brute force: the hierarchical
// level bitmap, the order-id index and the exact divider.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <set>
#include <vector>

#include "engine/detail/level_bitmap.h"
#include "engine/detail/order_index.h"
#include "engine/detail/storage.h"
#include "engine/lob_w1.h"

namespace haihe::engine::detail {
namespace {

TEST(LevelBitmap, MatchesASetUnderRandomOperations) {
  for (std::uint32_t levels : {1u, 63u, 64u, 65u, 4095u, 4096u, 4097u, 300000u}) {
    LevelBitmap bm(levels);
    std::set<std::int32_t> ref;
    lob_w1::SplitMix64 rng{levels};
    for (int i = 0; i < 20000; ++i) {
      // Cluster operations so words fill and empty, with some far jumps.
      const std::uint64_t r = rng.next();
      std::uint32_t x = static_cast<std::uint32_t>(r % levels);
      if ((r >> 40) % 4 != 0) x = static_cast<std::uint32_t>((r >> 20) % std::min(levels, 200u));
      if ((r >> 60) % 2 == 0) {
        bm.set(x);
        ref.insert(static_cast<std::int32_t>(x));
      } else if (ref.count(static_cast<std::int32_t>(x)) != 0) {
        bm.clear(x);
        ref.erase(static_cast<std::int32_t>(x));
      }
      const auto q = static_cast<std::int32_t>((rng.next() % (levels + 2))) - 1;  // -1..levels
      const std::int32_t qp = std::min<std::int32_t>(q, static_cast<std::int32_t>(levels) - 1);
      const std::int32_t qn = std::max<std::int32_t>(q, 0);
      auto it = ref.upper_bound(qp);
      const std::int32_t want_prev = it == ref.begin() ? -1 : *std::prev(it);
      auto jt = ref.lower_bound(qn);
      const std::int32_t want_next = jt == ref.end() ? static_cast<std::int32_t>(levels) : *jt;
      ASSERT_EQ(bm.find_prev(qp), want_prev) << "levels " << levels << " q " << qp;
      ASSERT_EQ(bm.find_next(qn), want_next) << "levels " << levels << " q " << qn;
      ASSERT_EQ(bm.test(x), ref.count(static_cast<std::int32_t>(x)) != 0);
    }
  }
}

TEST(OrderIndex, MatchesAMapUnderRandomOperations) {
  for (std::uint32_t cap : {1u, 7u, 64u, 1000u}) {
    OrderIndex ix(cap);
    std::map<std::uint64_t, std::uint32_t> ref;
    std::map<std::uint64_t, std::uint32_t> cell;  // id -> cell, kept by on_move
    std::vector<std::uint64_t> slot_to_id(cap + 1, 0);
    std::vector<std::uint32_t> free_slots;
    for (std::uint32_t s = 1; s <= cap; ++s) free_slots.push_back(s);
    lob_w1::SplitMix64 rng{cap};
    for (int i = 0; i < 50000; ++i) {
      const std::uint64_t r = rng.next();
      // Ids: sequential-ish and random, to collide in the table.
      const std::uint64_t id = (r & 1) ? (r >> 8) % (4 * cap + 3) : (r >> 8);
      auto it = ref.find(id);
      ASSERT_EQ(ix.find(id), it == ref.end() ? 0u : it->second);
      if (it == ref.end() && !free_slots.empty()) {
        const std::uint32_t s = free_slots.back();
        free_slots.pop_back();
        const auto p = ix.probe(id);
        ASSERT_EQ(p.slot, 0u);
        if ((r >> 4) & 1) {
          ix.insert_at(p.cell, id, s);
          cell[id] = p.cell;
        } else {
          cell[id] = ix.insert(id, s);
        }
        ref[id] = s;
        slot_to_id[s] = id;
      } else if (it != ref.end()) {
        const std::uint32_t s = it->second;
        ix.erase_at(cell[id], [&](std::uint32_t moved, std::uint32_t c) { cell[slot_to_id[moved]] = c; });
        cell.erase(id);
        ref.erase(it);
        free_slots.push_back(s);
      }
      ASSERT_EQ(ix.size(), ref.size());
    }
    for (const auto& [id, s] : ref) {
      ASSERT_EQ(ix.find(id), s);
      ASSERT_EQ(ix.probe(id).cell, cell[id]);
    }
  }
}

TEST(Divider, ExactWithinItsBound) {
  lob_w1::SplitMix64 rng{9};
  for (std::uint64_t d : std::vector<std::uint64_t>{1, 2, 3, 5, 7, 10, 64, 100, 1000, 12345,
                                                   (1ull << 20) + 1, 999'999'937}) {
    const Divider dv(d);
    const std::uint64_t bound = (std::uint64_t{1} << 63) / d;  // x * d < 2^63
    for (std::uint64_t x : {std::uint64_t{0}, std::uint64_t{1}, d - 1, d, d + 1, bound - 1, bound / 2}) {
      ASSERT_EQ(dv.quotient(x), x / d) << x << " / " << d;
    }
    for (int i = 0; i < 100000; ++i) {
      const std::uint64_t x = rng.next() % bound;
      ASSERT_EQ(dv.quotient(x), x / d) << x << " / " << d;
    }
  }
}

}  // namespace
}  // namespace haihe::engine::detail
