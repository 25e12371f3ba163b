// Differential harness: runs the same commands through the engine and the
// reference book, compares the event streams exactly and checks invariants
// after every command. Commands are decoded from 8 random words each, so a
// stream is a plain vector of integers (easy to generate from a seed, and
// easy for RapidCheck to shrink).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "tests/engine/reference_book.h"
#include "tests/engine/test_util.h"

namespace haihe::engine::test {

inline constexpr std::size_t kWordsPerCommand = 8;

inline std::vector<InstrumentParams> harness_params() {
  InstrumentParams a;  // tick 5, lot 10, band 10% around 500: [450, 550]
  a.id = 0;
  a.tick_fen = 5;
  a.lot_qty = 10;
  a.floor_fen = 50;
  a.ceiling_fen = 1000;
  a.reference_fen = 500;
  a.band_bps = 1000;
  a.max_orders = 40;
  a.max_levels = 256;
  a.max_order_qty = 1000;
  InstrumentParams b;  // tick 1, lot 1, no band, [1, 60]
  b.id = 1;
  b.tick_fen = 1;
  b.lot_qty = 1;
  b.floor_fen = 1;
  b.ceiling_fen = 60;
  b.reference_fen = 30;
  b.band_bps = 0;
  b.max_orders = 12;
  b.max_levels = 64;
  b.max_order_qty = 50;
  return {a, b};
}

class Harness {
 public:
  Harness() : params_(harness_params()), engine_(params_, eng_out_), ref_(params_, ref_out_) {
    for (InstrumentId i = 0; i < params_.size(); ++i) {
      engine_.set_state(i, TradingState::open);
      ref_.set_state(i, TradingState::open, false);
    }
    eng_out_.take();
    ref_out_.take();
  }

