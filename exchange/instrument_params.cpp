// haihe::exchange — engine::InstrumentParams from rules::MarketRules.
#include "exchange/instrument_params.h"

#include <stdexcept>
#include <string>

namespace haihe::exchange {

namespace {

// Fields the engine may add over time are set only when they exist, so this
// file builds against any version of engine/params.h.
template <class P>
void set_bounds(P& p, const rules::Instrument& in) {
  if constexpr (requires { p.max_levels; }) {
    // One level per tick over [floor, ceiling], which the loader bounds by
    // rules::kMaxPriceLevels: exactly the grid the rules define.
    const auto levels = (in.ceiling_fen - in.floor_fen) / in.tick_fen + 1;
    if (levels > 0) p.max_levels = static_cast<decltype(p.max_levels)>(levels);
  }
  if constexpr (requires { p.max_order_qty; }) {
    if (in.max_order_qty > 0) p.max_order_qty = in.max_order_qty;
  }
}

}  // namespace

engine::InstrumentParams instrument_params(const rules::MarketRules& rules,
                                           rules::InstrumentIndex instrument) {
  if (instrument >= rules.instruments.size()) {
    throw std::out_of_range("instrument_params: no instrument with index " +
                            std::to_string(instrument) + " (the rules define " +
                            std::to_string(rules.instruments.size()) + ")");
  }
  const rules::Instrument& in = rules.instruments[instrument];
  engine::InstrumentParams p;
  p.id = instrument;
  p.tick_fen = in.tick_fen;
  p.lot_qty = in.lot_qty;
  p.floor_fen = in.floor_fen;
  p.ceiling_fen = in.ceiling_fen;
  p.band_bps = in.band_bps;
  p.reference_fen = in.reference_fen;
  set_bounds(p, in);
  return p;
}

std::vector<engine::InstrumentParams> instrument_params(const rules::MarketRules& rules) {
  std::vector<engine::InstrumentParams> out;
  out.reserve(rules.instruments.size());
  for (rules::InstrumentIndex i = 0; i < rules.instruments.size(); ++i) {
    out.push_back(instrument_params(rules, i));
  }
  return out;
}

}  // namespace haihe::exchange
