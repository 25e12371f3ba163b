// Unit tests for every rule of the engine contract (engine/engine.h) and
// every reject reason, with exact event sequences.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

#include "engine/engine.h"
#include "tests/engine/test_util.h"

namespace haihe::engine::test {
namespace {

using E = std::vector<Event>;
constexpr Side B = Side::buy;
constexpr Side S = Side::sell;

NewOrder lim(OrderId id, Side s, PriceFen px, Qty q, AccountId a = 1,
             TimeInForce tif = TimeInForce::gtc, StpMode stp = StpMode::cancel_newest) {
  NewOrder o;
  o.instrument = 0;
  o.id = id;
  o.account = a;
  o.side = s;
  o.type = OrderType::limit;
  o.tif = tif;
  o.stp = stp;
  o.price_fen = px;
  o.qty = q;
  return o;
}

NewOrder mkt(OrderId id, Side s, Qty q, AccountId a = 1, TimeInForce tif = TimeInForce::ioc) {
  NewOrder o = lim(id, s, 0, q, a, tif);
  o.type = OrderType::market;
  return o;
}

Accepted acc(const NewOrder& o) {
  return Accepted{o.instrument, o.id, o.account, o.side, o.type, o.tif, o.stp,
                  o.post_only, o.price_fen, o.qty, o.expire_date};
}

class BookTest : public ::testing::Test {
 protected:
  void SetUp() override { rebuild(); }
  void rebuild() {
    book_ = std::make_unique<Book<Recorder>>(p_, rec_);
    book_->set_state(TradingState::open);
    rec_.take();
  }
  /// Submits and drops the events (for setting up a book).
  void put(const NewOrder& o) {
    ASSERT_EQ(book_->new_order(o), RejectReason::none);
    rec_.take();
  }
  E ev() { return rec_.take(); }
  void expect_reject(const NewOrder& o, RejectReason r) {
    EXPECT_EQ(book_->new_order(o), r) << to_string(r);
    EXPECT_EQ(ev(), (E{Rejected{0, o.id, o.account, CommandKind::new_order, r}})) << to_string(r);
  }

