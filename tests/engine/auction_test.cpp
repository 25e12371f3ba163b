// Call auctions (engine/engine.h, "Call auction"): hand-computed uncrosses
// with exact event sequences, indicative updates, order entry and
// self-trade prevention in call phases, states, snapshot/restore of a
// crossed book. Every test checks Book::audit() after each command.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/engine.h"
#include "tests/engine/test_util.h"

namespace haihe::engine::test {
namespace {

using E = std::vector<Event>;
constexpr Side B = Side::buy;
constexpr Side S = Side::sell;

NewOrder lim(OrderId id, Side s, PriceFen px, Qty q, AccountId a,
             StpMode stp = StpMode::cancel_newest, TimeInForce tif = TimeInForce::gtc) {
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

Accepted acc(const NewOrder& o) {
  return Accepted{o.instrument, o.id, o.account, o.side, o.type, o.tif, o.stp,
                  o.post_only, o.price_fen, o.qty, o.expire_date};
}

/// A book of simple_params() (tick 5, lot 10, reference 500, band [450,
/// 550]) in state call.
class AuctionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    book_ = std::make_unique<Book<Recorder>>(p_, rec_);
    EXPECT_EQ(book_->set_state(TradingState::call), RejectReason::none);
    rec_.take();
  }
  void TearDown() override { EXPECT_EQ(book_->audit(), nullptr) << book_->audit(); }
  void put(const NewOrder& o) {
    ASSERT_EQ(book_->new_order(o), RejectReason::none);
    ASSERT_EQ(book_->audit(), nullptr) << book_->audit();
    rec_.take();
  }
  E ev() {
    EXPECT_EQ(book_->audit(), nullptr) << book_->audit();
    return rec_.take();
  }
  std::vector<RestingOrder> resting() const {
    std::vector<RestingOrder> out;
    book_->for_each_resting([&](const RestingOrder& o) { out.push_back(o); });
    return out;
  }

  InstrumentParams p_ = simple_params();
  Recorder rec_;
  std::unique_ptr<Book<Recorder>> book_;
};

// ------------------------------------------------------------ clearing

TEST_F(AuctionTest, NoCrossNoAuction) {
  put(lim(1, B, 495, 10, 1));
  put(lim(2, S, 505, 10, 2));
  EXPECT_EQ(book_->indicative(), (Indicative{0, 0, 0, 0}));
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 0, 0, 0, 0}));
  EXPECT_TRUE(ev().empty());
  EXPECT_EQ(book_->resting_count(), 2u);
  // An empty book, and a one-sided one, do not cross either.
  Recorder r;
  Book<Recorder> empty(p_, r);
  empty.set_state(TradingState::pre_open);
  EXPECT_EQ(empty.uncross(), (UncrossResult{RejectReason::none, 0, 0, 0, 0}));
  empty.new_order(lim(1, B, 550, 10, 1));
  EXPECT_EQ(empty.uncross(), (UncrossResult{RejectReason::none, 0, 0, 0, 0}));
}

// D/S per candidate:   495: 60/10 -> 10;  500: 60/30 -> 30 (imb +30);
//                      505: 50/30 -> 30 (imb +20);  510: 30/60 -> 30 (imb -30).
// Volume ties at 500, 505, 510; the smallest |imbalance| picks 505.
TEST_F(AuctionTest, VolumeTieBrokenByImbalance) {
  put(lim(1, B, 510, 30, 1));
  put(lim(2, B, 505, 20, 2));
  put(lim(3, B, 500, 10, 3));
  put(lim(4, S, 495, 10, 4));
  put(lim(5, S, 500, 20, 5));
  put(lim(6, S, 510, 30, 6));
  EXPECT_EQ(book_->indicative(), (Indicative{0, 505, 30, 20}));
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 505, 30, 20, 2}));
  // Sells are the short side and fill completely; the best buy (510) takes
  // all 30, the buy at 505 gets nothing although it is eligible.
  EXPECT_EQ(ev(), (E{Trade{0, 1, 505, 10, B, 1, 1, 20, 4, 4, 0},
                     Trade{0, 2, 505, 20, B, 1, 1, 0, 5, 5, 0},
                     LevelChanged{0, B, 510, 0},
                     LevelChanged{0, S, 495, 0},
                     LevelChanged{0, S, 500, 0},
                     Indicative{0, 0, 0, 0}}));
  EXPECT_EQ(book_->best_bid(), 505);
  EXPECT_EQ(book_->best_ask(), 510);
  EXPECT_EQ(book_->find(2)->leaves_qty, 20);
  EXPECT_EQ(book_->state(), TradingState::call);  // uncross does not change the state
  EXPECT_EQ(book_->meta().next_trade_id, 3u);
}

