// exchange::instrument_params: the engine's parameters mirror the rules.
#include "exchange/instrument_params.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "rules/rules.h"

namespace haihe::exchange {
namespace {

TEST(InstrumentParams, MirrorsTheRulesForEveryDefaultInstrument) {
  const auto rules = rules::load_default_rules();
  const auto all = instrument_params(*rules);
  ASSERT_EQ(all.size(), rules->instruments.size());
  for (rules::InstrumentIndex i = 0; i < rules->instruments.size(); ++i) {
    const rules::Instrument& in = rules->instruments[i];
    const engine::InstrumentParams& p = all[i];
    SCOPED_TRACE(in.symbol);
    EXPECT_EQ(p.id, i);
    EXPECT_EQ(p.tick_fen, in.tick_fen);
    EXPECT_EQ(p.lot_qty, in.lot_qty);
    EXPECT_EQ(p.floor_fen, in.floor_fen);
    EXPECT_EQ(p.ceiling_fen, in.ceiling_fen);
    EXPECT_EQ(p.band_bps, in.band_bps);
    EXPECT_EQ(p.reference_fen, in.reference_fen);
    // What the engine requires of them.
    EXPECT_GT(p.tick_fen, 0);
    EXPECT_GT(p.lot_qty, 0);
    EXPECT_GE(p.floor_fen, p.tick_fen);
    EXPECT_LE(p.floor_fen, p.reference_fen);
    EXPECT_LE(p.reference_fen, p.ceiling_fen);
    EXPECT_EQ(p.floor_fen % p.tick_fen, 0);
    EXPECT_EQ(p.ceiling_fen % p.tick_fen, 0);
    EXPECT_EQ(p.reference_fen % p.tick_fen, 0);
    EXPECT_LT(p.band_bps, 10000u);
    if constexpr (requires { p.max_levels; }) {
      EXPECT_EQ(static_cast<std::int64_t>(p.max_levels), (p.ceiling_fen - p.floor_fen) / p.tick_fen + 1);
      EXPECT_LE(static_cast<std::int64_t>(p.max_levels), rules::kMaxPriceLevels);
    }
    if constexpr (requires { p.max_order_qty; }) {
      EXPECT_EQ(p.max_order_qty, in.max_order_qty);
      EXPECT_EQ(p.max_order_qty % p.lot_qty, 0);
    }
    EXPECT_EQ(instrument_params(*rules, i).reference_fen, p.reference_fen);
  }
}

TEST(InstrumentParams, CarbonFollowsTheNationalMarket) {
  const auto rules = rules::load_default_rules();
  const auto p = instrument_params(*rules, rules->find_instrument("CO2.TJ.2027"));
  EXPECT_EQ(p.tick_fen, 1);       // 0.01 yuan
  EXPECT_EQ(p.lot_qty, 1);        // 1 t
  EXPECT_EQ(p.band_bps, 1000u);   // +-10%
  EXPECT_EQ(p.reference_fen, 9596);
}

TEST(InstrumentParams, HandBuiltRulesAndBadIndex) {
  rules::MarketRules r;
  rules::Instrument in;
  in.symbol = "X";
  in.tick_fen = 5;
  in.lot_qty = 10;
  in.floor_fen = 5;
  in.ceiling_fen = 100;
  in.reference_fen = 50;
  r.instruments.push_back(in);
  const auto p = instrument_params(r, 0);
  EXPECT_EQ(p.id, 0u);
  EXPECT_EQ(p.band_bps, 0u);
  EXPECT_EQ(p.ceiling_fen, 100);
  if constexpr (requires { p.max_levels; }) {
    EXPECT_EQ(p.max_levels, 20u);
  }
  EXPECT_THROW(instrument_params(r, 1), std::out_of_range);
  EXPECT_THROW(instrument_params(r, rules::kNone), std::out_of_range);
}

}  // namespace
}  // namespace haihe::exchange