  /// Decodes and applies one command; returns "" or a description of the
  /// first difference or broken invariant.
  std::string step(const std::uint32_t* w) {
    std::ostringstream cmd;
    RejectReason re = RejectReason::none;
    RejectReason rr = RejectReason::none;
    std::uint32_t ne = 0;
    std::uint32_t nr = 0;
    const std::uint32_t kind = w[0] % 100;
    const InstrumentId inst = (w[1] % 61 == 60) ? 2u : w[1] % 2;  // 2: unknown
    const InstrumentParams& ip = params_[inst < 2 ? inst : 0];
    auto resting = [&]() -> std::vector<RefOrder> {
      RefBook* b = ref_.book(inst);
      return b != nullptr ? b->canonical() : std::vector<RefOrder>{};
    };
    auto price = [&](std::uint32_t x) -> PriceFen {
      const PriceFen mid = ip.reference_fen;
      PriceFen px = mid + (static_cast<PriceFen>(x % 25) - 12) * ip.tick_fen;
      if ((x >> 8) % 17 == 0) px += 1;                    // off tick (tick 5)
      if ((x >> 12) % 31 == 0) px = ip.floor_fen - ip.tick_fen;  // below floor
      if ((x >> 12) % 31 == 1) px = ip.ceiling_fen + ip.tick_fen;  // above ceiling
      return px;
    };
    auto qty = [&](std::uint32_t x) -> Qty {
      Qty q = (1 + static_cast<Qty>(x % 8)) * ip.lot_qty;
      const std::uint32_t r = (x >> 8) % 60;
      if (r == 0) q += 1;                          // not a lot multiple (lot 10)
      if (r == 1) q = 0;
      if (r == 2) q = -ip.lot_qty;
      if (r == 3) q = ip.max_order_qty + ip.lot_qty;
      return q;
    };

    if (kind >= 95 && kind < 98) {
      // The call auction (invalid_state outside pre_open/call).
      cmd << "uncross i" << inst;
      const UncrossResult ue = engine_.uncross(inst);
      const UncrossResult ur = ref_.uncross(inst);
      re = ue.reason;
      rr = ur.reason;
      if (ue != ur) {
        return "step " + std::to_string(steps_ + 1) + ": " + cmd.str() + ": results differ: engine " +
               std::to_string(ue.price_fen) + "/" + std::to_string(ue.volume_qty) + "/" +
               std::to_string(ue.imbalance_qty) + "/" + std::to_string(ue.trades) + ", reference " +
               std::to_string(ur.price_fen) + "/" + std::to_string(ur.volume_qty) + "/" +
               std::to_string(ur.imbalance_qty) + "/" + std::to_string(ur.trades);
      }
      if (ue.volume_qty > 0) ++uncrosses_;
    } else if (kind < 55 || kind >= 95) {
      NewOrder o;
      o.instrument = inst;
      const auto rest = resting();
      if (w[2] % 25 == 0 && !rest.empty()) {
        o.id = rest[w[2] % rest.size()].id;  // a duplicate of a resting order
      } else {
        o.id = next_id_++;
      }
      o.account = 1 + w[3] % 3;
      o.side = static_cast<Side>(((w[3] >> 8) % 61 == 0) ? 2 : (w[3] >> 8) & 1);
      o.type = (w[4] % 10 < 2) ? OrderType::market : OrderType::limit;
      if (w[4] % 97 == 0) o.type = static_cast<OrderType>(2);
      static constexpr TimeInForce kTifs[10] = {
          TimeInForce::day, TimeInForce::day, TimeInForce::day, TimeInForce::gtc, TimeInForce::gtc,
          TimeInForce::gtc, TimeInForce::gtd, TimeInForce::ioc, TimeInForce::ioc, TimeInForce::fok};
      o.tif = kTifs[(w[4] >> 8) % 10];
      if (o.type == OrderType::market) {
        o.tif = (w[4] >> 8) % 5 == 0 ? TimeInForce::fok : TimeInForce::ioc;
        if ((w[4] >> 12) % 41 == 0) o.tif = TimeInForce::day;  // invalid for a market order
      }
      if ((w[4] >> 16) % 67 == 0) o.tif = static_cast<TimeInForce>(5);
      o.stp = static_cast<StpMode>(((w[4] >> 24) % 71 == 0) ? 3 : (w[4] >> 20) % 3);
      o.post_only = w[5] % 7 == 0;
      o.price_fen = o.type == OrderType::market ? 0 : price(w[5] >> 3);
      o.qty = qty(w[6]);
      o.expire_date = o.tif == TimeInForce::gtd ? today_ + (w[7] % 5) - 1 : 0;
      cmd << "new_order i" << o.instrument << " #" << o.id << " a" << o.account << " side "
          << static_cast<int>(o.side) << " type " << static_cast<int>(o.type) << " tif "
          << static_cast<int>(o.tif) << " stp " << static_cast<int>(o.stp) << " post " << o.post_only
          << " " << o.qty << "@" << o.price_fen << " exp " << o.expire_date;
      re = engine_.new_order(o);
      rr = ref_.new_order(o);
    } else if (kind < 67) {
      CancelOrder c;
      c.instrument = inst;
      const auto rest = resting();
      if (rest.empty() || w[3] % 10 == 0) {
        c.id = next_id_ + 1000;
        c.account = 1;
      } else {
        const RefOrder& t = rest[w[2] % rest.size()];
        c.id = t.id;
        c.account = w[4] % 12 == 0 ? t.account % 3 + 1 : t.account;
      }
      cmd << "cancel i" << c.instrument << " #" << c.id << " a" << c.account;
      re = engine_.cancel(c);
      rr = ref_.cancel(c);
    } else if (kind < 81) {
      ReplaceOrder r;
      r.instrument = inst;
      const auto rest = resting();
      if (rest.empty() || w[3] % 15 == 0) {
        r.id = next_id_ + 2000;
        r.account = 1;
        r.price_fen = price(w[5]);
        r.qty = qty(w[6]);
      } else {
        const RefOrder& t = rest[w[2] % rest.size()];
        r.id = t.id;
        r.account = w[4] % 15 == 0 ? t.account % 3 + 1 : t.account;
        r.price_fen = w[5] % 2 == 0 ? t.price : price(w[5] >> 1);
        const Qty total = t.filled + t.leaves;
        switch (w[6] % 5) {
          case 0: r.qty = total - ip.lot_qty; break;  // down (maybe <= filled)
          case 1: r.qty = total; break;
          case 2: r.qty = total + ip.lot_qty * (1 + (w[7] % 3)); break;  // up
          case 3: r.qty = t.filled; break;             // to the filled quantity: cancels
          default: r.qty = qty(w[7]); break;
        }
      }
      cmd << "replace i" << r.instrument << " #" << r.id << " a" << r.account << " " << r.qty << "@"
          << r.price_fen;
      re = engine_.replace(r);
      rr = ref_.replace(r);
    } else if (kind < 82) {
      const AccountId a = 1 + w[3] % 3;
      std::optional<InstrumentId> only;
      if (w[2] % 3 != 0) only = inst;
      cmd << "mass_cancel a" << a << " i" << (only ? static_cast<int>(*only) : -1);
      ne = engine_.mass_cancel(a, only);
      nr = ref_.mass_cancel(a, only);
    } else if (kind < 89) {
      static constexpr TradingState kStates[12] = {
          TradingState::open,     TradingState::open,         TradingState::open,
          TradingState::open,     TradingState::open,         TradingState::open,
          TradingState::call,     TradingState::call,         TradingState::pre_open,
          TradingState::pre_open, TradingState::midday_break, TradingState::halted};
      TradingState s = kStates[w[2] % 12];
      if (w[2] % 97 == 0) s = TradingState::closed;
      if (w[3] % 50 == 0) s = static_cast<TradingState>(7);
      const bool cancel_resting = w[4] % 6 == 0;
      cmd << "set_state i" << inst << " " << static_cast<int>(s) << " cancel " << cancel_resting;
      if (s == TradingState::open && w[5] % 4 != 0) {
        // As the core does at the open: uncross, then open.
        cmd << " after uncross";
        const UncrossResult ue = engine_.uncross(inst);
        const UncrossResult ur = ref_.uncross(inst);
        if (ue != ur) return "step " + std::to_string(steps_ + 1) + ": " + cmd.str() + ": uncross results differ";
        if (ue.volume_qty > 0) ++uncrosses_;
      }
      re = engine_.set_state(inst, s, cancel_resting);
      rr = ref_.set_state(inst, s, cancel_resting);
    } else if (kind < 90 && w[2] % 3 == 0) {
      cmd << "end_of_day i" << inst;
      re = engine_.end_of_day(inst);
      rr = ref_.end_of_day(inst);
    } else if (kind < 92) {
      const Date d = today_ + (w[2] % 3) - 1;
      cmd << "expire_gtd i" << inst << " " << d;
      re = engine_.expire_gtd(inst, d);
      rr = ref_.expire_gtd(inst, d);
      if (d >= today_) today_ = d + 1;
    } else {
      PriceFen px = ip.reference_fen + (static_cast<PriceFen>(w[2] % 21) - 10) * ip.tick_fen;
      if (w[3] % 20 == 0) px = ip.floor_fen - 1;
      if (w[3] % 20 == 1) px = ip.ceiling_fen + 1;
      if (w[3] % 20 == 2) px += 2;  // a reference need not be on tick
      cmd << "set_reference i" << inst << " " << px;
      re = engine_.set_reference(inst, px);
      rr = ref_.set_reference(inst, px);
    }
    ++steps_;
    if (re == RejectReason::book_crossed) ++book_crossed_;
    const auto ev_e = eng_out_.take();
    const auto ev_r = ref_out_.take();
    if (re != rr || ne != nr || ev_e != ev_r) {
      std::ostringstream s;
      s << "step " << steps_ << ": " << cmd.str() << "\n engine returned " << to_string(re) << "/"
        << ne << ", reference " << to_string(rr) << "/" << nr << "\n engine events:\n"
        << describe(ev_e) << " reference events:\n"
        << describe(ev_r);
      return s.str();
    }
    track(ev_e);
    std::string bad = check_invariants(ev_e);
    if (!bad.empty()) return "step " + std::to_string(steps_) + ": " + cmd.str() + "\n " + bad;
    return {};
  }

