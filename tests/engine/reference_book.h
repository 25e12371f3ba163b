// A deliberately simple reference implementation of the engine contract
// (engine/engine.h), for differential tests. One std::vector of resting
// orders per book, sorted on demand by price and arrival sequence; every
// rule written out the obvious way, no indexes, no bitmaps, no pools. Call
// auctions use the brute-force model of tests/engine/auction_model.h, and
// the indicative is recomputed from scratch after every command.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "tests/engine/auction_model.h"
#include "tests/engine/test_util.h"

namespace haihe::engine::test {

struct RefOrder {
  OrderId id;
  AccountId account;
  Side side;
  TimeInForce tif;
  StpMode stp;
  bool post_only;
  PriceFen price;
  Qty leaves;
  Qty filled;
  Date expire;
  std::uint64_t seq;  // time priority: lower is older
};

class RefBook {
 public:
  RefBook(const InstrumentParams& p, Recorder& out) : p_(p), out_(out), ref_(p.reference_fen) {}

  const std::vector<RefOrder>& orders() const { return orders_; }
  TradingState state() const { return state_; }
  Indicative indicative() const { return indicative_; }
  bool call_phase() const { return state_ == TradingState::pre_open || state_ == TradingState::call; }
  bool crossed() const {
    for (const auto& b : orders_) {
      for (const auto& a : orders_) {
        if (b.side == Side::buy && a.side == Side::sell && b.price >= a.price) return true;
      }
    }
    return false;
  }

  /// Resting orders in canonical order: bids best first, then asks, oldest first.
  std::vector<RefOrder> canonical() const {
    std::vector<RefOrder> bids;
    std::vector<RefOrder> asks;
    for (const auto& o : orders_) (o.side == Side::buy ? bids : asks).push_back(o);
    std::sort(bids.begin(), bids.end(), [](const RefOrder& a, const RefOrder& b) {
      return a.price != b.price ? a.price > b.price : a.seq < b.seq;
    });
    std::sort(asks.begin(), asks.end(), [](const RefOrder& a, const RefOrder& b) {
      return a.price != b.price ? a.price < b.price : a.seq < b.seq;
    });
    bids.insert(bids.end(), asks.begin(), asks.end());
    return bids;
  }

  RejectReason new_order(const NewOrder& o) {
    const RejectReason r = check_new(o);
    if (r != RejectReason::none) {
      out_.on_rejected(Rejected{p_.id, o.id, o.account, CommandKind::new_order, r});
      return r;
    }
    out_.on_accepted(Accepted{p_.id, o.id, o.account, o.side, o.type, o.tif, o.stp, o.post_only,
                              o.price_fen, o.qty, o.expire_date});
    RefOrder a{o.id, o.account, o.side, o.tif, o.stp, o.post_only, o.price_fen, o.qty, 0,
               o.tif == TimeInForce::gtd ? o.expire_date : 0, 0};
    if (call_phase()) {
      // No matching: self-trade prevention at entry, then rest.
      if (stp_in_call(a)) {
        out_.on_cancelled(Cancelled{p_.id, a.id, a.account, a.side, o.price_fen, a.leaves, 0,
                                    CancelCause::self_trade});
      } else {
        rest(a);
      }
      refresh();
      return RejectReason::none;
    }
    const bool immediate = is_immediate(o);
    const bool stopped = match(a, limit_of(o));
    if (a.leaves == 0) return RejectReason::none;
    if (stopped || immediate) {
      out_.on_cancelled(Cancelled{p_.id, a.id, a.account, a.side, o.price_fen, a.leaves, a.filled,
                                  stopped ? CancelCause::self_trade : CancelCause::ioc_remainder});
      return RejectReason::none;
    }
    rest(a);
    return RejectReason::none;
  }