// One buy 10 @ 510, one sell 10 @ 500: volume 10 and imbalance 0 at both
// candidates; the distance to the reference decides, then the lower price.
TEST_F(AuctionTest, VolumeAndImbalanceTieBrokenByReferenceThenLowerPrice) {
  put(lim(1, B, 510, 10, 1));
  put(lim(2, S, 500, 10, 2));
  EXPECT_EQ(book_->indicative(), (Indicative{0, 500, 10, 0}));  // reference 500
  EXPECT_EQ(book_->set_reference(506), RejectReason::none);      // 510 is 4 away, 500 is 6
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 506, 456, 556}, Indicative{0, 510, 10, 0}}));
  EXPECT_EQ(book_->set_reference(505), RejectReason::none);  // 5 and 5: the lower price
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 505, 455, 555}, Indicative{0, 500, 10, 0}}));
  EXPECT_EQ(book_->set_reference(520), RejectReason::none);
  EXPECT_EQ(ev(), (E{ReferenceChanged{0, 520, 468, 572}, Indicative{0, 510, 10, 0}}));
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 510, 10, 0, 1}));
  EXPECT_EQ(ev(), (E{Trade{0, 1, 510, 10, B, 1, 1, 0, 2, 2, 0}, LevelChanged{0, B, 510, 0},
                     LevelChanged{0, S, 500, 0}, Indicative{0, 0, 0, 0}}));
  EXPECT_EQ(book_->resting_count(), 0u);
}

// Sells 20 @ 495, then 20, 20, 20 @ 500 (in that time order); a buy 50 @
// 505. 500 and 505 both give volume 50, imbalance -30; the reference (500)
// picks 500. Better price first (495), then time priority at 500; the
// third order reached fills partially, the fourth not at all.
TEST_F(AuctionTest, TimePriorityAtTheClearingPriceAndPartialFill) {
  put(lim(1, S, 495, 20, 1));
  put(lim(2, S, 500, 20, 2));
  put(lim(3, S, 500, 20, 3));
  put(lim(4, S, 500, 20, 4));
  put(lim(5, B, 505, 50, 5));
  EXPECT_EQ(book_->indicative(), (Indicative{0, 500, 50, -30}));
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 500, 50, -30, 3}));
  EXPECT_EQ(ev(), (E{Trade{0, 1, 500, 20, B, 5, 5, 30, 1, 1, 0},
                     Trade{0, 2, 500, 20, B, 5, 5, 10, 2, 2, 0},
                     Trade{0, 3, 500, 10, B, 5, 5, 0, 3, 3, 10},
                     LevelChanged{0, B, 505, 0},
                     LevelChanged{0, S, 495, 0},
                     LevelChanged{0, S, 500, 30},
                     Indicative{0, 0, 0, 0}}));
  EXPECT_EQ(resting(),
            (std::vector<RestingOrder>{
                {3, 3, S, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 10, 10, 0},
                {4, 4, S, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 20, 0, 0}}));
}

// Several orders on both sides that all fill: D(p) == S(p) at the price.
// Pairing walks both sides in priority order.
TEST_F(AuctionTest, BalancedAuctionPairsInPriorityOrder) {
  put(lim(1, B, 510, 20, 1));
  put(lim(2, B, 505, 10, 2));
  put(lim(3, S, 500, 30, 3));
  put(lim(4, B, 505, 10, 4));
  put(lim(5, S, 505, 10, 5));
  put(lim(6, B, 495, 10, 6));  // does not cross
  // 500: D 40, S 30 -> 30 (+10);  505: D 40, S 40 -> 40 (0);  510: D 20, S 40 -> 20.
  EXPECT_EQ(book_->indicative(), (Indicative{0, 505, 40, 0}));
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 505, 40, 0, 3}));
  EXPECT_EQ(ev(), (E{Trade{0, 1, 505, 20, B, 1, 1, 0, 3, 3, 10},
                     Trade{0, 2, 505, 10, B, 2, 2, 0, 3, 3, 0},
                     Trade{0, 3, 505, 10, B, 4, 4, 0, 5, 5, 0},
                     LevelChanged{0, B, 510, 0},
                     LevelChanged{0, B, 505, 0},
                     LevelChanged{0, S, 500, 0},
                     LevelChanged{0, S, 505, 0},
                     Indicative{0, 0, 0, 0}}));
  EXPECT_EQ(book_->resting_count(), 1u);
  EXPECT_EQ(book_->best_bid(), 495);
}

