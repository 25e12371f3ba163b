// haihe::engine — Book and Engine member definitions (templates, so in a
// header). Included by engine/engine.h only; read engine.h for the contract.
//
// Invariants (asserted in debug builds, checked by tests after every
// command):
// - levels_[s][i].head == 0  <=>  levels_[s][i].qty == 0  <=>  bit i of
//   bitmap_[s] is clear;
// - level qty == sum of leaves of the orders linked in it, every leaves > 0;
// - best_[buy] is the highest non-empty bid level (-1 if none), best_[sell]
//   the lowest non-empty ask level (levels_count_ if none);
// - in state open the book is never crossed: best_[buy] < best_[sell]; in
//   any state no buy crosses a sell of the same account;
// - indicative_ == compute_indicative() between commands;
// - resting_ == number of slots in use == index_.size() (a replaced order
//   being re-matched keeps its slot and its index entry).
#pragma once

#include <cassert>

#include "engine/engine.h"

namespace haihe::engine {

namespace detail {
inline RestingOrder to_resting(const Slot& s, PriceFen price_fen) noexcept {
  return RestingOrder{s.id,         s.account,    s.side,       s.tif,       s.stp,
                      s.post_only,  price_fen,    s.leaves_qty, s.filled_qty, s.expire_date};
}
}  // namespace detail

template <class L>
Book<L>::Book(const InstrumentParams& params, L& listener)
    : params_(params), listener_(&listener) {
  const detail::Geometry g = detail::check_params(params);
  base_fen_ = g.base_fen;
  levels_count_ = g.levels;
  tick_div_ = detail::Divider(static_cast<std::uint64_t>(params.tick_fen));
  lot_div_ = detail::Divider(static_cast<std::uint64_t>(params.lot_qty));
  for (int s = 0; s < 2; ++s) {
    levels_[s] = detail::ZeroArray<Level>(static_cast<std::size_t>(g.levels));
    bitmap_[s] = detail::LevelBitmap(static_cast<std::uint32_t>(g.levels));
  }
  slots_ = detail::ZeroArray<Slot>(std::size_t{params.max_orders} + 1);
  index_ = detail::OrderIndex(params.max_orders);
  best_[0] = -1;
  best_[1] = levels_count_;
  reference_fen_ = params.reference_fen;
  indicative_ = Indicative{params.id, 0, 0, 0};
  update_band();
}

// ------------------------------------------------------------- helpers

template <class L>
RejectReason Book<L>::check_qty(Qty qty) const noexcept {
  if (qty <= 0 || qty > params_.max_order_qty) return RejectReason::invalid_quantity;
  const auto u = static_cast<std::uint64_t>(qty);
  if (lot_div_.quotient(u) * lot_div_.divisor() != u) return RejectReason::quantity_not_lot_multiple;
  return RejectReason::none;
}

template <class L>
RejectReason Book<L>::check_price(PriceFen price, std::int32_t& level) const noexcept {
  if (price < params_.floor_fen) return RejectReason::price_below_floor;
  if (price > params_.ceiling_fen) return RejectReason::price_above_ceiling;
  const PriceFen x = price - base_fen_;
  if (x < 0) return RejectReason::price_not_on_tick;
  const auto u = static_cast<std::uint64_t>(x);
  const std::uint64_t q = tick_div_.quotient(u);
  if (q * tick_div_.divisor() != u) return RejectReason::price_not_on_tick;
  assert(q < static_cast<std::uint64_t>(levels_count_));
  level = static_cast<std::int32_t>(q);
  return RejectReason::none;
}

template <class L>
void Book<L>::update_band() noexcept {
  if (params_.band_bps == 0 || reference_fen_ <= 0) {
    band_low_fen_ = params_.floor_fen;
    band_high_fen_ = params_.ceiling_fen;
    band_low_ = 0;
    band_high_ = levels_count_ - 1;
    fast_lo_fen_ = base_fen_;
    fast_span_fen_ = static_cast<std::uint64_t>(price_of(band_high_) - base_fen_);
    update_fast();
    return;
  }
  const PriceFen delta = reference_fen_ * static_cast<PriceFen>(params_.band_bps) / 10000;
  const PriceFen low = reference_fen_ - delta;
  const PriceFen high = reference_fen_ + delta;
  band_low_fen_ = low < params_.floor_fen ? params_.floor_fen : low;
  band_high_fen_ = high > params_.ceiling_fen ? params_.ceiling_fen : high;
  const PriceFen tick = params_.tick_fen;
  const PriceFen last = static_cast<PriceFen>(levels_count_) - 1;
  PriceFen lo = low <= base_fen_ ? 0 : (low - base_fen_ + tick - 1) / tick;
  PriceFen hi = high < base_fen_ ? -1 : (high - base_fen_) / tick;
  if (lo > last + 1) lo = last + 1;
  if (hi > last) hi = last;
  band_low_ = static_cast<std::int32_t>(lo);
  band_high_ = static_cast<std::int32_t>(hi);
  if (band_low_ <= band_high_) {
    fast_lo_fen_ = price_of(band_low_);
    fast_span_fen_ = static_cast<std::uint64_t>(price_of(band_high_) - fast_lo_fen_);
  }
  update_fast();
}

template <class L>
inline std::uint32_t Book<L>::alloc_slot() noexcept {
  std::uint32_t s = free_head_;
  if (s != 0) {
    free_head_ = slots_[s].next;
  } else {
    // Slots never used yet are handed out in order (their memory stays
    // untouched until needed).
    s = resting_ + 1;
    assert(s <= params_.max_orders);
  }
  ++resting_;
  return s;
}

template <class L>
inline void Book<L>::free_slot(std::uint32_t s) noexcept {
  assert(resting_ > 0);
  index_.erase_at(slots_[s].cell, [this](std::uint32_t moved, std::uint32_t cell) {
    slots_[moved].cell = cell;
  });
  slots_[s].next = free_head_;
  free_head_ = s;
  --resting_;
}

template <class L>
inline void Book<L>::link_back(std::uint32_t s) noexcept {
  Slot& o = slots_[s];
  const int side = static_cast<int>(o.side);
  Level& lv = levels_[side][static_cast<std::size_t>(o.level)];
  o.next = 0;
  o.prev = lv.tail;
  if (lv.tail != 0) {
    slots_[lv.tail].next = s;
  } else {
    lv.head = s;
    bitmap_[side].set(static_cast<std::uint32_t>(o.level));
    if (side == 0 ? o.level > best_[0] : o.level < best_[1]) best_[side] = o.level;
  }
  lv.tail = s;
  lv.qty += o.leaves_qty;
}

template <class L>
inline void Book<L>::unlink(std::uint32_t s) noexcept {
  Slot& o = slots_[s];
  const int side = static_cast<int>(o.side);
  Level& lv = levels_[side][static_cast<std::size_t>(o.level)];
  if (o.prev != 0) slots_[o.prev].next = o.next; else lv.head = o.next;
  if (o.next != 0) slots_[o.next].prev = o.prev; else lv.tail = o.prev;
  lv.qty -= o.leaves_qty;
  assert(lv.qty >= 0);
  if (lv.head == 0) {
    assert(lv.qty == 0);
    bitmap_[side].clear(static_cast<std::uint32_t>(o.level));
    if (o.level == best_[side]) {
      best_[side] = side == 0 ? bitmap_[0].find_prev(o.level - 1)
                              : bitmap_[1].find_next(o.level + 1);
    }
  }
}

template <class L>
void Book<L>::emit_level(Side side, std::int32_t level) noexcept {
  listener_->on_level(LevelChanged{params_.id, side, price_of(level),
                                   levels_[static_cast<int>(side)][static_cast<std::size_t>(level)].qty});
}

template <class L>
RejectReason Book<L>::reject(const NewOrder& o, RejectReason r) noexcept {
  listener_->on_rejected(Rejected{params_.id, o.id, o.account, CommandKind::new_order, r});
  return r;
}

// ------------------------------------------------------------ matching

template <class L>
template <Side kSide>
void Book<L>::match(Aggressor& a, std::int32_t limit) {
  constexpr Side kOpp = opposite(kSide);
  constexpr int o = static_cast<int>(kOpp);
  Level* const lv = levels_[o].data();
  std::int32_t best = best_[o];
  for (;;) {
    if constexpr (kSide == Side::buy) {
      if (best > limit) break;
    } else {
      if (best < limit) break;
    }
    Level& level = lv[best];
    const Qty before = level.qty;
    const PriceFen price = price_of(best);
    std::uint32_t s = level.head;
    assert(s != 0);
    do {
      Slot& r = slots_[s];
      if (r.account == a.account) [[unlikely]] {
        if (a.stp == StpMode::cancel_newest) {
          a.stp_stop = true;
          break;
        }
        const std::uint32_t next = r.next;
        level.qty -= r.leaves_qty;
        listener_->on_cancelled(Cancelled{params_.id, r.id, r.account, kOpp, price, r.leaves_qty,
                                          r.filled_qty, CancelCause::self_trade});
        free_slot(s);
        s = next;
        if (a.stp == StpMode::cancel_both) {
          a.stp_stop = true;
          break;
        }
        continue;
      }
      const Qty q = a.leaves < r.leaves_qty ? a.leaves : r.leaves_qty;
      a.leaves -= q;
      a.filled += q;
      r.leaves_qty -= q;
      r.filled_qty += q;
      level.qty -= q;
      listener_->on_trade(Trade{params_.id, next_trade_id_++, price, q, kSide, a.id, a.account,
                                a.leaves, r.id, r.account, r.leaves_qty});
      if (r.leaves_qty != 0) break;  // the aggressor is done
      const std::uint32_t next = r.next;
      free_slot(s);
      s = next;
    } while (s != 0 && a.leaves != 0);
    level.head = s;
    if (s != 0) {
      slots_[s].prev = 0;
    } else {
      level.tail = 0;
    }
    assert((s == 0) == (level.qty == 0));
    if (level.qty != before) listener_->on_level(LevelChanged{params_.id, kOpp, price, level.qty});
    if (s == 0) {
      bitmap_[o].clear(static_cast<std::uint32_t>(best));
      best = kOpp == Side::sell ? bitmap_[o].find_next(best + 1) : bitmap_[o].find_prev(best - 1);
    }
    if (a.leaves == 0 || a.stp_stop) break;
  }
  best_[o] = best;
}

template <class L>
bool Book<L>::fok_fillable(Side side, const Aggressor& a, std::int32_t limit) const noexcept {
  const int o = 1 - static_cast<int>(side);
  Qty avail = 0;
  std::int32_t best = best_[o];
  while (side == Side::buy ? best <= limit : best >= limit) {
    for (std::uint32_t s = levels_[o][static_cast<std::size_t>(best)].head; s != 0; s = slots_[s].next) {
      const Slot& r = slots_[s];
      if (r.account == a.account) {
        if (a.stp == StpMode::cancel_oldest) continue;  // would be cancelled, matching goes on
        return false;                                   // matching would stop here
      }
      avail += r.leaves_qty;
      if (avail >= a.leaves) return true;
    }
    best = side == Side::buy ? bitmap_[o].find_next(best + 1) : bitmap_[o].find_prev(best - 1);
  }
  return false;
}

// ------------------------------------------------------------ commands

template <class L>
RejectReason Book<L>::check_new_slow(const NewOrder& o, std::int32_t& level) const noexcept {
  RejectReason r = RejectReason::none;
  if (static_cast<std::uint8_t>(o.side) > 1) return RejectReason::invalid_side;
  if (static_cast<std::uint8_t>(o.type) > 1) return RejectReason::invalid_order_type;
  if (static_cast<std::uint8_t>(o.tif) > 4) return RejectReason::invalid_time_in_force;
  if (static_cast<std::uint8_t>(o.stp) > 2) return RejectReason::invalid_stp_mode;
  const bool market = o.type == OrderType::market;
  const bool immediate = market || o.tif == TimeInForce::ioc || o.tif == TimeInForce::fok;
  switch (state_) {
    case TradingState::closed: return RejectReason::instrument_closed;
    case TradingState::halted: return RejectReason::instrument_halted;
    case TradingState::midday_break: return RejectReason::trading_break;
    case TradingState::pre_open:
      if (immediate) return RejectReason::not_allowed_in_pre_open;
      break;
    case TradingState::call:
      if (immediate) return RejectReason::not_allowed_in_call;
      break;
    case TradingState::open: break;
  }
  if (market && !(o.tif == TimeInForce::ioc || o.tif == TimeInForce::fok)) {
    return RejectReason::invalid_time_in_force;
  }
  if (o.post_only && immediate) return RejectReason::invalid_post_only;
  if (o.tif == TimeInForce::gtd && o.expire_date <= gtd_expired_through_) {
    return RejectReason::invalid_expire_date;  // also catches expire_date == 0
  }
  r = check_qty(o.qty);
  if (r != RejectReason::none) return r;
  if (market) {
    level = o.side == Side::buy ? band_high_ : band_low_;
    return RejectReason::none;
  }
  r = check_price(o.price_fen, level);
  if (r != RejectReason::none) return r;
  if (level < band_low_ || level > band_high_) return RejectReason::price_outside_band;
  return RejectReason::none;
}

template <class L>
RejectReason Book<L>::new_order(const NewOrder& o) {
  // Field checks. The fast path covers the common case (a valid limit order
  // in open trading, not GTD, not post-only) with a few compares; when any
  // of them fails, check_new_slow finds the first failing check in the
  // documented order.
  RejectReason r = RejectReason::none;
  std::int32_t level = 0;
  const TimeInForce tif = o.tif;
  const std::uint64_t px = static_cast<std::uint64_t>(o.price_fen) - static_cast<std::uint64_t>(fast_lo_fen_);
  if (fast_open_ && static_cast<std::uint8_t>(o.side) <= 1 && o.type == OrderType::limit &&
      static_cast<std::uint8_t>(tif) <= 4 && tif != TimeInForce::gtd &&
      static_cast<std::uint8_t>(o.stp) <= 2 && !o.post_only &&
      static_cast<std::uint64_t>(o.qty) - 1 < static_cast<std::uint64_t>(params_.max_order_qty) &&
      px <= fast_span_fen_) [[likely]] {
    const auto u = static_cast<std::uint64_t>(o.qty);
    const auto x = static_cast<std::uint64_t>(o.price_fen - base_fen_);
    const std::uint64_t q = tick_div_.quotient(x);
    if (lot_div_.quotient(u) * lot_div_.divisor() != u) [[unlikely]] {
      r = RejectReason::quantity_not_lot_multiple;
    } else if (q * tick_div_.divisor() != x) [[unlikely]] {
      r = RejectReason::price_not_on_tick;
    } else {
      level = static_cast<std::int32_t>(q);
    }
  } else {
    r = check_new_slow(o, level);
  }
  if (r != RejectReason::none) [[unlikely]] return reject(o, r);
  const bool immediate =
      o.type == OrderType::market || tif == TimeInForce::ioc || tif == TimeInForce::fok;
  const detail::OrderIndex::Probe probe = index_.probe(o.id);
  if (probe.slot != 0) [[unlikely]] return reject(o, RejectReason::duplicate_order_id);
  if (!immediate && resting_ >= params_.max_orders) [[unlikely]] {
    return reject(o, RejectReason::book_full);
  }
  if (immediate || crosses(o.side, level)) return new_marketable(o, level, immediate);

  // A passive limit order: it cannot trade, it rests. Nothing was erased
  // since the probe, so its empty cell is still the right place.
  listener_->on_accepted(Accepted{params_.id, o.id, o.account, o.side, o.type, o.tif, o.stp,
                                  o.post_only, o.price_fen, o.qty, o.expire_date});
  rest_new<true>(o, level, o.qty, 0, probe.cell);
  return RejectReason::none;
}

template <class L>
template <bool kHaveCell>
inline void Book<L>::rest_new(const NewOrder& o, std::int32_t level, Qty leaves, Qty filled,
                              std::uint32_t cell) noexcept {
  const std::uint32_t s = alloc_slot();
  Slot& n = slots_[s];
  n.id = o.id;
  n.leaves_qty = leaves;
  n.filled_qty = filled;
  n.level = level;
  n.account = o.account;
  n.expire_date = o.tif == TimeInForce::gtd ? o.expire_date : 0;
  n.side = o.side;
  n.tif = o.tif;
  n.stp = o.stp;
  n.post_only = o.post_only;
  link_back(s);
  if constexpr (kHaveCell) {
    index_.insert_at(cell, o.id, s);
    n.cell = cell;
  } else {
    n.cell = index_.insert(o.id, s);
  }
  emit_level(o.side, level);
}

template <class L>
RejectReason Book<L>::new_marketable(const NewOrder& o, std::int32_t level, bool immediate) {
  const bool crossing = crosses(o.side, level);
  if (crossing) {
    if (o.post_only) return reject(o, RejectReason::post_only_would_cross);
    if (call_phase_) return new_in_call(o, level);  // immediate orders were rejected
  }
  Aggressor a{o.id, o.account, o.stp, false, o.qty, 0};
  if (o.tif == TimeInForce::fok && !fok_fillable(o.side, a, level)) {
    return reject(o, RejectReason::fok_not_fillable);
  }
  listener_->on_accepted(Accepted{params_.id, o.id, o.account, o.side, o.type, o.tif, o.stp,
                                  o.post_only, o.price_fen, o.qty, o.expire_date});
  if (crossing) {
    if (o.side == Side::buy) match<Side::buy>(a, level); else match<Side::sell>(a, level);
    if (a.leaves == 0) return RejectReason::none;
  }
  if (a.stp_stop || immediate) {
    listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, o.side, o.price_fen, a.leaves,
                                      a.filled,
                                      a.stp_stop ? CancelCause::self_trade : CancelCause::ioc_remainder});
    return RejectReason::none;
  }
  rest_new<false>(o, level, a.leaves, a.filled, 0);
  return RejectReason::none;
}

