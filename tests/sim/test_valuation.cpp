// haihe::sim — schedules, charges, equilibrium, maximum surplus, least cost,
// the PRNG, designs and statistics (no exchange core involved).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/design.h"
#include "sim/metrics.h"
#include "sim/rng.h"
#include "sim/valuation.h"

namespace haihe::sim {
namespace {

Schedule buyer(std::vector<Fen> values, Charges c = {}) {
  Schedule s;
  s.buy_values = std::move(values);
  s.charges = c;
  return s;
}
Schedule seller(std::vector<Fen> costs, Charges c = {}) {
  Schedule s;
  s.sell_costs = std::move(costs);
  s.charges = c;
  return s;
}

// The Gode-Sunder market of sim/scenarios/gode_sunder.toml: values 195..50
// and costs 5..150 in steps of 5.
std::vector<Schedule> gode_sunder_market() {
  std::vector<Schedule> m;
  for (int b = 0; b < 6; ++b) {
    std::vector<Fen> v;
    for (int u = 0; u < 5; ++u) v.push_back(195 - 5 * (u * 6 + b));
    m.push_back(buyer(v));
  }
  for (int s = 0; s < 6; ++s) {
    std::vector<Fen> c;
    for (int u = 0; u < 5; ++u) c.push_back(5 + 5 * (u * 6 + s));
    m.push_back(seller(c));
  }
  return m;
}

TEST(SimValuation, GodeSunderEquilibrium) {
  const auto m = gode_sunder_market();
  const Equilibrium e = equilibrium(m, 1, 1, 200);
  EXPECT_EQ(e.max_surplus_fen, 1900);  // sum_{k=1}^{20} (200 - 10 k)
  EXPECT_EQ(e.price_lo_fen, 100);
  EXPECT_EQ(e.price_hi_fen, 100);
  EXPECT_DOUBLE_EQ(e.price_fen, 100.0);
  EXPECT_EQ(e.qty_lots, 20);
  EXPECT_EQ(excess_demand(m, 100), 0);
  EXPECT_GT(excess_demand(m, 99), 0);
  EXPECT_LT(excess_demand(m, 101), 0);
}

TEST(SimValuation, EquilibriumBetweenTicks) {
  // Demand 10, 8; supply 3, 9: one unit trades at any price in [3, 10]...
  // with a second pair 8 vs 9 not trading: clearing prices [3..8] give D >= 0?
  const std::vector<Schedule> m = {buyer({10, 8}), seller({3, 9})};
  const Equilibrium e = equilibrium(m, 1, 1, 20);
  // D(p) = #buy >= p - #sell <= p: p in [3, 8]: 2 - 1 = 1 > 0; p in (8, 9): 1 - 1 = 0;
  // p = 9 or 10: 1 - 2 < 0. Clearing prices with D == 0: none on integers
  // except... p in {9}: D = 1 - 2 = -1. So hi = 8 (D >= 0), lo = 9 (D <= 0).
  EXPECT_EQ(e.price_lo_fen, 8);
  EXPECT_EQ(e.price_hi_fen, 9);
  EXPECT_DOUBLE_EQ(e.price_fen, 8.5);
  EXPECT_EQ(e.max_surplus_fen, 7);
  EXPECT_EQ(e.qty_lots, 1);
}

TEST(SimValuation, EquilibriumAtTheBounds) {
  // Supply exceeds demand even at the floor: the floor.
  const Equilibrium lo = equilibrium(std::vector<Schedule>{buyer({5}), seller({1, 1})}, 1, 10, 100);
  EXPECT_EQ(lo.price_lo_fen, 10);
  EXPECT_EQ(lo.price_hi_fen, 10);
  // Demand exceeds supply at the ceiling: the ceiling.
  const Equilibrium hi = equilibrium(std::vector<Schedule>{buyer({500, 500}), seller({1})}, 1, 1, 100);
  EXPECT_EQ(hi.price_hi_fen, 100);
}

TEST(SimValuation, ChargesAreWedges) {
  Charges c;
  c.lot_qty = 1000;
  c.tick_fen = 1;
  c.buyer_fee_bps = 5;
  c.seller_fee_bps = 5;
  c.compensation_fen_per_unit = 20;
  EXPECT_EQ(buy_cost_fen(c, 93, 1000), 93000 + 46 + 20000);
  EXPECT_EQ(sell_proceeds_fen(c, 93, 1000), 93000 - 46);
  // The highest price at which a lot worth 120,000 fen is no loss.
  const auto pmax = max_buy_price(c, 120000, 500);
  ASSERT_TRUE(pmax);
  EXPECT_LE(buy_cost_fen(c, *pmax, 1000), 120000);
  EXPECT_GT(buy_cost_fen(c, *pmax + 1, 1000), 120000);
  const auto pmin = min_sell_price(c, 50000, 500);
  ASSERT_TRUE(pmin);
  EXPECT_GE(sell_proceeds_fen(c, *pmin, 1000), 50000);
  EXPECT_LT(sell_proceeds_fen(c, *pmin - 1, 1000), 50000);
  EXPECT_FALSE(max_buy_price(c, 100, 500));          // not even one tick
  EXPECT_FALSE(min_sell_price(c, 10'000'000, 500));  // not even the ceiling
}

RC_GTEST_PROP(SimValuation, LimitPricesAreTight, ()) {
  Charges c;
  c.lot_qty = *rc::gen::inRange<Qty>(1, 2000);
  c.tick_fen = *rc::gen::inRange<Fen>(1, 100);
  c.buyer_fee_bps = *rc::gen::inRange<std::uint32_t>(0, 500);
  c.seller_fee_bps = *rc::gen::inRange<std::uint32_t>(0, 500);
  c.levy_bps = *rc::gen::inRange<std::uint32_t>(0, 500);
  c.compensation_fen_per_unit = *rc::gen::inRange<Fen>(0, 50);
  c.compensation_bps = *rc::gen::inRange<std::uint32_t>(0, 2000);
  const Fen ceiling = c.tick_fen * *rc::gen::inRange<Fen>(1, 5000);
  const Fen value = *rc::gen::inRange<Fen>(0, 1'000'000'000);
  if (const auto p = max_buy_price(c, value, ceiling)) {
    RC_ASSERT(*p % c.tick_fen == 0);
    RC_ASSERT(*p <= ceiling);
    RC_ASSERT(buy_cost_fen(c, *p, c.lot_qty) <= value);
    if (*p + c.tick_fen <= ceiling) RC_ASSERT(buy_cost_fen(c, *p + c.tick_fen, c.lot_qty) > value);
  } else {
    RC_ASSERT(buy_cost_fen(c, c.tick_fen, c.lot_qty) > value || ceiling < c.tick_fen);
  }
  if (const auto p = min_sell_price(c, value, ceiling)) {
    RC_ASSERT(*p % c.tick_fen == 0);
    RC_ASSERT(sell_proceeds_fen(c, *p, c.lot_qty) >= value);
    if (*p > c.tick_fen) RC_ASSERT(sell_proceeds_fen(c, *p - c.tick_fen, c.lot_qty) < value);
  } else {
    RC_ASSERT(sell_proceeds_fen(c, ceiling, c.lot_qty) < value);
  }
}

TEST(SimValuation, ScheduleWorthAndMarginals) {
  Schedule s;
  s.buy_values = {50, 40, 30};
  s.sell_costs = {60, 70};
  EXPECT_EQ(s.check(), nullptr);
  EXPECT_EQ(s.worth(0), 0);
  EXPECT_EQ(s.worth(2), 90);
  EXPECT_EQ(s.worth(-2), -130);
  EXPECT_EQ(*s.buy_value_at(0), 50);
  EXPECT_EQ(*s.buy_value_at(-1), 60);  // buying back the lot sold
  EXPECT_EQ(*s.sell_cost_at(1), 50);   // selling the lot bought
  EXPECT_EQ(*s.sell_cost_at(0), 60);
  EXPECT_FALSE(s.buy_value_at(3));
  EXPECT_FALSE(s.sell_cost_at(-2));
  s.buy_values = {40, 50};
  EXPECT_NE(s.check(), nullptr);
  s.buy_values = {70};
  EXPECT_NE(s.check(), nullptr);  // would trade with itself
}

TEST(SimValuation, LeastCostByHand) {
  // MACs: firm A 10, 20, 30, ...; firm B 25, 25, 25 ...; required 4 units.
  const std::vector<Firm> firms = {
      {.baseline_qty = 10, .allocation_qty = 8, .mac_fen = 10, .mac_slope_fen = 10},
      {.baseline_qty = 10, .allocation_qty = 8, .mac_fen = 25, .mac_slope_fen = 0},
  };
  const LeastCost lc = least_cost(firms);
  EXPECT_EQ(lc.required_qty, 4);
  // No trade: A abates 2 (10 + 20), B abates 2 (25 + 25).
  EXPECT_EQ(lc.no_trade_cost_fen, 80);
  // Cheapest 4 units: 10, 20, 25, 25 (or 10, 20, 25, 30? 25 < 30): 80.
  EXPECT_EQ(lc.least_cost_fen, 80);
  EXPECT_EQ(lc.marginal_cost_fen, 25);
  EXPECT_EQ(lc.abated_qty[0] + lc.abated_qty[1], 4);
  // A cheaper firm changes it: A abates 3 at 10, 11, 12 ...
  const std::vector<Firm> f2 = {
      {.baseline_qty = 10, .allocation_qty = 8, .mac_fen = 10, .mac_slope_fen = 1},
      {.baseline_qty = 10, .allocation_qty = 8, .mac_fen = 25, .mac_slope_fen = 0},
  };
  const LeastCost l2 = least_cost(f2);
  EXPECT_EQ(l2.no_trade_cost_fen, 10 + 11 + 25 + 25);
  EXPECT_EQ(l2.least_cost_fen, 10 + 11 + 12 + 13);
  EXPECT_EQ(l2.abated_qty[0], 4);
  EXPECT_EQ(l2.abated_qty[1], 0);
}

// The least cost computed directly equals the no-trade cost minus the
// maximum surplus of the firms' permit schedules (Montgomery 1972).
RC_GTEST_PROP(SimValuation, LeastCostEqualsMaxSurplus, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(1, 8);
  std::vector<Firm> firms;
  std::vector<Schedule> schedules;
  Charges c;  // lot 1, no charges
  for (std::size_t i = 0; i < n; ++i) {
    Firm f;
    f.baseline_qty = *rc::gen::inRange<Qty>(0, 60);
    f.allocation_qty = *rc::gen::inRange<Qty>(0, 60);
    f.mac_fen = *rc::gen::inRange<Fen>(0, 1000);
    f.mac_slope_fen = *rc::gen::inRange<Fen>(0, 100);
    firms.push_back(f);
    schedules.push_back(firm_schedule(f, c));
    RC_ASSERT(schedules.back().check() == nullptr);
  }
  const LeastCost lc = least_cost(firms);
  RC_ASSERT(lc.least_cost_fen <= lc.no_trade_cost_fen);
  RC_ASSERT(lc.no_trade_cost_fen - lc.least_cost_fen == max_surplus(schedules));
  Qty abated = 0;
  for (std::size_t i = 0; i < n; ++i) {
    RC_ASSERT(lc.abated_qty[i] >= 0 && lc.abated_qty[i] <= firms[i].baseline_qty);
    abated += lc.abated_qty[i];
  }
  RC_ASSERT(abated == lc.required_qty);
}

// Max surplus = the best reallocation, checked against brute force over
// every way of moving up to a few lots between two traders.
RC_GTEST_PROP(SimValuation, MaxSurplusIsOptimal, ()) {
  const auto gen_desc = [](int len) {
    auto v = *rc::gen::container<std::vector<Fen>>(static_cast<std::size_t>(len), rc::gen::inRange<Fen>(0, 100));
    std::sort(v.begin(), v.end(), std::greater<>());
    return v;
  };
  Schedule a;
  a.buy_values = gen_desc(*rc::gen::inRange(0, 5));
  Schedule b;
  b.sell_costs = gen_desc(*rc::gen::inRange(0, 5));
  std::reverse(b.sell_costs.begin(), b.sell_costs.end());
  Fen best = 0;
  const auto moves = static_cast<std::int64_t>(std::min(a.buy_values.size(), b.sell_costs.size()));
  for (std::int64_t x = 0; x <= moves; ++x) best = std::max(best, a.worth(x) + b.worth(-x));
  RC_ASSERT(max_surplus(std::vector<Schedule>{a, b}) == best);
}

TEST(SimValuation, WaterValue) {
  // 300 fen/m3 at the start, 2 fen less per 1,000 m3 more, floor 0.
  const WaterValue w{.start_qty = 100000, .mv_fen = 300, .slope_fen = 2, .block_qty = 1000, .floor_fen = 0};
  EXPECT_EQ(water_value_between(w, 100000, 101000), 300 * 1000);
  EXPECT_EQ(water_value_between(w, 100000, 100950), 300 * 950);
  EXPECT_EQ(water_value_between(w, 100950, 101900), 300 * 50 + 298 * 900);
  EXPECT_EQ(water_value_between(w, 99000, 100000), 302 * 1000);  // scarcer below the start
  EXPECT_EQ(water_value_between(w, 101000, 100000), -300 * 1000);
  Charges c;
  c.lot_qty = 1000;
  const Schedule b = water_buyer_schedule(w, 950, 1000, c);
  ASSERT_EQ(b.check(), nullptr);
  EXPECT_EQ(b.buy_values[0], 300 * 950);
  EXPECT_EQ(b.buy_values[1], 300 * 50 + 298 * 900);
  // Stops where water is worth nothing: 300 / 2 blocks of 1,000 m3.
  EXPECT_LE(b.buy_values.size(), 160u);
  EXPECT_GT(b.buy_values.back(), 0);
  const WaterValue up{.start_qty = 5000, .mv_fen = 40, .slope_fen = 5, .block_qty = 1000, .floor_fen = 0};
  const Schedule s = water_seller_schedule(up, c);
  ASSERT_EQ(s.sell_costs.size(), 5u);
  EXPECT_EQ(s.sell_costs[0], 45 * 1000);
  EXPECT_EQ(s.sell_costs[4], 65 * 1000);
}

TEST(SimRng, DeterministicAndUniform) {
  Rng a(42);
  Rng b(42);
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(a.next(), b.next());
  Rng c(43);
  EXPECT_NE(Rng(42).next(), c.next());
  // A known value pins the algorithm (splitmix64 seeding, xoshiro256**).
  EXPECT_EQ(Rng(0).next(), 11091344671253066420ULL);
  std::array<int, 10> counts{};
  Rng r(7);
  for (int k = 0; k < 100000; ++k) {
    const auto v = r.uniform(0, 9);
    ASSERT_GE(v, 0);
    ASSERT_LE(v, 9);
    ++counts[static_cast<std::size_t>(v)];
  }
  for (const int n : counts) EXPECT_NEAR(n, 10000, 500);
  EXPECT_EQ(r.uniform(5, 5), 5);
  EXPECT_NE(mix_seed(1, 2), mix_seed(2, 1));
  EXPECT_NE(mix_seed(1, 2), mix_seed(1, 3));
}

TEST(SimDesign, Parse) {
  std::string err;
  EXPECT_EQ(parse_design("continuous", &err)->label(), "continuous");
  const auto b = parse_design("batch:100ms", &err);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mode, rules::TradingMode::batch);
  EXPECT_EQ(b->batch_interval_ms, 100u);
  EXPECT_EQ(b->label(), "batch:100ms");
  EXPECT_EQ(parse_design("batch:2s", &err)->batch_interval_ms, 2000u);
  EXPECT_EQ(parse_design("batch:2s", &err)->label(), "batch:2s");
  EXPECT_EQ(parse_design("call", &err)->call_every_min, 0u);
  EXPECT_EQ(parse_design("call:5m", &err)->call_every_min, 5u);
  for (const char* bad : {"", "batch", "batch:0ms", "batch:100", "call:5", "auction", "continuous:1"}) {
    EXPECT_FALSE(parse_design(bad, &err)) << bad;
    EXPECT_FALSE(err.empty());
  }
}

TEST(SimDesign, ApplyToRules) {
  const std::string text(rules::default_rules_text());
  Design d;
  d.mode = rules::TradingMode::batch;
  d.batch_interval_ms = 250;
  const auto r = rules::load_rules_text(apply_design(text, d, "default"), "x");
  for (const auto& in : r->instruments) {
    EXPECT_EQ(in.mode, rules::TradingMode::batch);
    EXPECT_EQ(in.batch_interval_ms, 250u);
  }
  d = Design{};
  d.mode = rules::TradingMode::call;
  d.call_every_min = 30;
  const auto c = rules::load_rules_text(apply_design(text, d, "default"), "x");
  // Sessions 09:30-11:30 and 13:00-15:00: 10:00 ... 11:30, 13:30 ... 15:00.
  const std::vector<std::uint16_t> want = {600, 630, 660, 690, 810, 840, 870, 900};
  for (const auto& in : c->instruments) EXPECT_EQ(in.call_times_min, want) << in.symbol;
  const auto back = rules::load_rules_text(apply_design(text, Design{}, "default"), "x");
  for (const auto& in : back->instruments) EXPECT_EQ(in.mode, rules::TradingMode::continuous);
  EXPECT_EQ(back->parties.size(), rules::load_default_rules()->parties.size());
}

TEST(SimStats, MeanAndConfidenceInterval) {
  const std::vector<double> xs = {1, 2, 3, 4, 5};
  const Stat s = summarize(xs);
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.mean, 3.0);
  EXPECT_NEAR(s.sd, std::sqrt(2.5), 1e-12);
  // t(0.975, 4) = 2.776445
  EXPECT_NEAR(s.ci_hi - s.mean, 2.776445 * std::sqrt(2.5) / std::sqrt(5.0), 1e-5);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Stat t = summarize(std::vector<double>{nan, 4.0, nan});
  EXPECT_EQ(t.n, 1u);
  EXPECT_DOUBLE_EQ(t.ci_lo, 4.0);
  EXPECT_TRUE(std::isnan(summarize(std::vector<double>{nan}).mean));
}

TEST(SimStats, TradeMetrics) {
  const std::vector<TradeObs> trades = {{1'000'000'000, 100, 1}, {2'000'000'000, 110, 3}, {3'000'000'000, 99, 1}};
  EXPECT_NEAR(price_rmse_fen(trades, 100.0), std::sqrt((0.0 + 100.0 + 1.0) / 3.0), 1e-12);
  EXPECT_NEAR(vwap_fen(trades), (100.0 + 330.0 + 99.0) / 5.0, 1e-12);
  EXPECT_DOUBLE_EQ(time_to_within_s(trades, 100.0, 0.01, 0), 1.0);
  EXPECT_DOUBLE_EQ(time_to_within_s(trades, 99.5, 0.006, 0), 1.0);
  EXPECT_TRUE(std::isnan(time_to_within_s(trades, 150.0, 0.01, 0)));
  const double r1 = std::log(110.0 / 100.0);
  const double r2 = std::log(99.0 / 110.0);
  const double m = (r1 + r2) / 2;
  EXPECT_NEAR(volatility_pct(trades), 100.0 * std::sqrt((r1 - m) * (r1 - m) + (r2 - m) * (r2 - m)), 1e-9);
  EXPECT_TRUE(std::isnan(volatility_pct(std::span(trades).first(2))));
}

}  // namespace
}  // namespace haihe::sim