  RejectReason cancel(const CancelOrder& c) {
    auto it = find(c.id);
    RejectReason r = RejectReason::none;
    if (it == orders_.end()) r = RejectReason::unknown_order;
    else if (it->account != c.account) r = RejectReason::account_mismatch;
    if (r != RejectReason::none) {
      out_.on_rejected(Rejected{p_.id, c.id, c.account, CommandKind::cancel, r});
      return r;
    }
    const RefOrder o = *it;
    orders_.erase(it);
    out_.on_cancelled(Cancelled{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                                CancelCause::requested});
    level_event(o.side, o.price);
    refresh();
    return RejectReason::none;
  }

  RejectReason replace(const ReplaceOrder& rp) {
    const RejectReason r = replace_body(rp);
    refresh();
    return r;
  }

  RejectReason replace_body(const ReplaceOrder& rp) {
    auto it = find(rp.id);
    RejectReason r = RejectReason::none;
    if (it == orders_.end()) {
      r = RejectReason::unknown_order;
    } else if (it->account != rp.account) {
      r = RejectReason::account_mismatch;
    } else if (state_ == TradingState::closed) {
      r = RejectReason::instrument_closed;
    } else if (state_ == TradingState::halted) {
      r = RejectReason::instrument_halted;
    } else if (state_ == TradingState::midday_break) {
      r = RejectReason::trading_break;
    } else if ((r = check_qty(rp.qty)) != RejectReason::none) {
    } else if ((r = check_price(rp.price_fen)) != RejectReason::none) {
    } else if (rp.price_fen != it->price) {
      if (rp.price_fen < band_low() || rp.price_fen > band_high()) {
        r = RejectReason::price_outside_band;
      } else if (would_trade(it->side, rp.price_fen) && it->post_only) {
        r = RejectReason::post_only_would_cross;
      }
    }
    if (r != RejectReason::none) {
      out_.on_rejected(Rejected{p_.id, rp.id, rp.account, CommandKind::replace, r});
      return r;
    }
    RefOrder o = *it;
    if (rp.qty <= o.filled) {
      orders_.erase(it);
      out_.on_cancelled(Cancelled{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                                  CancelCause::replaced_to_filled});
      level_event(o.side, o.price);
      return RejectReason::none;
    }
    const Qty leaves = rp.qty - o.filled;
    if (rp.price_fen == o.price) {
      const bool keep = leaves <= o.leaves;
      const Qty before = o.leaves;
      it->leaves = leaves;
      if (!keep) it->seq = ++seq_;
      out_.on_replaced(Replaced{p_.id, o.id, o.account, o.side, o.price, o.price, rp.qty, leaves,
                                o.filled, keep});
      if (leaves != before) level_event(o.side, o.price);
      return RejectReason::none;
    }
    orders_.erase(it);
    out_.on_replaced(Replaced{p_.id, o.id, o.account, o.side, o.price, rp.price_fen, rp.qty, leaves,
                              o.filled, false});
    level_event(o.side, o.price);
    o.price = rp.price_fen;
    o.leaves = leaves;
    const bool stopped = call_phase() ? stp_in_call(o) : match(o, o.price);
    if (o.leaves == 0) return RejectReason::none;
    if (stopped) {
      out_.on_cancelled(Cancelled{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                                  CancelCause::self_trade});
      return RejectReason::none;
    }
    rest(o);
    return RejectReason::none;
  }

  std::uint32_t mass_cancel(AccountId account) {
    const std::uint32_t n = sweep([&](const RefOrder& o) {
      if (o.account != account) return false;
      out_.on_cancelled(Cancelled{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                                  CancelCause::mass_cancel});
      return true;
    });
    refresh();
    return n;
  }

  RejectReason set_state(TradingState s, bool cancel_resting) {
    if (static_cast<int>(s) > 5) return RejectReason::invalid_state;
    if (cancel_resting && s != TradingState::halted) return RejectReason::invalid_state;
    if (s == TradingState::open && crossed()) return RejectReason::book_crossed;
    if (s != state_) {
      out_.on_state(StateChanged{p_.id, state_, s});
      state_ = s;
    }
    if (cancel_resting) {
      sweep([&](const RefOrder& o) {
        out_.on_cancelled(Cancelled{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                                    CancelCause::halt});
        return true;
      });
    }
    refresh();
    return RejectReason::none;
  }