// ---------------------------------------------------------- indicative

TEST_F(AuctionTest, IndicativeFollowsEveryChange) {
  auto step = [&](auto&& command, const E& want) {
    command();
    EXPECT_EQ(ev(), want);
  };
  const NewOrder s1 = lim(1, S, 500, 10, 1);
  step([&] { book_->new_order(s1); }, E{acc(s1), LevelChanged{0, S, 500, 10}});  // nothing crosses
  const NewOrder b2 = lim(2, B, 505, 10, 2);
  // 500: 10/10, 505: 10/10: tie, the reference (500) picks 500.
  step([&] { book_->new_order(b2); },
       E{acc(b2), LevelChanged{0, B, 505, 10}, Indicative{0, 500, 10, 0}});
  const NewOrder b3 = lim(3, B, 510, 10, 3);
  // 500: 20/10 (+10), 505: 20/10 (+10), 510: 10/10 (0): 510.
  step([&] { book_->new_order(b3); },
       E{acc(b3), LevelChanged{0, B, 510, 10}, Indicative{0, 510, 10, 0}});
  const NewOrder b4 = lim(4, B, 495, 10, 4);
  step([&] { book_->new_order(b4); }, E{acc(b4), LevelChanged{0, B, 495, 10}});  // below the asks
  step([&] { book_->cancel(CancelOrder{0, 3, 3}); },
       E{Cancelled{0, 3, 3, B, 510, 10, 0, CancelCause::requested}, LevelChanged{0, B, 510, 0},
         Indicative{0, 500, 10, 0}});
  step([&] { book_->replace(ReplaceOrder{0, 2, 2, 505, 20}); },
       E{Replaced{0, 2, 2, B, 505, 505, 20, 20, 0, false}, LevelChanged{0, B, 505, 20},
         Indicative{0, 500, 10, 10}});
  EXPECT_EQ(book_->indicative(), (Indicative{0, 500, 10, 10}));
  // Leaving the call phase clears it; coming back restores it.
  step([&] { book_->set_state(TradingState::halted); },
       E{StateChanged{0, TradingState::call, TradingState::halted}, Indicative{0, 0, 0, 0}});
  EXPECT_EQ(book_->indicative(), (Indicative{0, 0, 0, 0}));
  step([&] { EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::book_crossed); }, E{});
  step([&] { book_->set_state(TradingState::pre_open); },
       E{StateChanged{0, TradingState::halted, TradingState::pre_open}, Indicative{0, 500, 10, 10}});
  step([&] { book_->mass_cancel(1); },
       E{Cancelled{0, 1, 1, S, 500, 10, 0, CancelCause::mass_cancel}, LevelChanged{0, S, 500, 0},
         Indicative{0, 0, 0, 0}});
  // Restored by an order; cleared by the end of the day, which keeps the
  // GTC orders (crossed) in state closed.
  // 495: D 30, S 10 (+20); 505: D 20, S 10 (+10): 505.
  const NewOrder s5 = lim(5, S, 495, 10, 5);
  step([&] { book_->new_order(s5); },
       E{acc(s5), LevelChanged{0, S, 495, 10}, Indicative{0, 505, 10, 10}});
  step([&] { book_->end_of_day(); },
       E{StateChanged{0, TradingState::pre_open, TradingState::closed}, Indicative{0, 0, 0, 0}});
  EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::book_crossed);
  EXPECT_EQ(book_->resting_count(), 3u);
}

// --------------------------------------------------- states and entry