  InstrumentParams p_ = simple_params();
  Recorder rec_;
  std::unique_ptr<Book<Recorder>> book_;
};

// ------------------------------------------------------------ parameters

TEST(EngineParams, InconsistentParametersAreRefusedWithAMessage) {
  Recorder r;
  auto bad = [&](auto mutate, const char* needle) {
    InstrumentParams p = simple_params();
    mutate(p);
    try {
      Book<Recorder> b(p, r);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad([](InstrumentParams& p) { p.tick_fen = 0; }, "tick_fen");
  bad([](InstrumentParams& p) { p.lot_qty = -1; }, "lot_qty");
  bad([](InstrumentParams& p) { p.floor_fen = 4; }, "floor_fen");
  bad([](InstrumentParams& p) { p.ceiling_fen = 40; }, "ceiling_fen");
  bad([](InstrumentParams& p) { p.band_bps = 10001; }, "band_bps");
  bad([](InstrumentParams& p) { p.reference_fen = 2000; }, "reference_fen");
  bad([](InstrumentParams& p) { p.max_levels = 100; }, "max_levels");
  bad([](InstrumentParams& p) { p.max_orders = 0; }, "max_orders");
  bad([](InstrumentParams& p) { p.max_order_qty = 5; }, "max_order_qty");
  bad(
      [](InstrumentParams& p) {
        p.floor_fen = 51;
        p.ceiling_fen = 54;
        p.reference_fen = 0;
        p.band_bps = 0;
      },
      "no price on tick");

  InstrumentParams ps[2] = {simple_params(0), simple_params(0)};
  EXPECT_THROW((Engine<Recorder>(ps, r)), std::invalid_argument);
}

TEST(EngineParams, FloorNeedNotBeOnTick) {
  Recorder r;
  InstrumentParams p = simple_params();
  p.floor_fen = 52;  // first price on tick: 55
  p.band_bps = 0;
  Book<Recorder> b(p, r);
  b.set_state(TradingState::open);
  EXPECT_EQ(b.new_order(lim(1, B, 50, 10)), RejectReason::price_below_floor);
  EXPECT_EQ(b.new_order(lim(2, B, 53, 10)), RejectReason::price_not_on_tick);
  EXPECT_EQ(b.new_order(lim(3, B, 55, 10)), RejectReason::none);
  EXPECT_EQ(b.best_bid(), 55);
}

// ------------------------------------------------------- reject reasons

TEST_F(BookTest, FieldRejects) {
  NewOrder o = lim(1, B, 500, 10);
  o.side = static_cast<Side>(2);
  expect_reject(o, RejectReason::invalid_side);
  o = lim(1, B, 500, 10);
  o.type = static_cast<OrderType>(2);
  expect_reject(o, RejectReason::invalid_order_type);
  expect_reject(lim(1, B, 500, 10, 1, static_cast<TimeInForce>(5)), RejectReason::invalid_time_in_force);
  expect_reject(mkt(1, B, 10, 1, TimeInForce::day), RejectReason::invalid_time_in_force);
  expect_reject(mkt(1, B, 10, 1, TimeInForce::gtc), RejectReason::invalid_time_in_force);
  expect_reject(lim(1, B, 500, 10, 1, TimeInForce::gtc, static_cast<StpMode>(3)),
                RejectReason::invalid_stp_mode);
  o = lim(1, B, 500, 10, 1, TimeInForce::ioc);
  o.post_only = true;
  expect_reject(o, RejectReason::invalid_post_only);
  o = mkt(1, B, 10);
  o.post_only = true;
  expect_reject(o, RejectReason::invalid_post_only);
  expect_reject(lim(1, B, 500, 10, 1, TimeInForce::gtd), RejectReason::invalid_expire_date);
  expect_reject(lim(1, B, 500, 0), RejectReason::invalid_quantity);
  expect_reject(lim(1, B, 500, -10), RejectReason::invalid_quantity);
  expect_reject(lim(1, B, 500, p_.max_order_qty + 10), RejectReason::invalid_quantity);
  expect_reject(lim(1, B, 500, 15), RejectReason::quantity_not_lot_multiple);
  expect_reject(lim(1, B, 45, 10), RejectReason::price_below_floor);
  expect_reject(lim(1, B, 0, 10), RejectReason::price_below_floor);
  expect_reject(lim(1, B, -5, 10), RejectReason::price_below_floor);
  expect_reject(lim(1, B, 1005, 10), RejectReason::price_above_ceiling);
  expect_reject(lim(1, B, 502, 10), RejectReason::price_not_on_tick);
  expect_reject(lim(1, B, 445, 10), RejectReason::price_outside_band);
  expect_reject(lim(1, S, 555, 10), RejectReason::price_outside_band);
  // The first failing check wins: side before quantity before price.
  o = lim(1, B, 502, 15);
  o.side = static_cast<Side>(7);
  expect_reject(o, RejectReason::invalid_side);
  expect_reject(lim(1, B, 502, 15), RejectReason::quantity_not_lot_multiple);
  // Band edges are inclusive.
  EXPECT_EQ(book_->new_order(lim(2, B, 450, 10)), RejectReason::none);
  EXPECT_EQ(book_->new_order(lim(3, S, 550, 10)), RejectReason::none);
}

TEST_F(BookTest, StateRejects) {
  Recorder r;
  Book<Recorder> closed(p_, r);
  EXPECT_EQ(closed.state(), TradingState::closed);
  EXPECT_EQ(closed.new_order(lim(1, B, 500, 10)), RejectReason::instrument_closed);

  book_->set_state(TradingState::halted);
  ev();
  expect_reject(lim(1, B, 500, 10), RejectReason::instrument_halted);
  book_->set_state(TradingState::midday_break);
  ev();
  expect_reject(lim(1, B, 500, 10), RejectReason::trading_break);
  book_->set_state(TradingState::pre_open);
  ev();
  expect_reject(lim(1, B, 500, 10, 1, TimeInForce::ioc), RejectReason::not_allowed_in_pre_open);
  expect_reject(lim(1, B, 500, 10, 1, TimeInForce::fok), RejectReason::not_allowed_in_pre_open);
  expect_reject(mkt(1, B, 10), RejectReason::not_allowed_in_pre_open);
  // An invalid field is reported before the state.
  NewOrder o = lim(1, B, 500, 10);
  o.stp = static_cast<StpMode>(9);
  expect_reject(o, RejectReason::invalid_stp_mode);
}

TEST_F(BookTest, BookRejects) {
  put(lim(1, S, 505, 10, 1));
  expect_reject(lim(1, B, 500, 10, 2), RejectReason::duplicate_order_id);
  expect_reject(lim(1, B, 500, 10, 2, TimeInForce::ioc), RejectReason::duplicate_order_id);

  NewOrder po = lim(2, B, 505, 10, 2);
  po.post_only = true;
  expect_reject(po, RejectReason::post_only_would_cross);
  po.price_fen = 500;
  EXPECT_EQ(book_->new_order(po), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(po), LevelChanged{0, B, 500, 10}}));

  expect_reject(lim(3, B, 505, 20, 2, TimeInForce::fok), RejectReason::fok_not_fillable);
  EXPECT_EQ(book_->level_qty(S, 505), 10);

  book_->set_state(TradingState::pre_open);
  ev();
  // Pre-open is a call phase: a crossing order rests without matching (the
  // opening auction uncrosses it); a crossing post-only order is refused.
  po = lim(5, B, 505, 10, 2);
  po.post_only = true;
  expect_reject(po, RejectReason::post_only_would_cross);
  EXPECT_EQ(book_->new_order(lim(4, B, 505, 10, 2)), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(lim(4, B, 505, 10, 2)), LevelChanged{0, B, 505, 10},
                     Indicative{0, 505, 10, 0}}));
  EXPECT_EQ(book_->level_qty(S, 505), 10);
}

TEST_F(BookTest, BookFull) {
  p_.max_orders = 2;
  rebuild();
  put(lim(1, B, 500, 10));
  put(lim(2, B, 495, 10));
  expect_reject(lim(3, B, 490, 10), RejectReason::book_full);
  // An order that cannot rest is not refused for space.
  EXPECT_EQ(book_->new_order(lim(4, B, 490, 10, 1, TimeInForce::ioc)), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(lim(4, B, 490, 10, 1, TimeInForce::ioc)),
                     Cancelled{0, 4, 1, B, 490, 10, 0, CancelCause::ioc_remainder}}));
  book_->cancel(CancelOrder{0, 1, 1});
  EXPECT_EQ(book_->new_order(lim(3, B, 490, 10)), RejectReason::none);
}