  std::uint32_t end_of_day() {
    const std::uint32_t n = sweep([&](const RefOrder& o) {
      if (o.tif != TimeInForce::day) return false;
      out_.on_expired(Expired{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                              TimeInForce::day});
      return true;
    });
    if (state_ != TradingState::closed) {
      out_.on_state(StateChanged{p_.id, state_, TradingState::closed});
      state_ = TradingState::closed;
    }
    refresh();
    return n;
  }

  std::uint32_t expire_gtd(Date date) {
    gtd_through_ = std::max(gtd_through_, date);
    const std::uint32_t n = sweep([&](const RefOrder& o) {
      if (o.tif != TimeInForce::gtd || o.expire > date) return false;
      out_.on_expired(Expired{p_.id, o.id, o.account, o.side, o.price, o.leaves, o.filled,
                              TimeInForce::gtd});
      return true;
    });
    refresh();
    return n;
  }

  RejectReason set_reference(PriceFen ref) {
    if (ref < p_.floor_fen) return RejectReason::price_below_floor;
    if (ref > p_.ceiling_fen) return RejectReason::price_above_ceiling;
    ref_ = ref;
    out_.on_reference(ReferenceChanged{p_.id, ref_, band_low(), band_high()});
    refresh();
    return RejectReason::none;
  }

  /// The call auction, brute force: clearing over every distinct limit
  /// price, allocation by sorting the eligible orders.
  UncrossResult uncross() {
    if (!call_phase()) return UncrossResult{RejectReason::invalid_state, 0, 0, 0, 0};
    const std::vector<AuctionOrder> book = auction_orders();
    const AuctionClearing c = brute_clearing(book, ref_);
    if (c.volume == 0) return UncrossResult{};
    const std::vector<AuctionFill> fills = brute_allocate(book, c);
    std::map<std::pair<int, PriceFen>, bool> touched;
    for (const auto& f : fills) {
      out_.on_trade(Trade{p_.id, next_trade_++, c.price, f.qty, Side::buy, f.buy, f.buy_account,
                          f.buy_leaves_after, f.sell, f.sell_account, f.sell_leaves_after});
      for (const OrderId id : {f.buy, f.sell}) {
        auto it = find(id);
        it->leaves -= f.qty;
        it->filled += f.qty;
        touched[{static_cast<int>(it->side), it->price}] = true;
      }
    }
    orders_.erase(std::remove_if(orders_.begin(), orders_.end(), [](const RefOrder& o) { return o.leaves == 0; }),
                  orders_.end());
    // LevelChanged: bids best to worst, then asks best to worst.
    std::vector<std::pair<int, PriceFen>> levels;
    for (const auto& [k, v] : touched) levels.push_back(k);
    std::sort(levels.begin(), levels.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return a.first == 0 ? a.second > b.second : a.second < b.second;
    });
    for (const auto& [side, px] : levels) level_event(static_cast<Side>(side), px);
    refresh();
    return UncrossResult{RejectReason::none, c.price, c.volume, c.imbalance,
                         static_cast<std::uint32_t>(fills.size())};
  }

  std::vector<AuctionOrder> auction_orders() const {
    std::vector<AuctionOrder> out;
    for (const auto& o : orders_) out.push_back(AuctionOrder{o.id, o.account, o.side, o.price, o.leaves, o.seq});
    return out;
  }

 private:
  using Iter = std::vector<RefOrder>::iterator;

  Iter find(OrderId id) {
    return std::find_if(orders_.begin(), orders_.end(), [&](const RefOrder& o) { return o.id == id; });
  }

  PriceFen delta() const {
    return p_.band_bps == 0 ? 0 : ref_ * static_cast<PriceFen>(p_.band_bps) / 10000;
  }
  PriceFen band_low() const {
    if (p_.band_bps == 0) return p_.floor_fen;
    return std::max(p_.floor_fen, ref_ - delta());
  }
  PriceFen band_high() const {
    if (p_.band_bps == 0) return p_.ceiling_fen;
    return std::min(p_.ceiling_fen, ref_ + delta());
  }