TEST_F(AuctionTest, UncrossOnlyInCallPhases) {
  put(lim(1, B, 505, 10, 1));
  put(lim(2, S, 500, 10, 2));
  for (const TradingState s : {TradingState::open, TradingState::closed, TradingState::midday_break,
                               TradingState::halted}) {
    // (open is refused while crossed; test it on an uncrossed copy below)
    if (s == TradingState::open) continue;
    ASSERT_EQ(book_->set_state(s), RejectReason::none);
    ev();
    EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::invalid_state, 0, 0, 0, 0}));
    EXPECT_TRUE(ev().empty());
    EXPECT_EQ(book_->resting_count(), 2u);
  }
  Recorder r;
  Book<Recorder> open(p_, r);
  open.set_state(TradingState::open);
  open.new_order(lim(1, B, 495, 10, 1));
  r.take();
  EXPECT_EQ(open.uncross(), (UncrossResult{RejectReason::invalid_state, 0, 0, 0, 0}));
  EXPECT_TRUE(r.take().empty());

  // Engine: unknown instrument; a known one delegates.
  const InstrumentParams ps[1] = {p_};
  Engine<Recorder> e(ps, r);
  EXPECT_EQ(e.uncross(1), (UncrossResult{RejectReason::unknown_instrument, 0, 0, 0, 0}));
  EXPECT_EQ(e.uncross(0), (UncrossResult{RejectReason::invalid_state, 0, 0, 0, 0}));
  e.set_state(0, TradingState::call);
  e.new_order(lim(1, B, 505, 10, 1));
  e.new_order(lim(2, S, 500, 10, 2));
  EXPECT_EQ(e.uncross(0), (UncrossResult{RejectReason::none, 500, 10, 0, 1}));
  EXPECT_EQ(to_string(TradingState::call), "call");
  EXPECT_EQ(to_string(RejectReason::not_allowed_in_call), "not_allowed_in_call");
  EXPECT_EQ(to_string(RejectReason::book_crossed), "book_crossed");
}

TEST_F(AuctionTest, OrderEntryInCall) {
  auto reject = [&](const NewOrder& o, RejectReason r) {
    EXPECT_EQ(book_->new_order(o), r) << to_string(r);
    EXPECT_EQ(ev(), (E{Rejected{0, o.id, o.account, CommandKind::new_order, r}}));
  };
  reject(lim(1, B, 500, 10, 1, StpMode::cancel_newest, TimeInForce::ioc), RejectReason::not_allowed_in_call);
  reject(lim(1, B, 500, 10, 1, StpMode::cancel_newest, TimeInForce::fok), RejectReason::not_allowed_in_call);
  NewOrder m = lim(1, B, 0, 10, 1, StpMode::cancel_newest, TimeInForce::ioc);
  m.type = OrderType::market;
  reject(m, RejectReason::not_allowed_in_call);
  put(lim(1, S, 500, 10, 1));
  NewOrder po = lim(2, B, 500, 10, 2);
  po.post_only = true;
  reject(po, RejectReason::post_only_would_cross);  // post-only never enters crossed
  po.price_fen = 495;
  put(po);  // post-only that does not cross is accepted
  NewOrder gtd = lim(3, B, 505, 10, 3, StpMode::cancel_newest, TimeInForce::gtd);
  gtd.expire_date = 20270101;
  EXPECT_EQ(book_->new_order(gtd), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(gtd), LevelChanged{0, B, 505, 10}, Indicative{0, 500, 10, 0}}));
  // A DAY order, and price checks as usual.
  put(lim(4, B, 510, 10, 4, StpMode::cancel_newest, TimeInForce::day));
  reject(lim(5, B, 555, 10, 5), RejectReason::price_outside_band);
  // A crossing post-only replace is refused; a plain one is not.
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 2, 2, 500, 10}), RejectReason::post_only_would_cross);
  ev();
  // pre_open rejects immediate orders with its own reason.
  book_->set_state(TradingState::pre_open);
  ev();
  reject(lim(6, B, 500, 10, 6, StpMode::cancel_newest, TimeInForce::ioc), RejectReason::not_allowed_in_pre_open);
}

// ------------------------------------------------ self-trade prevention

