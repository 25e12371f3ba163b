// haihe::sim — agents.
#include "sim/agents.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace haihe::sim {

using exchange::Command;
using exchange::CommandKind;
using exchange::Event;
using exchange::EventKind;
using exchange::Side;

namespace {

Fen floor_tick(Fen p, Fen tick) { return p >= 0 ? p / tick * tick : -((-p + tick - 1) / tick) * tick; }
Fen ceil_tick(Fen p, Fen tick) { return -floor_tick(-p, tick); }

}  // namespace

Agent::Agent(const AgentSpec& spec, std::uint32_t index, rules::PartyIndex party, rules::InstrumentIndex instrument,
             Strategy strategy, Schedule schedule, Qty start_holdings_qty, std::uint64_t seed)
    : spec_(&spec),
      index_(index),
      party_(party),
      instrument_(instrument),
      kind_(spec.kind),
      strategy_(strategy),
      role_(spec.role),
      schedule_(std::move(schedule)),
      lot_qty_(schedule_.charges.lot_qty),
      tick_fen_(schedule_.charges.tick_fen),
      start_holdings_qty_(start_holdings_qty),
      rng_(seed),
      holdings_qty_(start_holdings_qty) {
  if (lot_qty_ <= 0 || tick_fen_ <= 0) throw std::invalid_argument("agent: lot and tick must be > 0");
  if (const char* bad = schedule_.check()) {
    throw std::invalid_argument(fmt::format("agent {}: schedule: {}", spec.party, bad));
  }
}

exchange::ClOrdId Agent::next_cl() {
  exchange::ClOrdId id{};
  const auto r = fmt::format_to_n(id.chars.data(), id.chars.size(), "a{}.{}", index_, next_cl_++);
  assert(r.size <= id.chars.size());
  (void)r;
  return id;
}

Command Agent::base_command(CommandKind kind, Side side) const {
  Command c{};
  c.kind = kind;
  c.side = side;
  c.type = exchange::OrderType::limit;
  c.tif = exchange::TimeInForce::day;
  c.stp = exchange::StpMode::cancel_newest;
  c.party = party_;
  c.instrument = instrument_;
  c.user_ref = index_;
  return c;
}

std::optional<Agent::Quote> Agent::trader_quote(const InstrumentView& v, Side side) {
  if (v.lo_fen > v.hi_fen) return std::nullopt;
  const std::int64_t x = position_lots_;
  const std::int64_t max_lots = spec_->max_order_lots;
  Fen lo = v.lo_fen;
  Fen hi = v.hi_fen;
  std::int64_t q = 0;
  if (side == Side::buy) {
    if (role_ == Role::seller) return std::nullopt;
    std::int64_t n = 0;
    while (n < max_lots && schedule_.buy_value_at(x + n)) ++n;
    if (n == 0) return std::nullopt;
    q = rng_.uniform(1, n);
    if (strategy_ == Strategy::zi_c) {
      const auto pmax = max_buy_price(schedule_.charges, *schedule_.buy_value_at(x + q - 1), v.hi_fen);
      if (!pmax || *pmax < lo) return std::nullopt;
      hi = std::min(hi, *pmax);
    }
  } else {
    if (role_ == Role::buyer) return std::nullopt;
    const std::int64_t held_lots = holdings_qty_ / lot_qty_;
    std::int64_t n = 0;
    while (n < max_lots && n < held_lots && schedule_.sell_cost_at(x - n)) ++n;
    if (n == 0) return std::nullopt;
    q = rng_.uniform(1, n);
    if (strategy_ == Strategy::zi_c) {
      const auto pmin = min_sell_price(schedule_.charges, *schedule_.sell_cost_at(x - q + 1), v.hi_fen);
      if (!pmin || *pmin > hi) return std::nullopt;
      lo = std::max(lo, *pmin);
    }
  }
  lo = ceil_tick(lo, tick_fen_);
  hi = floor_tick(hi, tick_fen_);
  if (lo > hi) return std::nullopt;
  const Fen price = lo + tick_fen_ * rng_.uniform(0, (hi - lo) / tick_fen_);
  return Quote{side, price, q};
}

void Agent::cancel(Side side, std::vector<Command>& out) {
  Slot& s = slot(side);
  if (!s.live) return;
  Command c = base_command(CommandKind::cancel, side);
  c.orig_cl_ord_id = s.cl;
  out.push_back(c);
  ++commands_sent_;
}