  /// Recomputes the indicative; emits it when it changed.
  void refresh() {
    Indicative now{p_.id, 0, 0, 0};
    if (call_phase()) {
      const AuctionClearing c = brute_clearing(auction_orders(), ref_);
      now = Indicative{p_.id, c.price, c.volume, c.imbalance};
    }
    if (now != indicative_) {
      indicative_ = now;
      out_.on_indicative(now);
    }
  }

  /// Self-trade prevention at entry in a call phase for `a` (not resting):
  /// the own-account orders on the other side that cross its limit, in
  /// priority order. Returns true when `a` is to be cancelled.
  bool stp_in_call(const RefOrder& a) {
    std::vector<RefOrder> own;
    for (const auto& r : canonical()) {
      if (r.side != a.side && r.account == a.account && acceptable(a.side, a.price, r.price)) own.push_back(r);
    }
    if (own.empty()) return false;
    if (a.stp == StpMode::cancel_newest) return true;
    std::size_t i = 0;
    while (i < own.size()) {
      const PriceFen px = own[i].price;
      for (; i < own.size() && own[i].price == px; ++i) {
        const RefOrder r = own[i];
        orders_.erase(find(r.id));
        out_.on_cancelled(Cancelled{p_.id, r.id, r.account, r.side, r.price, r.leaves, r.filled,
                                    CancelCause::self_trade});
        if (a.stp == StpMode::cancel_both) {
          level_event(r.side, px);
          return true;
        }
      }
      level_event(own[i - 1].side, px);
    }
    return false;
  }

  static bool is_immediate(const NewOrder& o) {
    return o.type == OrderType::market || o.tif == TimeInForce::ioc || o.tif == TimeInForce::fok;
  }

  RejectReason check_qty(Qty q) const {
    if (q <= 0 || q > p_.max_order_qty) return RejectReason::invalid_quantity;
    if (q % p_.lot_qty != 0) return RejectReason::quantity_not_lot_multiple;
    return RejectReason::none;
  }
  RejectReason check_price(PriceFen px) const {
    if (px < p_.floor_fen) return RejectReason::price_below_floor;
    if (px > p_.ceiling_fen) return RejectReason::price_above_ceiling;
    if (px % p_.tick_fen != 0) return RejectReason::price_not_on_tick;
    return RejectReason::none;
  }

  PriceFen limit_of(const NewOrder& o) const {
    if (o.type == OrderType::limit) return o.price_fen;
    return o.side == Side::buy ? band_high() : band_low();
  }

  static bool acceptable(Side aggressor, PriceFen limit, PriceFen resting) {
    return aggressor == Side::buy ? resting <= limit : resting >= limit;
  }

  bool would_trade(Side side, PriceFen limit) const {
    for (const auto& o : orders_) {
      if (o.side != side && acceptable(side, limit, o.price)) return true;
    }
    return false;
  }