TEST_F(AuctionTest, SelfTradePreventionCancelNewestAtEntry) {
  put(lim(1, S, 500, 10, 1));
  put(lim(2, S, 495, 10, 2));
  const NewOrder o = lim(3, B, 505, 10, 1, StpMode::cancel_newest);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  // Its own sell at 500 crosses it: nothing is touched, it is cancelled whole.
  EXPECT_EQ(ev(), (E{acc(o), Cancelled{0, 3, 1, B, 505, 10, 0, CancelCause::self_trade}}));
  EXPECT_EQ(book_->resting_count(), 2u);
  // Not crossing its own order (500) is fine, even when crossing others'.
  const NewOrder ok = lim(4, B, 495, 10, 1, StpMode::cancel_newest);
  EXPECT_EQ(book_->new_order(ok), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(ok), LevelChanged{0, B, 495, 10}, Indicative{0, 495, 10, 0}}));
}

TEST_F(AuctionTest, SelfTradePreventionCancelOldestAtEntry) {
  put(lim(1, S, 500, 10, 1));
  put(lim(2, S, 500, 10, 2));
  put(lim(3, S, 505, 10, 1));
  put(lim(4, S, 510, 10, 1));  // does not cross the new order
  const NewOrder o = lim(5, B, 505, 20, 1, StpMode::cancel_oldest);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(o), Cancelled{0, 1, 1, S, 500, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, S, 500, 10},
                     Cancelled{0, 3, 1, S, 505, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, S, 505, 0}, LevelChanged{0, B, 505, 20},
                     Indicative{0, 500, 10, 10}}));
  // The uncross pairs it with account 2 only.
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 500, 10, 10, 1}));
  EXPECT_EQ(ev(), (E{Trade{0, 1, 500, 10, B, 5, 1, 10, 2, 2, 0}, LevelChanged{0, B, 505, 10},
                     LevelChanged{0, S, 500, 0}, Indicative{0, 0, 0, 0}}));
}

TEST_F(AuctionTest, SelfTradePreventionCancelBothAtEntry) {
  put(lim(1, B, 505, 10, 1));
  put(lim(2, B, 500, 10, 1));
  const NewOrder o = lim(3, S, 500, 10, 1, StpMode::cancel_both);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  // The first own order met (best price) and the new one.
  EXPECT_EQ(ev(), (E{acc(o), Cancelled{0, 1, 1, B, 505, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, B, 505, 0},
                     Cancelled{0, 3, 1, S, 500, 10, 0, CancelCause::self_trade}}));
  EXPECT_EQ(book_->resting_count(), 1u);
}

TEST_F(AuctionTest, SelfTradePreventionOnReplaceInCall) {
  put(lim(1, S, 500, 10, 1));
  put(lim(2, B, 495, 10, 1, StpMode::cancel_oldest));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 2, 1, 500, 10}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Replaced{0, 2, 1, B, 495, 500, 10, 10, 0, false}, LevelChanged{0, B, 495, 0},
                     Cancelled{0, 1, 1, S, 500, 10, 0, CancelCause::self_trade},
                     LevelChanged{0, S, 500, 0}, LevelChanged{0, B, 500, 10}}));
  put(lim(3, S, 505, 10, 1));
  put(lim(4, S, 505, 10, 2));
  put(lim(5, B, 495, 10, 1, StpMode::cancel_newest));
  EXPECT_EQ(book_->replace(ReplaceOrder{0, 5, 1, 505, 20}), RejectReason::none);
  EXPECT_EQ(ev(), (E{Replaced{0, 5, 1, B, 495, 505, 20, 20, 0, false}, LevelChanged{0, B, 495, 0},
                     Cancelled{0, 5, 1, B, 505, 20, 0, CancelCause::self_trade}}));
}

// ---------------------------------------------------- snapshot/restore