void Agent::place(const Quote& q, bool exclusive, std::vector<Command>& out) {
  assert(q.lots > 0);
  const Side other = q.side == Side::buy ? Side::sell : Side::buy;
  if (exclusive) cancel(other, out);
  Slot& s = slot(q.side);
  const Qty qty = q.lots * lot_qty_;
  if (s.live) {
    if (s.price_fen == q.price_fen && s.leaves_qty == qty) return;  // already there
    Command c = base_command(CommandKind::replace, q.side);
    c.price_fen = q.price_fen;
    c.qty = s.cum_qty + qty;  // new total, the filled part included
    c.cl_ord_id = next_cl();
    c.orig_cl_ord_id = s.cl;
    out.push_back(c);
  } else {
    Command c = base_command(CommandKind::new_order, q.side);
    c.price_fen = q.price_fen;
    c.qty = qty;
    c.cl_ord_id = next_cl();
    out.push_back(c);
  }
  ++orders_sent_;
  ++commands_sent_;
}

void Agent::market_maker(const InstrumentView& v, std::vector<Command>& out) {
  if (v.lo_fen > v.hi_fen) return;
  Fen ref = v.reference_fen;
  if (v.recent_price_fen) {
    ref = *v.recent_price_fen;
  } else if (v.best_bid_fen && v.best_ask_fen) {
    ref = (*v.best_bid_fen + *v.best_ask_fen) / 2;
  }
  const std::int64_t inventory = position_lots_;
  const Fen center = ref - spec_->skew_fen * inventory;
  const Fen lo = ceil_tick(v.lo_fen, tick_fen_);
  const Fen hi = floor_tick(v.hi_fen, tick_fen_);
  if (lo > hi) return;
  const Fen bid = std::clamp(floor_tick(center - spec_->half_spread_fen, tick_fen_), lo, hi);
  Fen ask = std::clamp(ceil_tick(center + spec_->half_spread_fen, tick_fen_), lo, hi);
  if (ask <= bid) ask = bid + tick_fen_;
  const bool want_bid = inventory < spec_->max_inventory_lots;
  const std::int64_t ask_lots =
      ask <= hi ? std::min<std::int64_t>(spec_->quote_lots, holdings_qty_ / lot_qty_) : 0;
  if (want_bid) {
    const std::int64_t lots = std::min<std::int64_t>(spec_->quote_lots, spec_->max_inventory_lots - inventory);
    place(Quote{Side::buy, bid, lots}, false, out);
  } else {
    cancel(Side::buy, out);
  }
  if (ask_lots > 0) {
    place(Quote{Side::sell, ask, ask_lots}, false, out);
  } else {
    cancel(Side::sell, out);
  }
}

void Agent::act(const InstrumentView& v, std::vector<Command>& out) {
  if (kind_ == AgentKind::market_maker) return market_maker(v, out);
  Side first = role_ == Role::seller ? Side::sell : Side::buy;
  if (role_ == Role::both && rng_.below(2) == 1) first = Side::sell;
  if (auto q = trader_quote(v, first)) return place(*q, true, out);
  if (role_ == Role::both) {
    const Side second = first == Side::buy ? Side::sell : Side::buy;
    if (auto q = trader_quote(v, second)) return place(*q, true, out);
  }
}

void Agent::on_event(const Event& e) {
  assert(e.party == party_);
  switch (e.kind) {
    case EventKind::order_accepted: {
      Slot& s = slot(e.side);
      s.live = e.leaves_qty > 0;
      s.cl = e.cl_ord_id;
      s.price_fen = e.price_fen;
      s.leaves_qty = e.leaves_qty;
      s.cum_qty = e.cum_qty;
      break;
    }
    case EventKind::order_fill: {
      ++fills_;
      if (e.last_qty % lot_qty_ != 0) throw std::logic_error("agent: a fill that is not a whole number of lots");
      const std::int64_t lots = e.last_qty / lot_qty_;
      if (e.side == Side::buy) {
        position_lots_ += lots;
        holdings_qty_ += e.delivered_qty;
      } else {
        position_lots_ -= lots;
        holdings_qty_ -= e.last_qty;
      }
      Slot& s = slot(e.side);
      if (s.live && s.cl == e.cl_ord_id) {
        s.leaves_qty = e.leaves_qty;
        s.cum_qty = e.cum_qty;
        if (s.leaves_qty == 0) s.live = false;
      }
      break;
    }
    case EventKind::order_cancelled:
    case EventKind::order_expired: {
      Slot& s = slot(e.side);
      if (s.live && s.cl == e.cl_ord_id) s.live = false;
      break;
    }
    case EventKind::order_replaced: {
      Slot& s = slot(e.side);
      if (s.live && s.cl == e.orig_cl_ord_id) {
        s.cl = e.cl_ord_id;
        s.price_fen = e.price_fen;
        s.leaves_qty = e.leaves_qty;
        s.cum_qty = e.cum_qty;
      }
      break;
    }
    case EventKind::order_rejected: ++rejects_; break;
    case EventKind::cancel_rejected: ++cancel_rejects_; break;
    default: break;
  }
}

}  // namespace haihe::sim
