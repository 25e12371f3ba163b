// haihe::sim — schedules, equilibrium, maximum surplus, least cost.
#include "sim/valuation.h"

#include <algorithm>
#include <cassert>
#include <functional>
#include <limits>
#include <stdexcept>

namespace haihe::sim {

__extension__ typedef __int128 i128;

namespace {

constexpr std::int64_t kBps = rules::kBpsDenominator;

Fen bps_of(Fen value, std::uint32_t bps) {
  return static_cast<Fen>((static_cast<i128>(value) * bps) / kBps);
}

// floor(a / b) for b > 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  assert(b > 0);
  std::int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}

}  // namespace

Charges charges_for(const rules::MarketRules& rules, rules::PartyIndex party,
                    rules::InstrumentIndex instrument) {
  if (instrument >= rules.instruments.size()) throw std::out_of_range("charges_for: instrument");
  if (party >= rules.parties.size()) throw std::out_of_range("charges_for: party");
  const rules::Instrument& in = rules.instruments[instrument];
  Charges c;
  c.lot_qty = in.lot_qty;
  c.tick_fen = in.tick_fen;
  c.buyer_fee_bps = in.buyer_fee_bps;
  c.seller_fee_bps = in.seller_fee_bps;
  if (const rules::Levy* levy = rules.levy_for(in)) c.levy_bps = levy->bps;
  const rules::RegionIndex region = rules.parties[party].region;
  if (in.kind == rules::InstrumentKind::water && region != rules::kNone) {
    if (const rules::CompensationRoute* route = rules.compensation_for(in.zone, region)) {
      c.compensation_fen_per_unit = route->fen_per_unit;
      c.compensation_bps = route->bps;
    }
  }
  return c;
}

Fen buy_cost_fen(const Charges& c, Fen price_fen, Qty qty) {
  const Fen value = price_fen * qty;
  return value + bps_of(value, c.buyer_fee_bps) + c.compensation_fen_per_unit * qty +
         bps_of(value, c.compensation_bps);
}

Fen sell_proceeds_fen(const Charges& c, Fen price_fen, Qty qty) {
  const Fen value = price_fen * qty;
  return value - bps_of(value, c.seller_fee_bps) - bps_of(value, c.levy_bps);
}

std::optional<Fen> max_buy_price(const Charges& c, Fen value_fen, Fen ceiling_fen) {
  assert(c.tick_fen > 0 && c.lot_qty > 0);
  // Cost is non-decreasing in the price: the largest tick m with cost(m * tick) <= value.
  std::int64_t lo = 1;
  std::int64_t hi = ceiling_fen / c.tick_fen;
  if (hi < 1 || buy_cost_fen(c, c.tick_fen, c.lot_qty) > value_fen) return std::nullopt;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo + 1) / 2;
    if (buy_cost_fen(c, mid * c.tick_fen, c.lot_qty) <= value_fen) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo * c.tick_fen;
}

std::optional<Fen> min_sell_price(const Charges& c, Fen cost_fen, Fen ceiling_fen) {
  assert(c.tick_fen > 0 && c.lot_qty > 0);
  std::int64_t lo = 1;
  std::int64_t hi = ceiling_fen / c.tick_fen;
  if (hi < 1 || sell_proceeds_fen(c, hi * c.tick_fen, c.lot_qty) < cost_fen) return std::nullopt;
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    if (sell_proceeds_fen(c, mid * c.tick_fen, c.lot_qty) >= cost_fen) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo * c.tick_fen;
}

// ------------------------------------------------------------------ Schedule

std::optional<Fen> Schedule::buy_value_at(std::int64_t x) const {
  if (x >= 0) {
    const auto k = static_cast<std::size_t>(x);
    if (k < buy_values.size()) return buy_values[k];
    return std::nullopt;
  }
  // Buying back the last lot sold restores its cost.
  const auto k = static_cast<std::size_t>(-x - 1);
  if (k < sell_costs.size()) return sell_costs[k];
  return std::nullopt;
}