TEST_F(BookTest, CancelAndReplaceRejects) {
  put(lim(1, S, 505, 10, 1));
  EXPECT_EQ(book_->cancel(CancelOrder{0, 9, 1}), RejectReason::unknown_order);
  EXPECT_EQ(ev(), (E{Rejected{0, 9, 1, CommandKind::cancel, RejectReason::unknown_order}}));
  EXPECT_EQ(book_->cancel(CancelOrder{0, 1, 2}), RejectReason::account_mismatch);
  EXPECT_EQ(ev(), (E{Rejected{0, 1, 2, CommandKind::cancel, RejectReason::account_mismatch}}));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 9, 1, 505, 10}), RejectReason::unknown_order);
  EXPECT_EQ(ev(), (E{Rejected{0, 9, 1, CommandKind::replace, RejectReason::unknown_order}}));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 1, 3, 505, 10}), RejectReason::account_mismatch);
  EXPECT_EQ(ev(), (E{Rejected{0, 1, 3, CommandKind::replace, RejectReason::account_mismatch}}));

  auto rej = [&](ReplaceOrder r, RejectReason want) {
    EXPECT_EQ(book_->replace(r), want) << to_string(want);
    EXPECT_EQ(ev(), (E{Rejected{0, r.id, r.account, CommandKind::replace, want}})) << to_string(want);
  };
  rej(ReplaceOrder{0, 1, 1, 505, 15}, RejectReason::quantity_not_lot_multiple);
  rej(ReplaceOrder{0, 1, 1, 505, 0}, RejectReason::invalid_quantity);
  rej(ReplaceOrder{0, 1, 1, 507, 10}, RejectReason::price_not_on_tick);
  rej(ReplaceOrder{0, 1, 1, 45, 10}, RejectReason::price_below_floor);
  rej(ReplaceOrder{0, 1, 1, 1010, 10}, RejectReason::price_above_ceiling);
  rej(ReplaceOrder{0, 1, 1, 555, 10}, RejectReason::price_outside_band);
  book_->set_state(TradingState::midday_break);
  ev();
  rej(ReplaceOrder{0, 1, 1, 505, 5}, RejectReason::trading_break);
  book_->set_state(TradingState::halted);
  ev();
  rej(ReplaceOrder{0, 1, 1, 505, 5}, RejectReason::instrument_halted);
  book_->end_of_day();
  ev();
  rej(ReplaceOrder{0, 1, 1, 505, 5}, RejectReason::instrument_closed);
  // Cancels work in every state.
  EXPECT_EQ(book_->cancel(CancelOrder{0, 1, 1}), RejectReason::none);
}

TEST_F(BookTest, ReplaceCrossingRejects) {
  put(lim(1, S, 505, 10, 1));
  NewOrder po = lim(2, B, 500, 10, 2);
  po.post_only = true;
  put(po);
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 2, 2, 505, 10}), RejectReason::post_only_would_cross);
  EXPECT_EQ(ev(), (E{Rejected{0, 2, 2, CommandKind::replace, RejectReason::post_only_would_cross}}));
  put(lim(3, B, 495, 10, 3));
  book_->set_state(TradingState::pre_open);
  ev();
  // Allowed in pre-open, crossing or not; no matching.
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 3, 3, 505, 10}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Replaced{0, 3, 3, B, 495, 505, 10, 10, 0, false}, LevelChanged{0, B, 495, 0},
                     LevelChanged{0, B, 505, 10}, Indicative{0, 505, 10, 0}}));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 3, 3, 490, 20}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Replaced{0, 3, 3, B, 505, 490, 20, 20, 0, false}, LevelChanged{0, B, 505, 0},
                     LevelChanged{0, B, 490, 20}, Indicative{0, 0, 0, 0}}));
}

TEST(EngineRejects, UnknownInstrument) {
  Recorder r;
  const InstrumentParams p = simple_params();
  Engine<Recorder> e(std::span<const InstrumentParams>(&p, 1), r);
  EXPECT_EQ(e.new_order(NewOrder{5, 1, 1, B, OrderType::limit, TimeInForce::day,
                                 StpMode::cancel_newest, false, 500, 10, 0}),
            RejectReason::unknown_instrument);
  EXPECT_EQ(e.cancel(CancelOrder{5, 1, 1}), RejectReason::unknown_instrument);
  EXPECT_EQ(e.replace(ReplaceOrder{5, 1, 1, 500, 10}), RejectReason::unknown_instrument);
  EXPECT_EQ(r.take(), (E{Rejected{5, 1, 1, CommandKind::new_order, RejectReason::unknown_instrument},
                         Rejected{5, 1, 1, CommandKind::cancel, RejectReason::unknown_instrument},
                         Rejected{5, 1, 1, CommandKind::replace, RejectReason::unknown_instrument}}));
  EXPECT_EQ(e.set_state(5, TradingState::open), RejectReason::unknown_instrument);
  EXPECT_EQ(e.end_of_day(5), RejectReason::unknown_instrument);
  EXPECT_EQ(e.expire_gtd(5, 20270101), RejectReason::unknown_instrument);
  EXPECT_EQ(e.set_reference(5, 500), RejectReason::unknown_instrument);
  EXPECT_EQ(e.mass_cancel(1, 5), 0u);
  EXPECT_EQ(e.book(5), nullptr);
  EXPECT_TRUE(r.take().empty());
}

TEST_F(BookTest, AdminRejects) {
  EXPECT_EQ(book_->set_state(static_cast<TradingState>(9)), RejectReason::invalid_state);
  EXPECT_EQ(book_->set_state(TradingState::open, true), RejectReason::invalid_state);
  EXPECT_EQ(book_->set_reference(45), RejectReason::price_below_floor);
  EXPECT_EQ(book_->set_reference(1001), RejectReason::price_above_ceiling);
  EXPECT_TRUE(ev().empty());
}

