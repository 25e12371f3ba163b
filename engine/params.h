// haihe::engine — instrument parameters the matching engine needs.
//
// A plain struct owned by the engine. The engine knows nothing of the rules
// file: exchange/ builds these from rules::MarketRules (see
// exchange/instrument_params.h). All prices are integers in fen per unit of
// the instrument's base quantity; all quantities are integers in the base
// unit (m3, kg, t).
#pragma once

#include <cstdint>

namespace haihe::engine {

using InstrumentId = std::uint32_t;  // dense index, 0..n-1
using AccountId = std::uint32_t;     // the party's dense index in the rules
using OrderId = std::uint64_t;       // assigned by the caller, unique per book
using PriceFen = std::int64_t;       // fen per base unit, > 0
using Qty = std::int64_t;            // base units, > 0

struct InstrumentParams {
  InstrumentId id = 0;
  PriceFen tick_fen = 1;     // every price is a multiple of this, > 0
  Qty lot_qty = 1;           // every quantity is a multiple of this, > 0
  PriceFen floor_fen = 0;    // lowest acceptable price (>= tick), inclusive
  PriceFen ceiling_fen = 0;  // highest acceptable price, inclusive, >= floor
  // Price band: an order priced further than band_bps/10000 of the reference
  // price from it is rejected. 0 means no band (floor/ceiling only).
  std::uint32_t band_bps = 0;
  PriceFen reference_fen = 0;  // initial reference price; within [floor, ceiling]
  // Bounds fixed at start-up: pools are sized from them, nothing grows later.
  std::uint32_t max_orders = 1u << 16;  // resting orders in this book at once
  // Price levels per side. The book keeps one level per tick over
  // [floor, ceiling], so (ceiling - floor) / tick + 1 must not exceed this
  // (the engine refuses the instrument at start-up otherwise). Level memory
  // is reserved lazily (untouched levels cost no physical memory).
  std::uint32_t max_levels = 1u << 20;
  // Largest quantity of one order, in base units; larger orders are rejected.
  Qty max_order_qty = 1'000'000'000'000;
};

}  // namespace haihe::engine