template <class L>
RejectReason Book<L>::cancel(const CancelOrder& c) {
  const std::uint32_t s = index_.find(c.id);
  RejectReason r = RejectReason::none;
  if (s == 0) r = RejectReason::unknown_order;
  else if (slots_[s].account != c.account) r = RejectReason::account_mismatch;
  if (r != RejectReason::none) {
    listener_->on_rejected(Rejected{params_.id, c.id, c.account, CommandKind::cancel, r});
    return r;
  }
  const Slot& o = slots_[s];
  unlink(s);
  listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, o.side, price_of(o.level),
                                    o.leaves_qty, o.filled_qty, CancelCause::requested});
  emit_level(o.side, o.level);
  free_slot(s);
  if (call_phase_) [[unlikely]] refresh_indicative();
  return RejectReason::none;
}

template <class L>
RejectReason Book<L>::replace(const ReplaceOrder& rp) {
  const RejectReason r = replace_body(rp);
  if (call_phase_ && r == RejectReason::none) [[unlikely]] refresh_indicative();
  return r;
}

template <class L>
RejectReason Book<L>::replace_body(const ReplaceOrder& rp) {
  const std::uint32_t s = index_.find(rp.id);
  RejectReason r = RejectReason::none;
  std::int32_t level = 0;
  bool price_change = false;
  bool crossing = false;
  if (s == 0) {
    r = RejectReason::unknown_order;
  } else if (slots_[s].account != rp.account) {
    r = RejectReason::account_mismatch;
  } else {
    switch (state_) {
      case TradingState::closed: r = RejectReason::instrument_closed; break;
      case TradingState::halted: r = RejectReason::instrument_halted; break;
      case TradingState::midday_break: r = RejectReason::trading_break; break;
      case TradingState::pre_open:
      case TradingState::call:
      case TradingState::open: break;
    }
    if (r == RejectReason::none) r = check_qty(rp.qty);
    if (r == RejectReason::none) r = check_price(rp.price_fen, level);
    if (r == RejectReason::none && level != slots_[s].level) {
      price_change = true;
      if (level < band_low_ || level > band_high_) {
        r = RejectReason::price_outside_band;
      } else {
        crossing = crosses(slots_[s].side, level);
        if (crossing && slots_[s].post_only) r = RejectReason::post_only_would_cross;
      }
    }
  }
  if (r != RejectReason::none) {
    listener_->on_rejected(Rejected{params_.id, rp.id, rp.account, CommandKind::replace, r});
    return r;
  }

  Slot& o = slots_[s];
  const Side side = o.side;
  const int si = static_cast<int>(side);
  if (rp.qty <= o.filled_qty) {
    unlink(s);
    listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, side, price_of(o.level),
                                      o.leaves_qty, o.filled_qty, CancelCause::replaced_to_filled});
    emit_level(side, o.level);
    free_slot(s);
    return RejectReason::none;
  }
  const Qty leaves = rp.qty - o.filled_qty;
  if (!price_change) {
    const bool keep = leaves <= o.leaves_qty;
    const Qty delta = leaves - o.leaves_qty;
    if (keep) {
      levels_[si][static_cast<std::size_t>(o.level)].qty += delta;
      o.leaves_qty = leaves;
    } else {
      unlink(s);
      o.leaves_qty = leaves;
      link_back(s);
    }
    listener_->on_replaced(Replaced{params_.id, o.id, o.account, side, rp.price_fen, rp.price_fen,
                                    rp.qty, leaves, o.filled_qty, keep});
    if (delta != 0) emit_level(side, o.level);
    return RejectReason::none;
  }

  const std::int32_t old_level = o.level;
  unlink(s);
  listener_->on_replaced(Replaced{params_.id, o.id, o.account, side, price_of(old_level),
                                  rp.price_fen, rp.qty, leaves, o.filled_qty, false});
  emit_level(side, old_level);
  o.leaves_qty = leaves;
  o.level = level;
  if (crossing && call_phase_) {
    // No matching in a call phase; self-trade prevention at entry.
    if (stp_in_call(side, o.account, o.stp, level)) {
      listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, side, rp.price_fen, leaves,
                                        o.filled_qty, CancelCause::self_trade});
      free_slot(s);
      return RejectReason::none;
    }
  } else if (crossing) {
    Aggressor a{o.id, o.account, o.stp, false, leaves, o.filled_qty};
    if (side == Side::buy) match<Side::buy>(a, level); else match<Side::sell>(a, level);
    o.leaves_qty = a.leaves;
    o.filled_qty = a.filled;
    if (a.leaves == 0) {
      free_slot(s);
      return RejectReason::none;
    }
    if (a.stp_stop) {
      listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, side, rp.price_fen, a.leaves,
                                        a.filled, CancelCause::self_trade});
      free_slot(s);
      return RejectReason::none;
    }
  }
  link_back(s);
  emit_level(side, level);
  return RejectReason::none;
}