TEST_F(BookTest, RestoreRejects) {
  put(lim(1, S, 505, 10, 1));
  RestingOrder ro{2, 1, B, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 10, 0, 0};
  RestingOrder bad = ro;
  bad.tif = TimeInForce::ioc;
  EXPECT_EQ(book_->restore(bad), RejectReason::restore_invalid);
  bad = ro;
  bad.price_fen = 502;
  EXPECT_EQ(book_->restore(bad), RejectReason::restore_invalid);
  bad = ro;
  bad.leaves_qty = 0;
  EXPECT_EQ(book_->restore(bad), RejectReason::restore_invalid);
  bad = ro;
  bad.tif = TimeInForce::gtd;  // without a date
  EXPECT_EQ(book_->restore(bad), RejectReason::restore_invalid);
  bad = ro;
  bad.price_fen = 505;
  EXPECT_EQ(book_->restore(bad), RejectReason::restore_crosses);
  bad = ro;
  bad.id = 1;
  EXPECT_EQ(book_->restore(bad), RejectReason::duplicate_order_id);
  EXPECT_EQ(book_->restore(ro), RejectReason::none);
  EXPECT_TRUE(ev().empty());
}

// ------------------------------------------------------------- matching

TEST_F(BookTest, PriceThenTimePriority) {
  put(lim(1, S, 510, 20, 1));
  put(lim(2, S, 505, 20, 2));
  put(lim(3, S, 505, 10, 3));
  const NewOrder o = lim(4, B, 510, 40, 4);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(o),
                     Trade{0, 1, 505, 20, B, 4, 4, 20, 2, 2, 0},
                     Trade{0, 2, 505, 10, B, 4, 4, 10, 3, 3, 0},
                     LevelChanged{0, S, 505, 0},
                     Trade{0, 3, 510, 10, B, 4, 4, 0, 1, 1, 10},
                     LevelChanged{0, S, 510, 10}}));
  EXPECT_EQ(book_->best_ask(), 510);
  EXPECT_EQ(book_->best_bid(), std::nullopt);
  EXPECT_EQ(book_->find(1)->filled_qty, 10);
  EXPECT_EQ(book_->find(1)->leaves_qty, 10);
  EXPECT_FALSE(book_->find(4).has_value());
}

TEST_F(BookTest, RemainderRestsAtItsLimit) {
  put(lim(1, S, 505, 10, 1));
  const NewOrder o = lim(2, B, 510, 40, 2, TimeInForce::day);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 2, 2, 30, 1, 1, 0}, LevelChanged{0, S, 505, 0},
                     LevelChanged{0, B, 510, 30}}));
  EXPECT_EQ(book_->best_bid(), 510);
  EXPECT_EQ(book_->find(2)->filled_qty, 10);
  EXPECT_EQ(book_->resting_count(), 1u);
}

TEST_F(BookTest, SellAggressorWalksBidsDownward) {
  put(lim(1, B, 500, 10, 1));
  put(lim(2, B, 495, 10, 2));
  put(lim(3, B, 490, 10, 3));
  const NewOrder o = lim(4, S, 495, 30, 4, TimeInForce::ioc);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 500, 10, S, 4, 4, 20, 1, 1, 0}, LevelChanged{0, B, 500, 0},
                     Trade{0, 2, 495, 10, S, 4, 4, 10, 2, 2, 0}, LevelChanged{0, B, 495, 0},
                     Cancelled{0, 4, 4, S, 495, 10, 20, CancelCause::ioc_remainder}}));
  EXPECT_EQ(book_->best_bid(), 490);
}

TEST_F(BookTest, MarketOrdersAreProtectedByTheBandAndNeverRest) {
  put(lim(1, S, 550, 10, 1));
  put(lim(2, S, 545, 10, 2));
  ASSERT_EQ(book_->set_reference(450), RejectReason::none);  // band [405, 495]
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 450, 405, 495}}));
  const NewOrder m = mkt(3, B, 10, 3);
  book_->new_order(m);
  EXPECT_EQ(ev(), (E{acc(m), Cancelled{0, 3, 3, B, 0, 10, 0, CancelCause::ioc_remainder}}));
  EXPECT_EQ(book_->resting_count(), 2u);  // resting orders outside the new band stay
  ASSERT_EQ(book_->set_reference(500), RejectReason::none);  // band [450, 550]
  ev();
  const NewOrder m2 = mkt(4, B, 30, 3);
  book_->new_order(m2);
  EXPECT_EQ(ev(), (E{acc(m2), Trade{0, 1, 545, 10, B, 4, 3, 20, 2, 2, 0}, LevelChanged{0, S, 545, 0},
                     Trade{0, 2, 550, 10, B, 4, 3, 10, 1, 1, 0}, LevelChanged{0, S, 550, 0},
                     Cancelled{0, 4, 3, B, 0, 10, 20, CancelCause::ioc_remainder}}));
  // FOK market: all or nothing, within the band.
  put(lim(5, S, 500, 10, 1));
  expect_reject(mkt(6, B, 20, 3, TimeInForce::fok), RejectReason::fok_not_fillable);
  const NewOrder m3 = mkt(7, B, 10, 3, TimeInForce::fok);
  book_->new_order(m3);
  EXPECT_EQ(ev(), (E{acc(m3), Trade{0, 3, 500, 10, B, 7, 3, 0, 5, 1, 0}, LevelChanged{0, S, 500, 0}}));
}

TEST(EngineMarket, WithoutABandTheLimitIsFloorOrCeiling) {
  Recorder r;
  InstrumentParams p = simple_params();
  p.band_bps = 0;
  Book<Recorder> b(p, r);
  b.set_state(TradingState::open);
  EXPECT_EQ(b.band_low_fen(), 50);
  EXPECT_EQ(b.band_high_fen(), 1000);
  b.new_order(lim(1, S, 1000, 10, 1));
  b.new_order(lim(2, B, 50, 10, 2));
  r.take();
  b.new_order(mkt(3, B, 10, 3));
  b.new_order(mkt(4, S, 10, 3));
  EXPECT_EQ(b.resting_count(), 0u);
}

