// haihe::engine::lob_w1 — the LOB-W1 standard workload (../shared/bench/LOB-W1.md).
//
// Not part of the matching path: a generator shared by bench/lob_w1 and the
// engine tests. generate() draws the operation stream with SplitMix64 exactly
// as LOB-W1.md specifies, running its own small price-time book (100 levels,
// a deque per level) to know which orders rest, and returns the stream with
// the results any plain price-time engine must reproduce.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <vector>

namespace haihe::engine::lob_w1 {

inline constexpr std::int64_t kMid = 100000;  // ticks
inline constexpr std::uint32_t kThinM = 320;
inline constexpr std::uint32_t kDeepM = 300;

struct SplitMix64 {
  std::uint64_t s;
  std::uint64_t next() noexcept {
    s += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

enum class OpKind : std::uint8_t { add, cancel, market };

/// One operation. add: a limit order `id` resting at `price`; cancel: cancel
/// resting order `id`; market: IOC limit `id` at `price` (the far edge).
/// side: 0 buy, 1 sell. Prices in ticks.
struct Op {
  std::uint64_t id;
  std::int32_t price;
  std::int32_t qty;
  OpKind kind;
  std::uint8_t side;
};

struct Results {
  std::uint64_t fills = 0;
  std::uint64_t filled_qty = 0;
  std::uint64_t checksum = 0;  // sum of qty * price, wrapping
  std::uint64_t resting = 0;
  friend bool operator==(const Results&, const Results&) = default;
};

struct Workload {
  std::vector<Op> ops;
  Results expected;              // from the generator's own book
  std::uint32_t peak_resting = 0;  // most orders resting at once
};

/// The expected table of LOB-W1.md (n = 1,000,000, seed 42).
inline constexpr Results kExpectedThin{391571, 15372804, 1537271226333ull, 103};
inline constexpr Results kExpectedDeep{392050, 14898060, 1489798057867ull, 3960};

inline Workload generate(std::uint64_t seed, std::uint64_t n, std::uint32_t market_qty_bound) {
  if (market_qty_bound == 0) throw std::invalid_argument("lob_w1: M must be > 0");
  struct Entry {
    std::uint64_t id;
    std::int64_t qty;
  };
  // Level k holds price kMid - 50 + k: bids at k = 0..49, asks at 50..99.
  std::vector<std::deque<Entry>> levels(100);
  std::vector<std::uint64_t> live;            // resting ids (swap-remove)
  std::vector<std::uint32_t> live_pos(n, 0);  // id -> index in live
  std::vector<std::uint8_t> level_of(n, 0);   // id -> level
  auto remove_live = [&](std::uint64_t id) {
    const std::uint32_t i = live_pos[id];
    const std::uint64_t last = live.back();
    live[i] = last;
    live_pos[last] = i;
    live.pop_back();
  };

  Workload w;
  w.ops.reserve(n);
  SplitMix64 rng{seed};
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng.next() % 100;
    if (r >= 60 && r < 90 && !live.empty()) {
      const std::uint64_t id = live[rng.next() % live.size()];
      auto& q = levels[level_of[id]];
      for (auto it = q.begin(); it != q.end(); ++it) {
        if (it->id == id) {
          q.erase(it);
          break;
        }
      }
      remove_live(id);
      w.ops.push_back(Op{id, 0, 0, OpKind::cancel, 0});
    } else if (r < 90) {
      const auto side = static_cast<std::uint8_t>(rng.next() & 1);
      const auto off = static_cast<std::int64_t>(rng.next() % 50);
      const auto qty = static_cast<std::int64_t>(1 + rng.next() % 100);
      const std::int64_t price = side == 0 ? kMid - 1 - off : kMid + off;
      const auto k = static_cast<std::size_t>(price - (kMid - 50));
      levels[k].push_back(Entry{i, qty});
      level_of[i] = static_cast<std::uint8_t>(k);
      live_pos[i] = static_cast<std::uint32_t>(live.size());
      live.push_back(i);
      w.ops.push_back(Op{i, static_cast<std::int32_t>(price), static_cast<std::int32_t>(qty),
                         OpKind::add, side});
    } else {
      const auto side = static_cast<std::uint8_t>(rng.next() & 1);
      std::int64_t qty = static_cast<std::int64_t>(1 + rng.next() % market_qty_bound);
      const std::int64_t price = side == 0 ? kMid + 49 : kMid - 50;
      w.ops.push_back(Op{i, static_cast<std::int32_t>(price), static_cast<std::int32_t>(qty),
                         OpKind::market, side});
      // Buy takes asks from level 50 up; sell takes bids from level 49 down.
      for (int step = 0; step < 50 && qty > 0; ++step) {
        const auto k = static_cast<std::size_t>(side == 0 ? 50 + step : 49 - step);
        auto& q = levels[k];
        const auto level_price = static_cast<std::uint64_t>(kMid - 50 + static_cast<std::int64_t>(k));
        while (!q.empty() && qty > 0) {
          Entry& e = q.front();
          const std::int64_t m = e.qty < qty ? e.qty : qty;
          ++w.expected.fills;
          w.expected.filled_qty += static_cast<std::uint64_t>(m);
          w.expected.checksum += static_cast<std::uint64_t>(m) * level_price;
          e.qty -= m;
          qty -= m;
          if (e.qty == 0) {
            remove_live(e.id);
            q.pop_front();
          }
        }
      }
    }
    if (live.size() > w.peak_resting) w.peak_resting = static_cast<std::uint32_t>(live.size());
  }
  w.expected.resting = live.size();
  return w;
}

}  // namespace haihe::engine::lob_w1