  RejectReason check_new(const NewOrder& o) const {
    if (static_cast<int>(o.side) > 1) return RejectReason::invalid_side;
    if (static_cast<int>(o.type) > 1) return RejectReason::invalid_order_type;
    if (static_cast<int>(o.tif) > 4) return RejectReason::invalid_time_in_force;
    if (static_cast<int>(o.stp) > 2) return RejectReason::invalid_stp_mode;
    const bool immediate = is_immediate(o);
    if (state_ == TradingState::closed) return RejectReason::instrument_closed;
    if (state_ == TradingState::halted) return RejectReason::instrument_halted;
    if (state_ == TradingState::midday_break) return RejectReason::trading_break;
    if (state_ == TradingState::pre_open && immediate) return RejectReason::not_allowed_in_pre_open;
    if (state_ == TradingState::call && immediate) return RejectReason::not_allowed_in_call;
    if (o.type == OrderType::market && o.tif != TimeInForce::ioc && o.tif != TimeInForce::fok) {
      return RejectReason::invalid_time_in_force;
    }
    if (o.post_only && immediate) return RejectReason::invalid_post_only;
    if (o.tif == TimeInForce::gtd && o.expire_date <= gtd_through_) return RejectReason::invalid_expire_date;
    if (const RejectReason r = check_qty(o.qty); r != RejectReason::none) return r;
    if (o.type == OrderType::limit) {
      if (const RejectReason r = check_price(o.price_fen); r != RejectReason::none) return r;
      if (o.price_fen < band_low() || o.price_fen > band_high()) return RejectReason::price_outside_band;
    }
    for (const auto& r : orders_) {
      if (r.id == o.id) return RejectReason::duplicate_order_id;
    }
    if (!immediate && orders_.size() >= p_.max_orders) return RejectReason::book_full;
    const PriceFen limit = limit_of(o);
    if (would_trade(o.side, limit) && o.post_only) return RejectReason::post_only_would_cross;
    if (o.tif == TimeInForce::fok) {
      Qty avail = 0;
      bool enough = false;
      for (const auto& r : canonical()) {
        if (r.side == o.side || !acceptable(o.side, limit, r.price)) continue;
        if (r.account == o.account) {
          if (o.stp == StpMode::cancel_oldest) continue;
          break;
        }
        avail += r.leaves;
        if (avail >= o.qty) {
          enough = true;
          break;
        }
      }
      if (!enough) return RejectReason::fok_not_fillable;
    }
    return RejectReason::none;
  }

  /// Matches `a` against the opposite side; returns true when self-trade
  /// prevention stopped (and cancels) the aggressor.
  bool match(RefOrder& a, PriceFen limit) {
    while (a.leaves > 0) {
      // The best opposite price within the limit, if any.
      std::optional<PriceFen> best;
      for (const auto& r : orders_) {
        if (r.side == a.side || !acceptable(a.side, limit, r.price)) continue;
        if (!best || (a.side == Side::buy ? r.price < *best : r.price > *best)) best = r.price;
      }
      if (!best) return false;
      const PriceFen px = *best;
      const Side rs = a.side == Side::buy ? Side::sell : Side::buy;
      const Qty before = level_total(rs, px);
      bool stop = false;
      // Walk this level oldest first.
      for (;;) {
        auto it = orders_.end();
        for (auto j = orders_.begin(); j != orders_.end(); ++j) {
          if (j->side == rs && j->price == px && (it == orders_.end() || j->seq < it->seq)) it = j;
        }
        if (it == orders_.end() || a.leaves == 0) break;
        if (it->account == a.account) {
          if (a.stp == StpMode::cancel_newest) {
            stop = true;
            break;
          }
          const RefOrder r = *it;
          orders_.erase(it);
          out_.on_cancelled(Cancelled{p_.id, r.id, r.account, r.side, r.price, r.leaves, r.filled,
                                      CancelCause::self_trade});
          if (a.stp == StpMode::cancel_both) {
            stop = true;
            break;
          }
          continue;
        }
        const Qty q = std::min(a.leaves, it->leaves);
        a.leaves -= q;
        a.filled += q;
        it->leaves -= q;
        it->filled += q;
        out_.on_trade(Trade{p_.id, next_trade_++, px, q, a.side, a.id, a.account, a.leaves, it->id,
                            it->account, it->leaves});
        if (it->leaves == 0) orders_.erase(it);
      }
      if (level_total(rs, px) != before) level_event(rs, px);
      if (stop) return true;
    }
    return false;
  }

  void rest(RefOrder o) {
    o.seq = ++seq_;
    orders_.push_back(o);
    level_event(o.side, o.price);
  }

  Qty level_total(Side side, PriceFen px) const {
    Qty t = 0;
    for (const auto& o : orders_) {
      if (o.side == side && o.price == px) t += o.leaves;
    }
    return t;
  }