TEST_F(BookTest, FillOrKill) {
  put(lim(1, S, 505, 10, 1));
  put(lim(2, S, 510, 10, 2));
  expect_reject(lim(3, B, 510, 30, 3, TimeInForce::fok), RejectReason::fok_not_fillable);
  expect_reject(lim(3, B, 505, 20, 3, TimeInForce::fok), RejectReason::fok_not_fillable);
  const NewOrder o = lim(3, B, 510, 20, 3, TimeInForce::fok);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 3, 3, 10, 1, 1, 0}, LevelChanged{0, S, 505, 0},
                     Trade{0, 2, 510, 10, B, 3, 3, 0, 2, 2, 0}, LevelChanged{0, S, 510, 0}}));
}

TEST_F(BookTest, FillOrKillCountsSelfTradePrevention) {
  put(lim(1, S, 505, 10, 1));
  put(lim(2, S, 510, 10, 2));
  // Account 1 meets its own order first: cancel_newest would stop there.
  expect_reject(lim(3, B, 510, 20, 1, TimeInForce::fok), RejectReason::fok_not_fillable);
  expect_reject(lim(3, B, 510, 10, 1, TimeInForce::fok, StpMode::cancel_both),
                RejectReason::fok_not_fillable);
  // cancel_oldest cancels its own order and goes on: only 10 available.
  expect_reject(lim(3, B, 510, 20, 1, TimeInForce::fok, StpMode::cancel_oldest),
                RejectReason::fok_not_fillable);
  const NewOrder o = lim(3, B, 510, 10, 1, TimeInForce::fok, StpMode::cancel_oldest);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Cancelled{0, 1, 1, S, 505, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, S, 505, 0}, Trade{0, 1, 510, 10, B, 3, 1, 0, 2, 2, 0},
                     LevelChanged{0, S, 510, 0}}));
}

TEST_F(BookTest, SelfTradePreventionModes) {
  auto setup = [&] {
    rebuild();
    put(lim(1, S, 505, 10, 2));
    put(lim(2, S, 505, 10, 1));  // the aggressor's own order, second in the queue
    put(lim(3, S, 505, 10, 2));
  };
  setup();
  NewOrder o = lim(9, B, 505, 30, 1, TimeInForce::gtc, StpMode::cancel_newest);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 9, 1, 20, 1, 2, 0}, LevelChanged{0, S, 505, 20},
                     Cancelled{0, 9, 1, B, 505, 20, 10, CancelCause::self_trade}}));
  EXPECT_TRUE(book_->find(2).has_value());

  setup();
  o.stp = StpMode::cancel_oldest;
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 9, 1, 20, 1, 2, 0},
                     Cancelled{0, 2, 1, S, 505, 10, 0, CancelCause::self_trade},
                     Trade{0, 2, 505, 10, B, 9, 1, 10, 3, 2, 0}, LevelChanged{0, S, 505, 0},
                     LevelChanged{0, B, 505, 10}}));

  setup();
  o.stp = StpMode::cancel_both;
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 9, 1, 20, 1, 2, 0},
                     Cancelled{0, 2, 1, S, 505, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, S, 505, 10},
                     Cancelled{0, 9, 1, B, 505, 20, 10, CancelCause::self_trade}}));
  EXPECT_EQ(book_->resting_count(), 1u);

  // An own order at the head of the level: nothing trades, the level is unchanged.
  rebuild();
  put(lim(1, S, 505, 10, 1));
  o = lim(9, B, 505, 30, 1);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Cancelled{0, 9, 1, B, 505, 30, 0, CancelCause::self_trade}}));
}

TEST_F(BookTest, PostOnlyRestsWhenItDoesNotCross) {
  put(lim(1, S, 510, 10, 1));
  NewOrder o = lim(2, B, 505, 10, 2, TimeInForce::day);
  o.post_only = true;
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), LevelChanged{0, B, 505, 10}}));
  EXPECT_TRUE(book_->find(2)->post_only);
}

// --------------------------------------------------------- cancel/replace

TEST_F(BookTest, CancelRemovesAndReportsTheLevel) {
  put(lim(1, B, 500, 10, 1));
  put(lim(2, B, 500, 20, 2));
  EXPECT_EQ(book_->cancel(CancelOrder{0, 1, 1}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Cancelled{0, 1, 1, B, 500, 10, 0, CancelCause::requested}, LevelChanged{0, B, 500, 20}}));
  book_->cancel(CancelOrder{0, 2, 2});
  EXPECT_EQ(ev(), (E{Cancelled{0, 2, 2, B, 500, 20, 0, CancelCause::requested}, LevelChanged{0, B, 500, 0}}));
  EXPECT_EQ(book_->best_bid(), std::nullopt);
  EXPECT_EQ(book_->cancel(CancelOrder{0, 2, 2}), RejectReason::unknown_order);
}

TEST_F(BookTest, ReplaceQuantityDownKeepsPriority) {
  put(lim(1, S, 505, 30, 1));
  put(lim(2, S, 505, 10, 2));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 1, 1, 505, 20}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Replaced{0, 1, 1, S, 505, 505, 20, 20, 0, true}, LevelChanged{0, S, 505, 30}}));
  const NewOrder o = lim(3, B, 505, 20, 3);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 20, B, 3, 3, 0, 1, 1, 0}, LevelChanged{0, S, 505, 10}}));
  // Same quantity: a no-op that keeps priority and changes no level.
  book_->replace(ReplaceOrder{0, 2, 2, 505, 10});
  EXPECT_EQ(ev(), (E{Replaced{0, 2, 2, S, 505, 505, 10, 10, 0, true}}));
}