template <class L>
template <class Visit>
std::uint32_t Book<L>::sweep(Visit&& visit) {
  std::uint32_t removed = 0;
  for (int side = 0; side < 2; ++side) {
    std::int32_t lvl = best_[side];
    while (side == 0 ? lvl >= 0 : lvl < levels_count_) {
      const Qty before = levels_[side][static_cast<std::size_t>(lvl)].qty;
      std::uint32_t s = levels_[side][static_cast<std::size_t>(lvl)].head;
      while (s != 0) {
        const std::uint32_t next = slots_[s].next;
        if (visit(static_cast<const Slot&>(slots_[s]), price_of(lvl))) {
          unlink(s);
          free_slot(s);
          ++removed;
        }
        s = next;
      }
      if (levels_[side][static_cast<std::size_t>(lvl)].qty != before) emit_level(static_cast<Side>(side), lvl);
      lvl = side == 0 ? bitmap_[0].find_prev(lvl - 1) : bitmap_[1].find_next(lvl + 1);
    }
  }
  return removed;
}

template <class L>
std::uint32_t Book<L>::mass_cancel(AccountId account) {
  const std::uint32_t n = sweep([&](const Slot& o, PriceFen price) {
    if (o.account != account) return false;
    listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, o.side, price, o.leaves_qty,
                                      o.filled_qty, CancelCause::mass_cancel});
    return true;
  });
  refresh_indicative();
  return n;
}