  Engine<Recorder>& engine() { return engine_; }
  std::uint64_t steps() const { return steps_; }
  std::uint64_t trades() const { return trades_; }
  std::uint64_t uncrosses() const { return uncrosses_; }  // uncrosses that traded
  std::uint64_t book_crossed() const { return book_crossed_; }  // set_state(open) refused
  /// Events seen, by kind (Event's variant index), and rejects by reason.
  const std::map<std::size_t, std::uint64_t>& kinds() const { return kinds_; }
  const std::map<int, std::uint64_t>& rejects() const { return rejects_; }

 private:
  struct Track {
    Qty ordered = 0;
    Qty filled = 0;
    Qty closed = 0;
  };

  void track(const std::vector<Event>& evs) {
    for (const auto& ev : evs) {
      ++kinds_[ev.index()];
      if (const auto* rj = std::get_if<Rejected>(&ev)) ++rejects_[static_cast<int>(rj->reason)];
      if (const auto* a = std::get_if<Accepted>(&ev)) {
        tracks_[{a->instrument, a->order}] = Track{a->qty, 0, 0};
      } else if (const auto* t = std::get_if<Trade>(&ev)) {
        tracks_[{t->instrument, t->aggressor_order}].filled += t->qty;
        tracks_[{t->instrument, t->resting_order}].filled += t->qty;
        ++trades_;
      } else if (const auto* c = std::get_if<Cancelled>(&ev)) {
        tracks_[{c->instrument, c->order}].closed += c->cancelled_qty;
      } else if (const auto* x = std::get_if<Expired>(&ev)) {
        tracks_[{x->instrument, x->order}].closed += x->expired_qty;
      } else if (const auto* r = std::get_if<Replaced>(&ev)) {
        tracks_[{r->instrument, r->order}].ordered = r->qty;
      }
    }
  }