TEST_F(BookTest, ReplaceQuantityUpLosesPriority) {
  put(lim(1, S, 505, 30, 1));
  put(lim(2, S, 505, 10, 2));
  book_->replace(ReplaceOrder{0, 1, 1, 505, 40});
  EXPECT_EQ(ev(), (E{Replaced{0, 1, 1, S, 505, 505, 40, 40, 0, false}, LevelChanged{0, S, 505, 50}}));
  const NewOrder o = lim(3, B, 505, 10, 3);
  book_->new_order(o);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 1, 505, 10, B, 3, 3, 0, 2, 2, 0}, LevelChanged{0, S, 505, 40}}));
}

TEST_F(BookTest, ReplacePriceLosesPriorityAndMayTrade) {
  put(lim(1, S, 510, 10, 1));
  put(lim(2, B, 500, 30, 2));
  put(lim(3, B, 495, 10, 3));
  book_->replace(ReplaceOrder{0, 3, 3, 500, 10});  // joins the back of 500
  EXPECT_EQ(ev(), (E{Replaced{0, 3, 3, B, 495, 500, 10, 10, 0, false}, LevelChanged{0, B, 495, 0},
                     LevelChanged{0, B, 500, 40}}));
  book_->replace(ReplaceOrder{0, 2, 2, 510, 30});  // crosses: trades 10, rests 20 at 510
  EXPECT_EQ(ev(), (E{Replaced{0, 2, 2, B, 500, 510, 30, 30, 0, false}, LevelChanged{0, B, 500, 10},
                     Trade{0, 1, 510, 10, B, 2, 2, 20, 1, 1, 0}, LevelChanged{0, S, 510, 0},
                     LevelChanged{0, B, 510, 20}}));
  EXPECT_EQ(book_->find(2)->filled_qty, 10);
  EXPECT_EQ(book_->best_bid(), 510);
}

TEST_F(BookTest, ReplaceToFilledOrLessCancels) {
  put(lim(1, S, 505, 30, 1));
  put(lim(2, B, 505, 10, 2));
  ev();
  book_->replace(ReplaceOrder{0, 1, 1, 505, 10});
  EXPECT_EQ(ev(), (E{Cancelled{0, 1, 1, S, 505, 20, 10, CancelCause::replaced_to_filled},
                     LevelChanged{0, S, 505, 0}}));
  EXPECT_EQ(book_->resting_count(), 0u);
}

TEST_F(BookTest, ReplaceAtTheSamePriceIgnoresAMovedBand) {
  put(lim(1, S, 550, 30, 1));
  book_->set_reference(400);  // band [360, 440]
  ev();
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 1, 1, 550, 20}), RejectReason::none);
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 1, 1, 545, 20}), RejectReason::price_outside_band);
}

// ------------------------------------------------------- bulk and states

TEST(EngineMassCancel, ByAccountAcrossOrWithinInstruments) {
  Recorder r;
  const InstrumentParams ps[2] = {simple_params(0), simple_params(1)};
  Engine<Recorder> e(ps, r);
  e.set_state(0, TradingState::open);
  e.set_state(1, TradingState::open);
  auto order = [&](InstrumentId i, OrderId id, Side s, PriceFen px, AccountId a) {
    NewOrder o = lim(id, s, px, 10, a);
    o.instrument = i;
    ASSERT_EQ(e.new_order(o), RejectReason::none);
  };
  order(0, 1, B, 500, 7);
  order(0, 2, B, 500, 8);
  order(0, 3, B, 495, 7);
  order(0, 4, S, 510, 7);
  order(1, 5, S, 505, 7);
  r.take();
  EXPECT_EQ(e.mass_cancel(7, 1), 1u);
  EXPECT_EQ(r.take(), (E{Cancelled{1, 5, 7, S, 505, 10, 0, CancelCause::mass_cancel},
                         LevelChanged{1, S, 505, 0}}));
  order(1, 6, S, 505, 7);
  r.take();
  EXPECT_EQ(e.mass_cancel(7), 4u);
  EXPECT_EQ(r.take(), (E{Cancelled{0, 1, 7, B, 500, 10, 0, CancelCause::mass_cancel},
                         LevelChanged{0, B, 500, 10},
                         Cancelled{0, 3, 7, B, 495, 10, 0, CancelCause::mass_cancel},
                         LevelChanged{0, B, 495, 0},
                         Cancelled{0, 4, 7, S, 510, 10, 0, CancelCause::mass_cancel},
                         LevelChanged{0, S, 510, 0},
                         Cancelled{1, 6, 7, S, 505, 10, 0, CancelCause::mass_cancel},
                         LevelChanged{1, S, 505, 0}}));
  EXPECT_EQ(e.book(0)->resting_count(), 1u);
}

TEST_F(BookTest, PreOpenCollectsWithoutMatching) {
  book_->set_state(TradingState::pre_open);
  EXPECT_EQ(ev(), (E{StateChanged{0, TradingState::open, TradingState::pre_open}}));
  put(lim(1, S, 505, 10, 1));
  put(lim(2, B, 500, 10, 2));
  const NewOrder o = lim(3, B, 505, 10, 3);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(o), LevelChanged{0, B, 505, 10}, Indicative{0, 505, 10, 0}}));
  // Crossed: the open needs the opening auction first.
  EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::book_crossed);
  EXPECT_EQ(book_->state(), TradingState::pre_open);
  EXPECT_TRUE(ev().empty());
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 505, 10, 0, 1}));
  EXPECT_EQ(ev(), (E{Trade{0, 1, 505, 10, B, 3, 3, 0, 1, 1, 0}, LevelChanged{0, B, 505, 0},
                     LevelChanged{0, S, 505, 0}, Indicative{0, 0, 0, 0}}));
  EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::none);
  EXPECT_EQ(ev(), (E{StateChanged{0, TradingState::pre_open, TradingState::open}}));
  EXPECT_EQ(book_->best_bid(), 500);
  EXPECT_EQ(book_->best_ask(), std::nullopt);
}