template <class L>
RejectReason Book<L>::set_state(TradingState state, bool cancel_resting) {
  if (static_cast<std::uint8_t>(state) >= kTradingStateCount) return RejectReason::invalid_state;
  if (cancel_resting && state != TradingState::halted) return RejectReason::invalid_state;
  if (state == TradingState::open && best_[0] >= best_[1]) return RejectReason::book_crossed;
  if (state != state_) {
    const TradingState previous = state_;
    state_ = state;
    update_fast();
    listener_->on_state(StateChanged{params_.id, previous, state});
  }
  if (cancel_resting) {
    sweep([&](const Slot& o, PriceFen price) {
      listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, o.side, price, o.leaves_qty,
                                        o.filled_qty, CancelCause::halt});
      return true;
    });
  }
  refresh_indicative();
  return RejectReason::none;
}

template <class L>
std::uint32_t Book<L>::end_of_day() {
  const std::uint32_t n = sweep([&](const Slot& o, PriceFen price) {
    if (o.tif != TimeInForce::day) return false;
    listener_->on_expired(Expired{params_.id, o.id, o.account, o.side, price, o.leaves_qty,
                                  o.filled_qty, TimeInForce::day});
    return true;
  });
  if (state_ != TradingState::closed) {
    const TradingState previous = state_;
    state_ = TradingState::closed;
    update_fast();
    listener_->on_state(StateChanged{params_.id, previous, state_});
  }
  refresh_indicative();
  return n;
}