  void level_event(Side side, PriceFen px) {
    out_.on_level(LevelChanged{p_.id, side, px, level_total(side, px)});
  }

  template <class Pred>
  std::uint32_t sweep(Pred&& remove) {
    std::uint32_t n = 0;
    const std::vector<RefOrder> all = canonical();
    std::size_t i = 0;
    while (i < all.size()) {
      const Side side = all[i].side;
      const PriceFen px = all[i].price;
      bool changed = false;
      for (; i < all.size() && all[i].side == side && all[i].price == px; ++i) {
        if (remove(all[i])) {
          orders_.erase(find(all[i].id));
          changed = true;
          ++n;
        }
      }
      if (changed) level_event(side, px);
    }
    return n;
  }

  InstrumentParams p_;
  Recorder& out_;
  std::vector<RefOrder> orders_;
  TradingState state_ = TradingState::closed;
  PriceFen ref_;
  TradeId next_trade_ = 1;
  Date gtd_through_ = 0;
  std::uint64_t seq_ = 0;
  Indicative indicative_{p_.id, 0, 0, 0};
};

/// Several RefBooks keyed by instrument id, with the Engine's command API.
class RefEngine {
 public:
  RefEngine(const std::vector<InstrumentParams>& ps, Recorder& out) : out_(out) {
    for (const auto& p : ps) books_.emplace_back(p, out);
  }
  RefBook* book(InstrumentId id) { return id < books_.size() ? &books_[id] : nullptr; }

  RejectReason new_order(const NewOrder& o) {
    if (o.instrument >= books_.size()) {
      out_.on_rejected(Rejected{o.instrument, o.id, o.account, CommandKind::new_order,
                                RejectReason::unknown_instrument});
      return RejectReason::unknown_instrument;
    }
    return books_[o.instrument].new_order(o);
  }
  RejectReason cancel(const CancelOrder& c) {
    if (c.instrument >= books_.size()) {
      out_.on_rejected(Rejected{c.instrument, c.id, c.account, CommandKind::cancel,
                                RejectReason::unknown_instrument});
      return RejectReason::unknown_instrument;
    }
    return books_[c.instrument].cancel(c);
  }
  RejectReason replace(const ReplaceOrder& r) {
    if (r.instrument >= books_.size()) {
      out_.on_rejected(Rejected{r.instrument, r.id, r.account, CommandKind::replace,
                                RejectReason::unknown_instrument});
      return RejectReason::unknown_instrument;
    }
    return books_[r.instrument].replace(r);
  }
  std::uint32_t mass_cancel(AccountId a, std::optional<InstrumentId> i) {
    if (i) return *i < books_.size() ? books_[*i].mass_cancel(a) : 0;
    std::uint32_t n = 0;
    for (auto& b : books_) n += b.mass_cancel(a);
    return n;
  }
  RejectReason set_state(InstrumentId i, TradingState s, bool cancel_resting) {
    if (i >= books_.size()) return RejectReason::unknown_instrument;
    return books_[i].set_state(s, cancel_resting);
  }
  RejectReason end_of_day(InstrumentId i) {
    if (i >= books_.size()) return RejectReason::unknown_instrument;
    books_[i].end_of_day();
    return RejectReason::none;
  }
  RejectReason expire_gtd(InstrumentId i, Date d) {
    if (i >= books_.size()) return RejectReason::unknown_instrument;
    books_[i].expire_gtd(d);
    return RejectReason::none;
  }
  RejectReason set_reference(InstrumentId i, PriceFen px) {
    if (i >= books_.size()) return RejectReason::unknown_instrument;
    return books_[i].set_reference(px);
  }
  UncrossResult uncross(InstrumentId i) {
    if (i >= books_.size()) return UncrossResult{RejectReason::unknown_instrument, 0, 0, 0, 0};
    return books_[i].uncross();
  }

 private:
  Recorder& out_;
  std::vector<RefBook> books_;
};

}  // namespace haihe::engine::test