std::optional<Fen> Schedule::sell_cost_at(std::int64_t x) const {
  if (x > 0) {
    const auto k = static_cast<std::size_t>(x - 1);
    if (k < buy_values.size()) return buy_values[k];
    return std::nullopt;
  }
  const auto k = static_cast<std::size_t>(-x);
  if (k < sell_costs.size()) return sell_costs[k];
  return std::nullopt;
}

Fen Schedule::worth(std::int64_t x) const {
  Fen w = 0;
  if (x > 0) {
    const auto n = std::min(static_cast<std::size_t>(x), buy_values.size());
    for (std::size_t k = 0; k < n; ++k) w += buy_values[k];
  } else if (x < 0) {
    const auto n = std::min(static_cast<std::size_t>(-x), sell_costs.size());
    for (std::size_t k = 0; k < n; ++k) w -= sell_costs[k];
  }
  return w;
}

const char* Schedule::check() const {
  for (std::size_t k = 1; k < buy_values.size(); ++k) {
    if (buy_values[k] > buy_values[k - 1]) return "buy values rise (they must not increase)";
  }
  for (std::size_t k = 1; k < sell_costs.size(); ++k) {
    if (sell_costs[k] < sell_costs[k - 1]) return "sell costs fall (they must not decrease)";
  }
  if (!buy_values.empty() && !sell_costs.empty() && buy_values[0] > sell_costs[0]) {
    return "the first buy value exceeds the first sell cost (the trader would trade with itself)";
  }
  for (const Fen v : buy_values) {
    if (v < 0) return "a negative buy value";
  }
  for (const Fen v : sell_costs) {
    if (v < 0) return "a negative sell cost";
  }
  return nullptr;
}

// --------------------------------------------------------------- equilibrium

std::int64_t excess_demand(std::span<const Schedule> traders, Fen price_fen) {
  std::int64_t demand = 0;
  std::int64_t supply = 0;
  for (const Schedule& s : traders) {
    const Fen cost = buy_cost_fen(s.charges, price_fen, s.charges.lot_qty);
    // buy_values non-increasing: count those >= cost.
    const auto b = std::partition_point(s.buy_values.begin(), s.buy_values.end(),
                                        [&](Fen v) { return v >= cost; });
    demand += b - s.buy_values.begin();
    const Fen proceeds = sell_proceeds_fen(s.charges, price_fen, s.charges.lot_qty);
    const auto a = std::partition_point(s.sell_costs.begin(), s.sell_costs.end(),
                                        [&](Fen v) { return v <= proceeds; });
    supply += a - s.sell_costs.begin();
  }
  return demand - supply;
}

namespace {

std::pair<std::int64_t, std::int64_t> demand_supply(std::span<const Schedule> traders, Fen price_fen) {
  std::int64_t demand = 0;
  std::int64_t supply = 0;
  for (const Schedule& s : traders) {
    const Fen cost = buy_cost_fen(s.charges, price_fen, s.charges.lot_qty);
    demand += std::partition_point(s.buy_values.begin(), s.buy_values.end(),
                                   [&](Fen v) { return v >= cost; }) -
              s.buy_values.begin();
    const Fen proceeds = sell_proceeds_fen(s.charges, price_fen, s.charges.lot_qty);
    supply += std::partition_point(s.sell_costs.begin(), s.sell_costs.end(),
                                   [&](Fen v) { return v <= proceeds; }) -
              s.sell_costs.begin();
  }
  return {demand, supply};
}

}  // namespace