template <class L>
std::uint32_t Book<L>::expire_gtd(Date date) {
  if (date > gtd_expired_through_) gtd_expired_through_ = date;
  const std::uint32_t n = sweep([&](const Slot& o, PriceFen price) {
    if (o.tif != TimeInForce::gtd || o.expire_date > date) return false;
    listener_->on_expired(Expired{params_.id, o.id, o.account, o.side, price, o.leaves_qty,
                                  o.filled_qty, TimeInForce::gtd});
    return true;
  });
  refresh_indicative();
  return n;
}

template <class L>
RejectReason Book<L>::set_reference(PriceFen reference_fen) {
  if (reference_fen < params_.floor_fen) return RejectReason::price_below_floor;
  if (reference_fen > params_.ceiling_fen) return RejectReason::price_above_ceiling;
  reference_fen_ = reference_fen;
  update_band();
  listener_->on_reference(
      ReferenceChanged{params_.id, reference_fen_, band_low_fen_, band_high_fen_});
  refresh_indicative();  // the reference breaks ties of the auction price
  return RejectReason::none;
}


// --------------------------------------------------------- call auction

template <class L>
typename Book<L>::Clearing Book<L>::clearing() const noexcept {
  const std::int32_t hi = best_[0];  // best bid
  const std::int32_t lo = best_[1];  // best ask
  if (hi < lo) return Clearing{-1, 0, 0};
  // Every candidate outside [lo, hi] has volume 0 < the volume at lo, so
  // only the non-empty levels of either side in [lo, hi] are evaluated.
  // D(lo) = every bid in [lo, hi]; walking up, S gains the asks at a level
  // and D loses the bids below it.
  const Level* const bids = levels_[0].data();
  const Level* const asks = levels_[1].data();
  Qty demand = 0;
  for (std::int32_t l = hi; l >= lo; l = bitmap_[0].find_prev(l - 1)) {
    demand += bids[static_cast<std::size_t>(l)].qty;
  }
  Qty supply = 0;
  Clearing best{-1, 0, 0};
  Qty best_abs = 0;
  PriceFen best_dist = 0;
  std::int32_t l = lo;
  while (l <= hi) {
    const auto i = static_cast<std::size_t>(l);
    supply += asks[i].qty;
    const Qty volume = demand < supply ? demand : supply;
    const Qty imbalance = demand - supply;
    const Qty abs = imbalance < 0 ? -imbalance : imbalance;
    const PriceFen d = price_of(l) - reference_fen_;
    const PriceFen dist = d < 0 ? -d : d;
    // Ascending prices: on a full tie the lower price, met first, stays.
    if (best.level < 0 || volume > best.volume ||
        (volume == best.volume && (abs < best_abs || (abs == best_abs && dist < best_dist)))) {
      best = Clearing{l, volume, imbalance};
      best_abs = abs;
      best_dist = dist;
    }
    demand -= bids[i].qty;
    const std::int32_t nb = bitmap_[0].find_next(l + 1);
    const std::int32_t na = bitmap_[1].find_next(l + 1);
    l = nb < na ? nb : na;
  }
  assert(best.level >= lo && best.volume > 0);
  return best;
}