TEST_F(AuctionTest, SnapshotAndRestoreOfACrossedCallBook) {
  // Some filled quantity first (continuous trading), then a call phase.
  ASSERT_EQ(book_->set_state(TradingState::open), RejectReason::none);
  put(lim(1, S, 505, 30, 1));
  put(lim(2, B, 505, 10, 2));  // fills 10 of order 1
  ASSERT_EQ(book_->set_state(TradingState::call), RejectReason::none);
  put(lim(3, B, 510, 20, 3));
  put(lim(4, B, 505, 20, 4));
  put(lim(5, S, 500, 10, 5));
  put(lim(6, S, 495, 10, 6));
  // 495: 40/10, 500: 40/20, 505: 40/40 (0), 510: 20/40: 505, volume 40.
  EXPECT_EQ(book_->set_reference(505), RejectReason::none);
  rec_.take();
  const Indicative ind = book_->indicative();
  EXPECT_GT(ind.volume_qty, 0);
  const BookMeta meta = book_->meta();
  const std::vector<RestingOrder> snap = resting();

  Recorder r2;
  Book<Recorder> copy(p_, r2);
  ASSERT_EQ(copy.restore_meta(meta), RejectReason::none);
  for (const RestingOrder& o : snap) ASSERT_EQ(copy.restore(o), RejectReason::none) << o.id;
  EXPECT_TRUE(r2.take().empty());
  EXPECT_EQ(copy.audit(), nullptr) << copy.audit();
  EXPECT_EQ(copy.indicative(), ind);
  std::vector<RestingOrder> again;
  copy.for_each_resting([&](const RestingOrder& o) { again.push_back(o); });
  EXPECT_EQ(again, snap);
  // Both books uncross identically.
  EXPECT_EQ(copy.uncross(), book_->uncross());
  EXPECT_EQ(r2.take(), ev());
  EXPECT_EQ(copy.meta(), book_->meta());

  // restore_crosses: crossing in open, or crossing an own order anywhere.
  Recorder r3;
  Book<Recorder> b3(p_, r3);
  BookMeta m = meta;
  m.state = TradingState::open;
  ASSERT_EQ(b3.restore_meta(m), RejectReason::none);
  ASSERT_EQ(b3.restore(RestingOrder{1, 1, B, TimeInForce::gtc, StpMode::cancel_newest, false, 505, 10, 0, 0}),
            RejectReason::none);
  EXPECT_EQ(b3.restore(RestingOrder{2, 2, S, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 10, 0, 0}),
            RejectReason::restore_crosses);
  Book<Recorder> b4(p_, r3);
  m.state = TradingState::halted;  // a halt during a call keeps the book crossed
  ASSERT_EQ(b4.restore_meta(m), RejectReason::none);
  ASSERT_EQ(b4.restore(RestingOrder{1, 1, B, TimeInForce::gtc, StpMode::cancel_newest, false, 505, 10, 0, 0}),
            RejectReason::none);
  EXPECT_EQ(b4.restore(RestingOrder{2, 1, S, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 10, 0, 0}),
            RejectReason::restore_crosses);
  EXPECT_EQ(b4.restore(RestingOrder{2, 2, S, TimeInForce::gtc, StpMode::cancel_newest, false, 500, 10, 0, 0}),
            RejectReason::none);
  EXPECT_EQ(b4.indicative(), (Indicative{0, 0, 0, 0}));  // not a call phase
  EXPECT_EQ(b4.audit(), nullptr) << b4.audit();
  m.state = static_cast<TradingState>(6);
  EXPECT_EQ(b4.restore_meta(m), RejectReason::invalid_state);
  EXPECT_TRUE(r3.take().empty());
}

// The opening auction as the core runs it: pre_open collects, uncross at
// the open, then open; continuous trading goes on from the uncrossed book.
TEST_F(AuctionTest, OpeningAuctionThenContinuous) {
  book_->set_state(TradingState::closed);
  book_->set_state(TradingState::pre_open);
  ev();
  put(lim(1, B, 505, 30, 1));
  put(lim(2, S, 500, 10, 2));
  put(lim(3, S, 505, 10, 3));
  // 500: 30/10 (+20); 505: 30/20 (+10): 505.
  EXPECT_EQ(book_->indicative(), (Indicative{0, 505, 20, 10}));
  EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::book_crossed);
  EXPECT_EQ(book_->uncross(), (UncrossResult{RejectReason::none, 505, 20, 10, 2}));
  ev();
  EXPECT_EQ(book_->set_state(TradingState::open), RejectReason::none);
  ev();
  const NewOrder o = lim(4, S, 505, 20, 4);
  EXPECT_EQ(book_->new_order(o), RejectReason::none);
  EXPECT_EQ(ev(), (E{acc(o), Trade{0, 3, 505, 10, S, 4, 4, 10, 1, 1, 0}, LevelChanged{0, B, 505, 0},
                     LevelChanged{0, S, 505, 10}}));
}

}  // namespace
}  // namespace haihe::engine::test