Equilibrium equilibrium(std::span<const Schedule> traders, Fen tick_fen, Fen floor_fen,
                        Fen ceiling_fen) {
  if (tick_fen <= 0 || floor_fen < tick_fen || ceiling_fen < floor_fen) {
    throw std::invalid_argument("equilibrium: need 0 < tick <= floor <= ceiling");
  }
  const std::int64_t first = (floor_fen + tick_fen - 1) / tick_fen;  // ticks
  const std::int64_t last = ceiling_fen / tick_fen;
  const auto D = [&](std::int64_t m) { return excess_demand(traders, m * tick_fen); };
  Equilibrium e;
  e.max_surplus_fen = max_surplus(traders);
  std::int64_t hi_tick = 0;  // highest tick with D >= 0
  std::int64_t lo_tick = 0;  // lowest tick with D <= 0
  if (D(first) < 0) {
    hi_tick = lo_tick = first;
  } else if (D(last) > 0) {
    hi_tick = lo_tick = last;
  } else {
    // D is non-increasing in the price.
    std::int64_t lo = first;
    std::int64_t hi = last;
    while (lo < hi) {  // highest m with D(m) >= 0
      const std::int64_t mid = lo + (hi - lo + 1) / 2;
      if (D(mid) >= 0) lo = mid; else hi = mid - 1;
    }
    hi_tick = lo;
    lo = first;
    hi = last;
    while (lo < hi) {  // lowest m with D(m) <= 0
      const std::int64_t mid = lo + (hi - lo) / 2;
      if (D(mid) <= 0) hi = mid; else lo = mid + 1;
    }
    lo_tick = lo;
  }
  e.price_lo_fen = std::min(lo_tick, hi_tick) * tick_fen;
  e.price_hi_fen = std::max(lo_tick, hi_tick) * tick_fen;
  e.price_fen = (static_cast<double>(e.price_lo_fen) + static_cast<double>(e.price_hi_fen)) / 2.0;
  const auto [d_hi, s_hi] = demand_supply(traders, e.price_hi_fen);
  const auto [d_lo, s_lo] = demand_supply(traders, e.price_lo_fen);
  e.qty_lots = std::max(std::min(d_hi, s_hi), std::min(d_lo, s_lo));
  return e;
}

Fen max_surplus(std::span<const Schedule> traders) {
  std::vector<Fen> b;
  std::vector<Fen> s;
  for (const Schedule& t : traders) {
    b.insert(b.end(), t.buy_values.begin(), t.buy_values.end());
    s.insert(s.end(), t.sell_costs.begin(), t.sell_costs.end());
  }
  std::sort(b.begin(), b.end(), std::greater<>());
  std::sort(s.begin(), s.end());
  Fen total = 0;
  for (std::size_t k = 0; k < std::min(b.size(), s.size()) && b[k] > s[k]; ++k) total += b[k] - s[k];
  return total;
}

// ----------------------------------------------------------------- emissions

Fen abatement_cost_fen(const Firm& f, Qty abated) {
  assert(abated >= 0);
  // sum_{k=1}^{a} (mac + slope (k - 1)) = a mac + slope a (a - 1) / 2
  const i128 a = abated;
  const i128 cost = a * f.mac_fen + static_cast<i128>(f.mac_slope_fen) * a * (a - 1) / 2;
  if (cost > std::numeric_limits<Fen>::max()) throw std::overflow_error("abatement cost overflows int64");
  return static_cast<Fen>(cost);
}

Fen compliance_cost_fen(const Firm& f, Qty held) {
  return abatement_cost_fen(f, std::clamp<Qty>(f.baseline_qty - held, 0, f.baseline_qty));
}