template <class L>
Indicative Book<L>::compute_indicative() const noexcept {
  if (!call_phase_) return Indicative{params_.id, 0, 0, 0};
  const Clearing c = clearing();
  if (c.level < 0) return Indicative{params_.id, 0, 0, 0};
  return Indicative{params_.id, price_of(c.level), c.volume, c.imbalance};
}

template <class L>
void Book<L>::refresh_indicative() noexcept {
  const Indicative now = compute_indicative();
  if (now != indicative_) {
    indicative_ = now;
    listener_->on_indicative(now);
  }
}

template <class L>
bool Book<L>::crosses_own(Side side, AccountId account, std::int32_t limit) const noexcept {
  const int o = 1 - static_cast<int>(side);
  std::int32_t lvl = best_[o];
  while (side == Side::buy ? lvl <= limit : lvl >= limit) {
    for (std::uint32_t s = levels_[o][static_cast<std::size_t>(lvl)].head; s != 0; s = slots_[s].next) {
      if (slots_[s].account == account) return true;
    }
    lvl = side == Side::buy ? bitmap_[o].find_next(lvl + 1) : bitmap_[o].find_prev(lvl - 1);
  }
  return false;
}

template <class L>
bool Book<L>::stp_in_call(Side side, AccountId account, StpMode stp, std::int32_t limit) noexcept {
  const Side opp = opposite(side);
  const int o = static_cast<int>(opp);
  std::int32_t lvl = best_[o];
  while (side == Side::buy ? lvl <= limit : lvl >= limit) {
    Level& lv = levels_[o][static_cast<std::size_t>(lvl)];
    const Qty before = lv.qty;
    const PriceFen price = price_of(lvl);
    bool stop = false;
    for (std::uint32_t s = lv.head; s != 0;) {
      const Slot& r = slots_[s];
      const std::uint32_t next = r.next;
      if (r.account == account) {
        if (stp == StpMode::cancel_newest) return true;  // nothing touched yet
        listener_->on_cancelled(Cancelled{params_.id, r.id, r.account, opp, price, r.leaves_qty,
                                          r.filled_qty, CancelCause::self_trade});
        unlink(s);
        free_slot(s);
        if (stp == StpMode::cancel_both) {
          stop = true;
          break;
        }
      }
      s = next;
    }
    if (lv.qty != before) emit_level(opp, lvl);
    if (stop) return true;
    lvl = side == Side::buy ? bitmap_[o].find_next(lvl + 1) : bitmap_[o].find_prev(lvl - 1);
  }
  return false;
}

template <class L>
RejectReason Book<L>::new_in_call(const NewOrder& o, std::int32_t level) {
  listener_->on_accepted(Accepted{params_.id, o.id, o.account, o.side, o.type, o.tif, o.stp,
                                  o.post_only, o.price_fen, o.qty, o.expire_date});
  if (stp_in_call(o.side, o.account, o.stp, level)) {
    listener_->on_cancelled(Cancelled{params_.id, o.id, o.account, o.side, o.price_fen, o.qty, 0,
                                      CancelCause::self_trade});
  } else {
    rest_new<false>(o, level, o.qty, 0, 0);  // cancellations may have moved index cells
  }
  refresh_indicative();
  return RejectReason::none;
}

template <class L>
void Book<L>::fill_side(Side side, Qty volume) noexcept {
  const int si = static_cast<int>(side);
  std::int32_t lvl = best_[si];
  Qty left = volume;
  while (left > 0) {
    assert(side == Side::buy ? lvl >= 0 : lvl < levels_count_);
    Level& lv = levels_[si][static_cast<std::size_t>(lvl)];
    std::uint32_t s = lv.head;
    while (s != 0 && left > 0) {
      Slot& r = slots_[s];
      const std::uint32_t next = r.next;
      if (r.leaves_qty <= left) {
        left -= r.leaves_qty;
        unlink(s);
        free_slot(s);
      } else {
        r.leaves_qty -= left;
        r.filled_qty += left;
        lv.qty -= left;
        left = 0;
      }
      s = next;
    }
    emit_level(side, lvl);
    lvl = side == Side::buy ? bitmap_[0].find_prev(lvl - 1) : bitmap_[1].find_next(lvl + 1);
  }
}

template <class L>
UncrossResult Book<L>::uncross() {
  if (!call_phase_) return UncrossResult{RejectReason::invalid_state, 0, 0, 0, 0};
  const Clearing c = clearing();
  if (c.level < 0) return UncrossResult{RejectReason::none, 0, 0, 0, 0};
  const PriceFen px = price_of(c.level);
  // Pass 1 (reads only): the trades, walking the eligible buys (best bid
  // down) and sells (best ask up) together.
  std::uint32_t trades = 0;
  {
    std::int32_t bl = best_[0];
    std::int32_t al = best_[1];
    std::uint32_t b = levels_[0][static_cast<std::size_t>(bl)].head;
    std::uint32_t a = levels_[1][static_cast<std::size_t>(al)].head;
    Qty b_left = slots_[b].leaves_qty;
    Qty a_left = slots_[a].leaves_qty;
    Qty left = c.volume;
    for (;;) {
      const Slot& bo = slots_[b];
      const Slot& ao = slots_[a];
      assert(bl >= c.level && al <= c.level);
      assert(bo.account != ao.account);  // no self-crossing pairs in a call book
      const Qty q = b_left < a_left ? b_left : a_left;
      assert(q > 0 && q <= left);
      b_left -= q;
      a_left -= q;
      left -= q;
      listener_->on_trade(Trade{params_.id, next_trade_id_++, px, q, Side::buy, bo.id, bo.account,
                                b_left, ao.id, ao.account, a_left});
      ++trades;
      if (left == 0) break;
      if (b_left == 0) {
        b = bo.next;
        if (b == 0) {
          bl = bitmap_[0].find_prev(bl - 1);
          b = levels_[0][static_cast<std::size_t>(bl)].head;
        }
        b_left = slots_[b].leaves_qty;
      }
      if (a_left == 0) {
        a = ao.next;
        if (a == 0) {
          al = bitmap_[1].find_next(al + 1);
          a = levels_[1][static_cast<std::size_t>(al)].head;
        }
        a_left = slots_[a].leaves_qty;
      }
    }
  }
  // Pass 2: apply the same fills side by side (each side fills in priority
  // order up to the volume), LevelChanged per level in canonical order.
  fill_side(Side::buy, c.volume);
  fill_side(Side::sell, c.volume);
  assert(best_[0] < best_[1]);
  refresh_indicative();
  return UncrossResult{RejectReason::none, px, c.volume, c.imbalance, trades};
}

