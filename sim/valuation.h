// haihe::sim — what traders' units are worth, and the benchmarks a market
// is measured against: the competitive equilibrium, the maximum surplus and
// the least-cost abatement.
//
// Every trader in the lab values one instrument through a `Schedule`: the
// marginal worth of each further lot it buys and the marginal cost of each
// further lot it sells, counted from its starting holdings. Schedules are
// concave (buy values non-increasing, sell costs non-decreasing, and the
// first buy value never above the first sell cost), so the value of a
// trader's holdings depends only on its net position and
//   max surplus = sum over k of max(0, b_k - s_k)
// with b sorted high to low over every trader's buy values and s sorted low
// to high over every sell cost (the n units held go to the n highest
// marginal values). Charges (fees, compensation, levies) are transfers: they
// are not in the surplus, but they are wedges in the competitive
// equilibrium, where a buyer buys a lot when its value covers the price plus
// its charges and a seller sells when the proceeds cover its cost.
//
// Money in fen (int64); the equilibrium price is a double (fen per base
// unit) because it may lie between two ticks.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "rules/rules.h"

namespace haihe::sim {

using rules::Fen;
using rules::Qty;

/// What one trade costs a buyer and leaves a seller beyond the price, in
/// one instrument (the rules' fees, the levy and the compensation of the
/// buyer's region).
struct Charges {
  Qty lot_qty = 1;
  Fen tick_fen = 1;
  std::uint32_t buyer_fee_bps = 0;
  std::uint32_t seller_fee_bps = 0;
  std::uint32_t levy_bps = 0;           // paid by the seller
  Fen compensation_fen_per_unit = 0;    // paid by the buyer, per unit sold
  std::uint32_t compensation_bps = 0;   // paid by the buyer, of the value
};

/// The charges party `party` meets buying or selling `instrument`.
Charges charges_for(const rules::MarketRules& rules, rules::PartyIndex party,
                    rules::InstrumentIndex instrument);

/// What buying qty at price costs the buyer: value + fee + compensation.
Fen buy_cost_fen(const Charges& c, Fen price_fen, Qty qty);
/// What selling qty at price leaves the seller: value - fee - levy.
Fen sell_proceeds_fen(const Charges& c, Fen price_fen, Qty qty);
/// The highest price on the tick at which buying one lot costs at most
/// value_fen; nullopt when even one tick costs more.
std::optional<Fen> max_buy_price(const Charges& c, Fen value_fen, Fen ceiling_fen);
/// The lowest price on the tick at which selling one lot leaves at least
/// cost_fen; nullopt when not even ceiling_fen does.
std::optional<Fen> min_sell_price(const Charges& c, Fen cost_fen, Fen ceiling_fen);

/// One trader's marginal values in one instrument, per lot, from its
/// starting position (position = lots bought - lots sold).
struct Schedule {
  std::vector<Fen> buy_values;  // [k]: worth of the (k+1)-th lot bought; non-increasing
  std::vector<Fen> sell_costs;  // [k]: cost of the (k+1)-th lot sold; non-decreasing
  Charges charges;

  /// Worth of going from position x to x + 1; nullopt: it may not buy then.
  std::optional<Fen> buy_value_at(std::int64_t x) const;
  /// Cost of going from position x to x - 1; nullopt: it may not sell then.
  std::optional<Fen> sell_cost_at(std::int64_t x) const;
  /// Value of position x against position 0 (the trader's gain in fen).
  Fen worth(std::int64_t x) const;
  /// nullptr, or what breaks concavity.
  const char* check() const;
};

struct Equilibrium {
  double price_fen = 0;  // midpoint of [price_lo_fen, price_hi_fen]
  Fen price_lo_fen = 0;  // lowest clearing price on the tick (see equilibrium())
  Fen price_hi_fen = 0;  // highest
  std::int64_t qty_lots = 0;  // lots traded at the equilibrium
  Fen max_surplus_fen = 0;    // gains from trade at the optimum (charges as transfers)
};

/// Excess demand in lots at `price_fen`: lots buyers would buy minus lots
/// sellers would sell, charges included.
std::int64_t excess_demand(std::span<const Schedule> traders, Fen price_fen);

/// The competitive equilibrium on the price grid [floor, ceiling] (step
/// tick): price_hi is the highest price with excess demand >= 0, price_lo the
/// lowest with excess demand <= 0 (when no price clears exactly, they are the
/// two ticks around the crossing). When demand falls short even at the floor
/// both are the floor; when it exceeds supply at the ceiling, the ceiling.
Equilibrium equilibrium(std::span<const Schedule> traders, Fen tick_fen, Fen floor_fen,
                        Fen ceiling_fen);

/// Gains from trade when the units go to the highest marginal values.
Fen max_surplus(std::span<const Schedule> traders);

// ----------------------------------------------------------------- emissions

/// A firm that must hold a permit for every unit it emits. Abating its k-th
/// unit (k = 1, 2, ...) costs mac_fen + mac_slope_fen * (k - 1): a linear
/// marginal abatement cost, a quadratic total cost.
struct Firm {
  Qty baseline_qty = 0;    // emissions without abatement
  Qty allocation_qty = 0;  // permits allocated (held at the start)
  Fen mac_fen = 0;         // cost of the first unit abated
  Fen mac_slope_fen = 0;   // increase per further unit
};

/// Total cost of abating `abated` units (0 <= abated <= baseline).
Fen abatement_cost_fen(const Firm& f, Qty abated);
/// Its cost when it holds `held` permits (abates max(0, baseline - held)).
Fen compliance_cost_fen(const Firm& f, Qty held);

struct LeastCost {
  Fen no_trade_cost_fen = 0;   // every firm abates down to its allocation
  Fen least_cost_fen = 0;      // the cheapest abatement that fits the permits
  Fen marginal_cost_fen = 0;   // the equalised marginal cost (the last unit abated)
  Qty required_qty = 0;        // total abatement: max(0, sum baseline - sum allocation)
  std::vector<Qty> abated_qty; // per firm at the least cost
};

/// Equal-marginal-cost allocation, computed directly (Montgomery 1972): the
/// `required` cheapest units of abatement over all firms.
LeastCost least_cost(std::span<const Firm> firms);

/// A firm's schedule in lots of lot_qty: buying a lot saves abating it,
/// selling one adds abatement (never beyond the baseline).
Schedule firm_schedule(const Firm& f, const Charges& c);

// --------------------------------------------------------------------- water

/// A water user's declining marginal value of the water it holds in one
/// zone: per unit (m3) m(h) = max(floor_fen, mv_fen - slope_fen * j) where
/// j = floor((h - start_qty) / block_qty): mv_fen at its starting holdings,
/// falling by slope_fen per block held beyond them, rising below them.
struct WaterValue {
  Qty start_qty = 0;
  Fen mv_fen = 0;
  Fen slope_fen = 0;
  Qty block_qty = 1;
  Fen floor_fen = 0;
};

/// Worth of holding h2 rather than h1 (negative when h2 < h1).
Fen water_value_between(const WaterValue& w, Qty h1, Qty h2);

/// A buyer's schedule: each lot bought delivers delivered_per_lot units
/// (after conveyance loss); at most max_lots lots, and none worth 0.
Schedule water_buyer_schedule(const WaterValue& w, Qty delivered_per_lot, std::int64_t max_lots,
                              const Charges& c);
/// A seller's schedule: every lot of its holdings, each costing the water given up.
Schedule water_seller_schedule(const WaterValue& w, const Charges& c);

}  // namespace haihe::sim