LeastCost least_cost(std::span<const Firm> firms) {
  LeastCost r;
  Qty baseline = 0;
  Qty allocation = 0;
  Fen max_mac = 0;
  for (const Firm& f : firms) {
    if (f.baseline_qty < 0 || f.allocation_qty < 0 || f.mac_fen < 0 || f.mac_slope_fen < 0) {
      throw std::invalid_argument("least_cost: negative firm parameter");
    }
    baseline += f.baseline_qty;
    allocation += f.allocation_qty;
    r.no_trade_cost_fen += compliance_cost_fen(f, f.allocation_qty);
    if (f.baseline_qty > 0) {
      max_mac = std::max(max_mac, f.mac_fen + f.mac_slope_fen * (f.baseline_qty - 1));
    }
  }
  r.required_qty = std::max<Qty>(0, baseline - allocation);
  r.abated_qty.assign(firms.size(), 0);
  if (r.required_qty == 0) return r;
  // Units firm f abates when every unit costing at most lambda is abated.
  const auto units_upto = [](const Firm& f, Fen lambda) -> Qty {
    if (f.baseline_qty == 0 || lambda < f.mac_fen) return 0;
    if (f.mac_slope_fen == 0) return f.baseline_qty;
    return std::min(f.baseline_qty, (lambda - f.mac_fen) / f.mac_slope_fen + 1);
  };
  const auto total_upto = [&](Fen lambda) {
    Qty t = 0;
    for (const Firm& f : firms) t += units_upto(f, lambda);
    return t;
  };
  // The smallest lambda with total_upto(lambda) >= required (exists: at
  // max_mac every firm abates its whole baseline >= required).
  Fen lo = 0;
  Fen hi = max_mac;
  while (lo < hi) {
    const Fen mid = lo + (hi - lo) / 2;
    if (total_upto(mid) >= r.required_qty) hi = mid; else lo = mid + 1;
  }
  r.marginal_cost_fen = lo;
  // Every unit cheaper than lambda, then the rest at exactly lambda (any
  // firm: they cost the same), in firm order.
  Qty left = r.required_qty;
  for (std::size_t i = 0; i < firms.size(); ++i) {
    r.abated_qty[i] = lo > 0 ? units_upto(firms[i], lo - 1) : 0;
    left -= r.abated_qty[i];
  }
  for (std::size_t i = 0; i < firms.size() && left > 0; ++i) {
    const Qty extra = std::min(left, units_upto(firms[i], lo) - r.abated_qty[i]);
    r.abated_qty[i] += extra;
    left -= extra;
  }
  assert(left == 0);
  for (std::size_t i = 0; i < firms.size(); ++i) {
    r.least_cost_fen += abatement_cost_fen(firms[i], r.abated_qty[i]);
  }
  return r;
}

Schedule firm_schedule(const Firm& f, const Charges& c) {
  Schedule s;
  s.charges = c;
  const Qty lot = c.lot_qty;
  // Buying: each lot saves abating lot units, until nothing is abated.
  for (Qty held = f.allocation_qty; held < f.baseline_qty; held += lot) {
    s.buy_values.push_back(compliance_cost_fen(f, held) - compliance_cost_fen(f, held + lot));
  }
  // Selling: each lot adds abatement, while it holds a lot to sell.
  for (Qty held = f.allocation_qty; held >= lot; held -= lot) {
    s.sell_costs.push_back(compliance_cost_fen(f, held - lot) - compliance_cost_fen(f, held));
  }
  return s;
}

// --------------------------------------------------------------------- water

Fen water_value_between(const WaterValue& w, Qty h1, Qty h2) {
  if (w.block_qty <= 0) throw std::invalid_argument("water value: block_qty must be > 0");
  if (h1 == h2) return 0;
  if (h2 < h1) return -water_value_between(w, h2, h1);
  Fen total = 0;
  Qty h = h1;
  while (h < h2) {
    const std::int64_t j = floor_div(h - w.start_qty, w.block_qty);
    const Qty block_end = w.start_qty + (j + 1) * w.block_qty;
    const Qty upto = std::min(h2, block_end);
    const Fen mv = std::max(w.floor_fen, w.mv_fen - w.slope_fen * j);
    total += mv * (upto - h);
    h = upto;
  }
  return total;
}

Schedule water_buyer_schedule(const WaterValue& w, Qty delivered_per_lot, std::int64_t max_lots,
                              const Charges& c) {
  if (delivered_per_lot <= 0) throw std::invalid_argument("water buyer: delivered_per_lot must be > 0");
  Schedule s;
  s.charges = c;
  Qty h = w.start_qty;
  for (std::int64_t k = 0; k < max_lots; ++k) {
    const Fen v = water_value_between(w, h, h + delivered_per_lot);
    if (v <= 0) break;
    s.buy_values.push_back(v);
    h += delivered_per_lot;
  }
  return s;
}

Schedule water_seller_schedule(const WaterValue& w, const Charges& c) {
  Schedule s;
  s.charges = c;
  const Qty lot = c.lot_qty;
  for (Qty h = w.start_qty; h >= lot; h -= lot) {
    s.sell_costs.push_back(water_value_between(w, h - lot, h));
  }
  return s;
}

}  // namespace haihe::sim