// ------------------------------------------------------------- queries

template <class L>
std::optional<PriceFen> Book<L>::best_bid() const noexcept {
  if (best_[0] < 0) return std::nullopt;
  return price_of(best_[0]);
}

template <class L>
std::optional<PriceFen> Book<L>::best_ask() const noexcept {
  if (best_[1] >= levels_count_) return std::nullopt;
  return price_of(best_[1]);
}

template <class L>
Qty Book<L>::level_qty(Side side, PriceFen price_fen) const noexcept {
  std::int32_t level = 0;
  if (static_cast<std::uint8_t>(side) > 1) return 0;
  if (check_price(price_fen, level) != RejectReason::none) return 0;
  return levels_[static_cast<int>(side)][static_cast<std::size_t>(level)].qty;
}

template <class L>
std::optional<RestingOrder> Book<L>::find(OrderId id) const noexcept {
  const std::uint32_t s = index_.find(id);
  if (s == 0) return std::nullopt;
  return detail::to_resting(slots_[s], price_of(slots_[s].level));
}

template <class L>
BookMeta Book<L>::meta() const noexcept {
  return BookMeta{state_, reference_fen_, next_trade_id_, gtd_expired_through_};
}

template <class L>
const char* Book<L>::audit() const noexcept {
  std::uint32_t count = 0;
  std::int32_t best[2] = {-1, levels_count_};
  for (int side = 0; side < 2; ++side) {
    for (std::int32_t i = 0; i < levels_count_; ++i) {
      const Level& lv = levels_[side][static_cast<std::size_t>(i)];
      const bool bit = bitmap_[side].test(static_cast<std::uint32_t>(i));
      if ((lv.head == 0) != (lv.tail == 0)) return "level head/tail disagree";
      if ((lv.head != 0) != bit) return "level bitmap disagrees with the level";
      if ((lv.head == 0) != (lv.qty == 0)) return "empty level with a quantity";
      if (lv.head == 0) continue;
      if (side == 0) best[0] = i;
      else if (best[1] == levels_count_) best[1] = i;
      Qty sum = 0;
      std::uint32_t prev = 0;
      for (std::uint32_t s = lv.head; s != 0; s = slots_[s].next) {
        const Slot& o = slots_[s];
        if (s > params_.max_orders) return "slot index out of the pool";
        if (o.prev != prev) return "broken prev link";
        if (o.level != i || static_cast<int>(o.side) != side) return "order linked in the wrong level";
        if (o.leaves_qty <= 0 || o.filled_qty < 0) return "non-positive leaves or negative filled";
        if (o.leaves_qty + o.filled_qty > params_.max_order_qty) return "order above max_order_qty";
        if (index_.find(o.id) != s) return "index does not map the id to its slot";
        if (index_.probe(o.id).cell != o.cell) return "slot's cell is stale";
        sum += o.leaves_qty;
        prev = s;
        if (++count > params_.max_orders) return "FIFO cycle or too many orders";
      }
      if (prev != lv.tail) return "level tail is not the last order";
      if (sum != lv.qty) return "level quantity is not the sum of its orders";
    }
  }
  if (best[0] != best_[0]) return "best bid is stale";
  if (best[1] != best_[1]) return "best ask is stale";
  if (state_ == TradingState::open && best_[0] >= best_[1]) return "book is crossed in open";
  if (call_phase_ != is_call_phase(state_)) return "call phase flag is stale";
  // No buy crosses a sell of its own account (O(crossing orders ^ 2)).
  for (std::int32_t b = best_[0]; b >= 0 && b >= best_[1]; b = bitmap_[0].find_prev(b - 1)) {
    for (std::uint32_t s = levels_[0][static_cast<std::size_t>(b)].head; s != 0; s = slots_[s].next) {
      if (crosses_own(Side::buy, slots_[s].account, b)) return "an order crosses its own account";
    }
  }
  if (compute_indicative() != indicative_) return "indicative is stale";
  if (count != resting_) return "resting count is wrong";
  if (count != index_.size()) return "index size differs from the resting count";
  return nullptr;
}

template <class L>
template <class F>
void Book<L>::for_each_resting(F&& f) const {
  for (int side = 0; side < 2; ++side) {
    std::int32_t lvl = best_[side];
    while (side == 0 ? lvl >= 0 : lvl < levels_count_) {
      const PriceFen price = price_of(lvl);
      for (std::uint32_t s = levels_[side][static_cast<std::size_t>(lvl)].head; s != 0; s = slots_[s].next) {
        f(detail::to_resting(slots_[s], price));
      }
      lvl = side == 0 ? bitmap_[0].find_prev(lvl - 1) : bitmap_[1].find_next(lvl + 1);
    }
  }
}