  std::string check_invariants(const std::vector<Event>& evs) {
    std::ostringstream s;
    for (InstrumentId i = 0; i < params_.size(); ++i) {
      const Book<Recorder>& b = *engine_.book(i);
      const auto bid = b.best_bid();
      const auto ask = b.best_ask();
      if (bid && ask && *bid >= *ask && b.state() == TradingState::open) {
        s << "book " << i << " crossed in open: " << *bid << " >= " << *ask << "\n";
      }
      if (b.indicative() != ref_.book(i)->indicative()) s << "book " << i << ": indicative differs\n";
      if (const char* why = b.audit()) s << "book " << i << " audit: " << why << "\n";
      std::vector<RestingOrder> got;
      b.for_each_resting([&](const RestingOrder& o) { got.push_back(o); });
      std::vector<RestingOrder> want;
      for (const RefOrder& o : ref_.book(i)->canonical()) {
        want.push_back(RestingOrder{o.id, o.account, o.side, o.tif, o.stp, o.post_only, o.price,
                                    o.leaves, o.filled, o.expire});
      }
      if (got != want) s << "book " << i << ": resting orders differ from the reference\n";
      if (b.resting_count() != want.size()) s << "book " << i << ": resting_count wrong\n";
      if (b.state() != ref_.book(i)->state()) s << "book " << i << ": state differs\n";
      std::map<std::pair<int, PriceFen>, Qty> levels;
      for (const auto& o : want) levels[{static_cast<int>(o.side), o.price_fen}] += o.leaves_qty;
      for (const auto& [k, q] : levels) {
        if (b.level_qty(static_cast<Side>(k.first), k.second) != q) {
          s << "book " << i << ": level " << k.second << " total wrong\n";
        }
      }
      if (bid && levels.find({0, *bid}) == levels.end()) s << "book " << i << ": best bid has no orders\n";
      if (ask && levels.find({1, *ask}) == levels.end()) s << "book " << i << ": best ask has no orders\n";
      // filled + resting + cancelled = ordered, for every order resting now.
      for (const auto& o : got) {
        const Track& t = tracks_[{i, o.id}];
        if (t.filled != o.filled_qty || t.filled + o.leaves_qty + t.closed != t.ordered) {
          s << "order " << o.id << ": filled " << t.filled << " + resting " << o.leaves_qty
            << " + cancelled " << t.closed << " != ordered " << t.ordered << "\n";
        }
      }
    }
    // ... and for every order this command touched.
    for (const auto& ev : evs) {
      std::visit(
          [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, Trade>) {
              check_order(e.instrument, e.aggressor_order, s);
              check_order(e.instrument, e.resting_order, s);
            } else if constexpr (std::is_same_v<T, Accepted> || std::is_same_v<T, Cancelled> ||
                                 std::is_same_v<T, Expired> || std::is_same_v<T, Replaced>) {
              check_order(e.instrument, e.order, s);
            }
          },
          ev);
    }
    return s.str();
  }

  void check_order(InstrumentId i, OrderId id, std::ostringstream& s) {
    const Track& t = tracks_[{i, id}];
    const auto r = engine_.book(i)->find(id);
    const Qty resting = r ? r->leaves_qty : 0;
    if (t.filled + resting + t.closed != t.ordered || t.filled < 0 || t.closed < 0) {
      s << "order " << id << ": filled " << t.filled << " + resting " << resting << " + cancelled "
        << t.closed << " != ordered " << t.ordered << "\n";
    }
  }

  std::vector<InstrumentParams> params_;
  Recorder eng_out_;
  Recorder ref_out_;
  Engine<Recorder> engine_;
  RefEngine ref_;
  std::map<std::pair<InstrumentId, OrderId>, Track> tracks_;
  OrderId next_id_ = 1;
  Date today_ = 20270105;
  std::uint64_t steps_ = 0;
  std::uint64_t trades_ = 0;
  std::uint64_t uncrosses_ = 0;
  std::uint64_t book_crossed_ = 0;
  std::map<std::size_t, std::uint64_t> kinds_;
  std::map<int, std::uint64_t> rejects_;
};

}  // namespace haihe::engine::test