TEST_F(BookTest, BreakAndHaltKeepOrdersAndAllowCancels) {
  put(lim(1, S, 505, 10, 1));
  put(lim(2, S, 510, 10, 1));
  for (TradingState s : {TradingState::midday_break, TradingState::halted}) {
    book_->set_state(s);
    ev();
    EXPECT_EQ(book_->resting_count(), 2u);
  }
  EXPECT_EQ(book_->cancel(CancelOrder{0, 2, 1}), RejectReason::none);
  book_->set_state(TradingState::open);
  EXPECT_EQ(ev().back(), (Event{StateChanged{0, TradingState::halted, TradingState::open}}));
  EXPECT_EQ(book_->new_order(lim(3, B, 505, 10, 2)), RejectReason::none);
}

TEST_F(BookTest, HaltCanCancelEverything) {
  put(lim(1, B, 500, 10, 1));
  put(lim(2, S, 510, 10, 2));
  put(lim(3, B, 500, 10, 3));
  EXPECT_EQ(book_->set_state(TradingState::halted, true), RejectReason::none);
  EXPECT_EQ(ev(), (E{StateChanged{0, TradingState::open, TradingState::halted},
                     Cancelled{0, 1, 1, B, 500, 10, 0, CancelCause::halt},
                     Cancelled{0, 3, 3, B, 500, 10, 0, CancelCause::halt}, LevelChanged{0, B, 500, 0},
                     Cancelled{0, 2, 2, S, 510, 10, 0, CancelCause::halt}, LevelChanged{0, S, 510, 0}}));
  EXPECT_EQ(book_->resting_count(), 0u);
}

TEST_F(BookTest, EndOfDayExpiresDayOrders) {
  put(lim(1, B, 500, 10, 1, TimeInForce::day));
  put(lim(2, B, 500, 10, 2, TimeInForce::gtc));
  NewOrder g = lim(3, S, 510, 10, 3, TimeInForce::gtd);
  g.expire_date = 20270110;
  put(g);
  put(lim(4, S, 515, 20, 4, TimeInForce::day));
  book_->new_order(lim(5, B, 515, 10, 5, TimeInForce::ioc));  // fills 3 partially? no: 510 first
  ev();
  EXPECT_EQ(book_->end_of_day(), 2u);
  EXPECT_EQ(ev(), (E{Expired{0, 1, 1, B, 500, 10, 0, TimeInForce::day}, LevelChanged{0, B, 500, 10},
                     Expired{0, 4, 4, S, 515, 20, 0, TimeInForce::day}, LevelChanged{0, S, 515, 0},
                     StateChanged{0, TradingState::open, TradingState::closed}}));
  EXPECT_EQ(book_->state(), TradingState::closed);
  EXPECT_EQ(book_->resting_count(), 1u);  // the GTC; the GTD was filled by the IOC
}

TEST_F(BookTest, ExpireGtd) {
  auto gtd = [&](OrderId id, Date d) {
    NewOrder g = lim(id, B, 500 - static_cast<PriceFen>(id) * 5, 10, 1, TimeInForce::gtd);
    g.expire_date = d;
    return g;
  };
  put(gtd(1, 20270110));
  put(gtd(2, 20270111));
  put(gtd(3, 20270109));
  put(lim(4, B, 480, 10, 1, TimeInForce::gtc));
  EXPECT_EQ(book_->expire_gtd(20270110), 2u);
  EXPECT_EQ(ev(), (E{Expired{0, 1, 1, B, 495, 10, 0, TimeInForce::gtd}, LevelChanged{0, B, 495, 0},
                     Expired{0, 3, 1, B, 485, 10, 0, TimeInForce::gtd}, LevelChanged{0, B, 485, 0}}));
  EXPECT_EQ(book_->resting_count(), 2u);
  expect_reject(gtd(5, 20270110), RejectReason::invalid_expire_date);
  EXPECT_EQ(book_->new_order(gtd(5, 20270111)), RejectReason::none);
  EXPECT_EQ(book_->find(5)->expire_date, 20270111u);
}

TEST_F(BookTest, ReferenceMovesTheBand) {
  EXPECT_EQ(book_->band_low_fen(), 450);
  EXPECT_EQ(book_->band_high_fen(), 550);
  EXPECT_EQ(book_->set_reference(903), RejectReason::none);  // 903 +- 90
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 903, 813, 993}}));
  EXPECT_EQ(book_->market_limit_fen(B), 990);  // on tick
  EXPECT_EQ(book_->market_limit_fen(S), 815);
  expect_reject(lim(1, B, 810, 10), RejectReason::price_outside_band);
  EXPECT_EQ(book_->new_order(lim(1, B, 815, 10)), RejectReason::none);
  EXPECT_EQ(book_->new_order(lim(2, S, 990, 10)), RejectReason::none);
  ev();
  expect_reject(lim(3, S, 995, 10), RejectReason::price_outside_band);
  EXPECT_EQ(book_->set_reference(990), RejectReason::none);  // clipped at the ceiling: [891, 1000]
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 990, 891, 1000}}));
  EXPECT_EQ(book_->new_order(lim(3, S, 1000, 10)), RejectReason::none);
}