template <class L>
RejectReason Book<L>::restore_meta(const BookMeta& m) {
  if (static_cast<std::uint8_t>(m.state) >= kTradingStateCount) return RejectReason::invalid_state;
  if (m.next_trade_id == 0) return RejectReason::restore_invalid;
  if (m.reference_fen != 0 || params_.band_bps != 0) {
    if (m.reference_fen < params_.floor_fen) return RejectReason::price_below_floor;
    if (m.reference_fen > params_.ceiling_fen) return RejectReason::price_above_ceiling;
  }
  state_ = m.state;
  reference_fen_ = m.reference_fen;
  next_trade_id_ = m.next_trade_id;
  gtd_expired_through_ = m.gtd_expired_through;
  update_band();
  indicative_ = compute_indicative();
  return RejectReason::none;
}

template <class L>
RejectReason Book<L>::restore(const RestingOrder& ro) {
  std::int32_t level = 0;
  const bool bad =
      static_cast<std::uint8_t>(ro.side) > 1 || static_cast<std::uint8_t>(ro.stp) > 2 ||
      !(ro.tif == TimeInForce::day || ro.tif == TimeInForce::gtc || ro.tif == TimeInForce::gtd) ||
      (ro.tif == TimeInForce::gtd && ro.expire_date == 0) || ro.filled_qty < 0 ||
      check_qty(ro.leaves_qty) != RejectReason::none ||
      (ro.filled_qty > 0 && check_qty(ro.filled_qty) != RejectReason::none) ||
      ro.leaves_qty > params_.max_order_qty - ro.filled_qty ||
      check_price(ro.price_fen, level) != RejectReason::none;
  if (bad) return RejectReason::restore_invalid;
  if (index_.find(ro.id) != 0) return RejectReason::duplicate_order_id;
  if (resting_ >= params_.max_orders) return RejectReason::book_full;
  if (crosses(ro.side, level)) {
    // Only after a call phase may the book be crossed, and never by two
    // orders of one account.
    if (state_ == TradingState::open || crosses_own(ro.side, ro.account, level)) {
      return RejectReason::restore_crosses;
    }
  }
  const std::uint32_t s = alloc_slot();
  Slot& n = slots_[s];
  n.id = ro.id;
  n.leaves_qty = ro.leaves_qty;
  n.filled_qty = ro.filled_qty;
  n.level = level;
  n.account = ro.account;
  n.expire_date = ro.tif == TimeInForce::gtd ? ro.expire_date : 0;
  n.side = ro.side;
  n.tif = ro.tif;
  n.stp = ro.stp;
  n.post_only = ro.post_only;
  link_back(s);
  n.cell = index_.insert(ro.id, s);
  if (call_phase_) indicative_ = compute_indicative();
  return RejectReason::none;
}

// -------------------------------------------------------------- engine

template <class L>
Engine<L>::Engine(std::span<const InstrumentParams> params, L& listener) : listener_(&listener) {
  books_.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].id != i) detail::throw_bad_instrument_id(params[i].id, i);
    books_.push_back(std::make_unique<Book<L>>(params[i], listener));
  }
}

template <class L>
RejectReason Engine<L>::new_order(const NewOrder& o) {
  if (o.instrument >= books_.size()) [[unlikely]] {
    listener_->on_rejected(Rejected{o.instrument, o.id, o.account, CommandKind::new_order,
                                    RejectReason::unknown_instrument});
    return RejectReason::unknown_instrument;
  }
  return books_[o.instrument]->new_order(o);
}

template <class L>
RejectReason Engine<L>::cancel(const CancelOrder& c) {
  if (c.instrument >= books_.size()) [[unlikely]] {
    listener_->on_rejected(Rejected{c.instrument, c.id, c.account, CommandKind::cancel,
                                    RejectReason::unknown_instrument});
    return RejectReason::unknown_instrument;
  }
  return books_[c.instrument]->cancel(c);
}

template <class L>
RejectReason Engine<L>::replace(const ReplaceOrder& r) {
  if (r.instrument >= books_.size()) [[unlikely]] {
    listener_->on_rejected(Rejected{r.instrument, r.id, r.account, CommandKind::replace,
                                    RejectReason::unknown_instrument});
    return RejectReason::unknown_instrument;
  }
  return books_[r.instrument]->replace(r);
}

template <class L>
std::uint32_t Engine<L>::mass_cancel(AccountId account, std::optional<InstrumentId> instrument) {
  if (instrument) {
    return *instrument < books_.size() ? books_[*instrument]->mass_cancel(account) : 0;
  }
  std::uint32_t n = 0;
  for (auto& b : books_) n += b->mass_cancel(account);
  return n;
}

template <class L>
RejectReason Engine<L>::set_state(InstrumentId id, TradingState state, bool cancel_resting) {
  if (id >= books_.size()) return RejectReason::unknown_instrument;
  return books_[id]->set_state(state, cancel_resting);
}

template <class L>
RejectReason Engine<L>::end_of_day(InstrumentId id) {
  if (id >= books_.size()) return RejectReason::unknown_instrument;
  books_[id]->end_of_day();
  return RejectReason::none;
}

template <class L>
RejectReason Engine<L>::expire_gtd(InstrumentId id, Date date) {
  if (id >= books_.size()) return RejectReason::unknown_instrument;
  books_[id]->expire_gtd(date);
  return RejectReason::none;
}

template <class L>
RejectReason Engine<L>::set_reference(InstrumentId id, PriceFen reference_fen) {
  if (id >= books_.size()) return RejectReason::unknown_instrument;
  return books_[id]->set_reference(reference_fen);
}

template <class L>
UncrossResult Engine<L>::uncross(InstrumentId id) {
  if (id >= books_.size()) return UncrossResult{RejectReason::unknown_instrument, 0, 0, 0, 0};
  return books_[id]->uncross();
}

}  // namespace haihe::engine
