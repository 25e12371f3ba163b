// Brute-force model of the call auction (engine/engine.h, "Call auction"),
// written independently of the engine: every distinct limit price in the
// book is a candidate, D and S are summed afresh at each, and the
// allocation sorts the eligible orders and pairs them in order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace haihe::engine::test {

struct AuctionOrder {
  OrderId id;
  AccountId account;
  Side side;
  PriceFen price;
  Qty leaves;
  std::uint64_t seq;  // time priority: lower is older
};

struct AuctionClearing {
  PriceFen price = 0;  // 0: nothing crosses
  Qty volume = 0;
  Qty imbalance = 0;  // D - S at price
  friend bool operator==(const AuctionClearing&, const AuctionClearing&) = default;
};

struct AuctionFill {
  OrderId buy;
  AccountId buy_account;
  Qty buy_leaves_after;
  OrderId sell;
  AccountId sell_account;
  Qty sell_leaves_after;
  Qty qty;
};

/// The clearing price over every distinct limit price: max volume, then
/// min |imbalance|, then min |price - reference|, then the lower price.
inline AuctionClearing brute_clearing(const std::vector<AuctionOrder>& orders, PriceFen reference) {
  std::vector<PriceFen> prices;
  for (const auto& o : orders) prices.push_back(o.price);
  std::sort(prices.begin(), prices.end());
  prices.erase(std::unique(prices.begin(), prices.end()), prices.end());
  AuctionClearing best;
  bool have = false;
  for (const PriceFen p : prices) {
    Qty d = 0;
    Qty s = 0;
    for (const auto& o : orders) {
      if (o.side == Side::buy && o.price >= p) d += o.leaves;
      if (o.side == Side::sell && o.price <= p) s += o.leaves;
    }
    const AuctionClearing c{p, std::min(d, s), d - s};
    auto abs = [](std::int64_t x) { return x < 0 ? -x : x; };
    bool better = !have;
    if (have) {
      if (c.volume != best.volume) {
        better = c.volume > best.volume;
      } else if (abs(c.imbalance) != abs(best.imbalance)) {
        better = abs(c.imbalance) < abs(best.imbalance);
      } else if (abs(c.price - reference) != abs(best.price - reference)) {
        better = abs(c.price - reference) < abs(best.price - reference);
      } else {
        better = c.price < best.price;
      }
    }
    if (better) {
      best = c;
      have = true;
    }
  }
  if (best.volume == 0) return AuctionClearing{};
  return best;
}

/// Eligible orders of one side in priority order.
inline std::vector<AuctionOrder> eligible(const std::vector<AuctionOrder>& orders, Side side,
                                          PriceFen price) {
  std::vector<AuctionOrder> out;
  for (const auto& o : orders) {
    if (o.side == side && (side == Side::buy ? o.price >= price : o.price <= price)) out.push_back(o);
  }
  std::sort(out.begin(), out.end(), [&](const AuctionOrder& a, const AuctionOrder& b) {
    if (a.price != b.price) return side == Side::buy ? a.price > b.price : a.price < b.price;
    return a.seq < b.seq;
  });
  return out;
}

/// The pairs of an uncross at c, in order.
inline std::vector<AuctionFill> brute_allocate(const std::vector<AuctionOrder>& orders,
                                               const AuctionClearing& c) {
  std::vector<AuctionFill> fills;
  if (c.volume == 0) return fills;
  std::vector<AuctionOrder> buys = eligible(orders, Side::buy, c.price);
  std::vector<AuctionOrder> sells = eligible(orders, Side::sell, c.price);
  std::size_t i = 0;
  std::size_t j = 0;
  Qty left = c.volume;
  while (left > 0 && i < buys.size() && j < sells.size()) {
    const Qty q = std::min({buys[i].leaves, sells[j].leaves, left});
    buys[i].leaves -= q;
    sells[j].leaves -= q;
    left -= q;
    fills.push_back(AuctionFill{buys[i].id, buys[i].account, buys[i].leaves, sells[j].id,
                                sells[j].account, sells[j].leaves, q});
    if (buys[i].leaves == 0) ++i;
    if (sells[j].leaves == 0) ++j;
  }
  return fills;
}

}  // namespace haihe::engine::test