// ------------------------------------------------------------- snapshots

TEST_F(BookTest, SnapshotAndRestoreRebuildAnIdenticalBook) {
  put(lim(1, B, 500, 30, 1, TimeInForce::day));
  put(lim(2, B, 500, 10, 2));
  put(lim(3, B, 490, 10, 3));
  NewOrder g = lim(4, S, 520, 50, 4, TimeInForce::gtd, StpMode::cancel_both);
  g.expire_date = 20270301;
  put(g);
  NewOrder po = lim(5, S, 530, 10, 5);
  po.post_only = true;
  put(po);
  put(lim(6, S, 500, 20, 6, TimeInForce::ioc));  // partially fills order 1
  book_->expire_gtd(20270101);
  ev();

  std::vector<RestingOrder> snap;
  book_->for_each_resting([&](const RestingOrder& o) { snap.push_back(o); });
  ASSERT_EQ(snap.size(), 5u);
  EXPECT_EQ(snap[0], (RestingOrder{1, 1, B, TimeInForce::day, StpMode::cancel_newest, false, 500, 10, 20, 0}));
  EXPECT_EQ(snap[1].id, 2u);
  EXPECT_EQ(snap[2].id, 3u);
  EXPECT_EQ(snap[3], (RestingOrder{4, 4, S, TimeInForce::gtd, StpMode::cancel_both, false, 520, 50, 0, 20270301}));
  EXPECT_EQ(snap[4].id, 5u);
  const BookMeta meta = book_->meta();
  EXPECT_EQ(meta, (BookMeta{TradingState::open, 500, 2, 20270101}));

  Recorder r2;
  Book<Recorder> copy(p_, r2);
  ASSERT_EQ(copy.restore_meta(meta), RejectReason::none);
  for (const auto& o : snap) ASSERT_EQ(copy.restore(o), RejectReason::none);
  EXPECT_TRUE(r2.take().empty());
  std::vector<RestingOrder> again;
  copy.for_each_resting([&](const RestingOrder& o) { again.push_back(o); });
  EXPECT_EQ(again, snap);
  EXPECT_EQ(copy.meta(), meta);
  EXPECT_EQ(copy.audit(), nullptr);
  EXPECT_EQ(book_->audit(), nullptr);

  // Both books now behave identically.
  for (Book<Recorder>* b : {book_.get(), &copy}) {
    b->new_order(lim(7, S, 490, 50, 9, TimeInForce::ioc));
    b->replace(ReplaceOrder{0, 4, 4, 510, 60});
    b->new_order(lim(8, B, 530, 100, 8));
    b->end_of_day();
  }
  EXPECT_EQ(ev(), r2.take());
}

TEST_F(BookTest, QueriesReportTheBook) {
  EXPECT_EQ(book_->best_bid(), std::nullopt);
  EXPECT_EQ(book_->best_ask(), std::nullopt);
  put(lim(1, B, 495, 10, 1));
  put(lim(2, B, 500, 20, 1));
  put(lim(3, S, 520, 30, 1));
  EXPECT_EQ(book_->best_bid(), 500);
  EXPECT_EQ(book_->best_ask(), 520);
  EXPECT_EQ(book_->level_qty(B, 500), 20);
  EXPECT_EQ(book_->level_qty(S, 500), 0);
  EXPECT_EQ(book_->level_qty(B, 502), 0);  // off tick
  EXPECT_EQ(book_->level_qty(B, 5000), 0);  // off the grid
  EXPECT_EQ(book_->resting_count(), 3u);
  EXPECT_EQ(book_->find(3), (std::optional<RestingOrder>{RestingOrder{3, 1, S, TimeInForce::gtc, StpMode::cancel_newest, false, 520, 30, 0, 0}}));
  EXPECT_EQ(book_->find(4), std::nullopt);
  EXPECT_EQ(book_->instrument(), 0u);
  EXPECT_EQ(book_->state(), TradingState::open);
  EXPECT_EQ(book_->reference_fen(), 500);
}

TEST(EngineDeterminism, SameCommandsSameEvents) {
  auto run = [] {
    Recorder r;
    const InstrumentParams ps[2] = {simple_params(0), simple_params(1)};
    Engine<Recorder> e(ps, r);
    e.set_state(0, TradingState::open);
    e.set_state(1, TradingState::open);
    for (OrderId i = 1; i <= 2000; ++i) {
      NewOrder o = lim(i, (i * 7) % 3 == 0 ? S : B, 450 + static_cast<PriceFen>((i * 13) % 21) * 5,
                       10 * static_cast<Qty>(1 + i % 5), static_cast<AccountId>(i % 4),
                       static_cast<TimeInForce>(i % 4), static_cast<StpMode>(i % 3));
      o.instrument = static_cast<InstrumentId>(i % 2);
      o.expire_date = 20270101;
      e.new_order(o);
      if (i % 9 == 0) e.cancel(CancelOrder{static_cast<InstrumentId>((i - 4) % 2), i - 4, static_cast<AccountId>((i - 4) % 4)});
      if (i % 11 == 0) e.replace(ReplaceOrder{static_cast<InstrumentId>((i - 2) % 2), i - 2, static_cast<AccountId>((i - 2) % 4), 500, 30});
      if (i % 500 == 0) e.mass_cancel(static_cast<AccountId>(i % 4));
    }
    e.end_of_day(0);
    return r.take();
  };
  const auto a = run();
  EXPECT_GT(a.size(), 2000u);
  EXPECT_EQ(a, run());
}

}  // namespace
}  // namespace haihe::engine::test
