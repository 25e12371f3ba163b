// The exchange core end to end, in process: random multi-party streams with
// the ledger's laws and the books checked after every batch, determinism,
// replay, recovery, back-pressure and the trading-day schedule.
#include <gtest/gtest.h>

#include <set>

#include "exchange/journal.h"
#include "ledger/audit.h"
#include "tests/exchange/core_support.h"

namespace haihe::exchange::test {
namespace {

/// Runs `commands` commands of a seed's stream, in batches of random size,
/// advancing the clock by random milliseconds; calls after() after each batch.
void drive(Driver& d, ManualClock& clock, std::uint64_t seed, int commands,
           const std::function<void()>& after = {}) {
  Generator gen(d.core->rules(), seed);
  int sent = 0;
  while (sent < commands) {
    const int batch = 1 + static_cast<int>(gen.pick(40));
    for (int k = 0; k < batch && sent < commands; ++k, ++sent) {
      const Command c = gen.next([&](InstrumentIndex i) { return d.core->reference_fen(i).value_or(100); });
      ASSERT_EQ(d.core->submit(c), SubmitResult::ok);
    }
    clock.advance(static_cast<std::int64_t>(gen.pick(5000)) * kMs);
    d.step();
    if (after) after();
  }
}

/// Every execution event agrees with the ledger.
void check_events_against_ledger(const Driver& d) {
  const auto& ledger = d.core->ledger();
  std::map<std::uint64_t, ledger::TradeRecord> trades;
  for (const auto& t : ledger.trades(1, 1u << 30)) trades.emplace(t.id, t);
  std::uint64_t fills = 0;
  std::set<OrderId> dead;
  for (const Event& e : d.events) {
    if (e.kind == EventKind::order_fill) {
      ++fills;
      const auto it = trades.find(e.trade_id);
      ASSERT_NE(it, trades.end()) << "a fill without a settlement: trade " << e.trade_id;
      EXPECT_EQ(it->second.qty, e.last_qty);
      EXPECT_EQ(it->second.price_fen, e.last_px_fen);
      EXPECT_TRUE(it->second.buy_order == e.order_id || it->second.sell_order == e.order_id);
      EXPECT_TRUE(it->second.buyer == e.party || it->second.seller == e.party);
      if (e.leaves_qty == 0) dead.insert(e.order_id);
    }
    if (e.kind == EventKind::order_cancelled || e.kind == EventKind::order_expired ||
        (e.kind == EventKind::order_rejected && e.order_id != 0)) {
      dead.insert(e.order_id);
    }
  }
  EXPECT_EQ(fills, 2 * trades.size()) << "every trade is two fills";
  for (OrderId id : dead) EXPECT_FALSE(ledger.order(id).has_value()) << "dead order " << id << " still reserves";
}

TEST(CoreStream, RandomStreamsKeepTheLawsAfterEveryBatch) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    TempDir dir;
    ManualClock clock(beijing(9, 29));
    auto o = core_options(dir.path(), &clock);
    Driver d(o);
    std::uint64_t batches = 0;
    drive(d, clock, seed, 1500, [&] {
      ++batches;
      const auto problems = d.core->check();
      ASSERT_TRUE(problems.empty()) << "seed " << seed << " batch " << batches << ": " << problems.front();
    });
    check_events_against_ledger(d);
    EXPECT_GT(d.core->stats().trades, 10u) << "seed " << seed << ": the stream should trade";
  }
}

TEST(CoreStream, SameStreamSameEventsSameChain) {
  std::vector<Event> first;
  ledger::Hash head{};
  for (int run = 0; run < 2; ++run) {
    TempDir dir;
    ManualClock clock(beijing(9, 29));
    Driver d(core_options(dir.path(), &clock));
    drive(d, clock, 77, 3000);
    if (run == 0) {
      first = d.events;
      head = d.core->ledger().head_hash();
    } else {
      ASSERT_EQ(d.events.size(), first.size());
      EXPECT_TRUE(d.events == first) << "the event streams differ";
      EXPECT_EQ(d.core->ledger().head_hash(), head);
    }
  }
}

TEST(CoreStream, ReplayReproducesEveryEventAndTheChainHead) {
  TempDir dir, scratch;
  {
    ManualClock clock(beijing(9, 29));
    Driver d(core_options(dir.path(), &clock));
    drive(d, clock, 5, 4000);
    clock.set(beijing(15, 30));  // through the end of the day
    d.step();
    EXPECT_GT(d.core->stats().snapshots, 0u);
  }
  const auto r = replay(dir.path(), scratch.path() / "replay");
  EXPECT_TRUE(r.events_match) << r.mismatch << " at batch " << r.first_mismatch_batch;
  EXPECT_TRUE(r.heads_match());
  EXPECT_GT(r.events_compared, 1000u);
  EXPECT_GT(r.batches, 50u);
}

TEST(CoreStream, ReopeningRebuildsTheBooksAndTradingContinues) {
  TempDir dir;
  ManualClock clock(beijing(9, 29));
  std::string books;
  Seq seq = 0;
  {
    Driver d(core_options(dir.path(), &clock));
    drive(d, clock, 9, 5000);
    books = d.core->books_text();
    seq = d.core->last_seq();
    EXPECT_GT(d.core->stats().snapshots, 0u);
  }
  Driver d(core_options(dir.path(), &clock));
  EXPECT_EQ(d.core->books_text(), books);
  EXPECT_EQ(d.core->last_seq(), seq);
  EXPECT_GT(d.core->recovery().snapshot_seq, 0u);
  EXPECT_GT(d.core->recovery().rerun_commands, 0u);
  EXPECT_TRUE(d.core->check().empty());
  const auto trades = d.core->stats().trades;
  drive(d, clock, 10, 2000);
  EXPECT_GT(d.core->stats().trades, trades);
  EXPECT_TRUE(d.core->check().empty());
}

TEST(CoreStream, StoredEventsCanBeReadBack) {
  TempDir dir;
  ManualClock clock(beijing(9, 29));
  std::vector<Event> party_events;
  {
    Driver d(core_options(dir.path(), &clock));
    drive(d, clock, 3, 800);
    for (const Event& e : d.events) {
      if (e.audience == Audience::party) party_events.push_back(e);
    }
  }
  Driver d(core_options(dir.path(), &clock));
  std::vector<Event> stored;
  d.core->for_each_stored_event(0, [&](const Event& e) { stored.push_back(e); });
  EXPECT_TRUE(stored == party_events);
  const Seq middle = party_events[party_events.size() / 2].seq;
  std::size_t later = 0;
  d.core->for_each_stored_event(middle, [&](const Event& e) {
    EXPECT_GT(e.seq, middle);
    ++later;
  });
  std::size_t expect = 0;
  for (const Event& e : party_events) expect += e.seq > middle ? 1 : 0;
  EXPECT_EQ(later, expect);
  std::size_t commands = 0;
  read_commands(dir.path(), [&](const Command&) { ++commands; });
  EXPECT_GE(commands, 800u);
}

TEST(CoreBackPressure, AFullQueueAnswersBusy) {
  TempDir dir;
  ManualClock clock(beijing(10, 0));
  auto o = core_options(dir.path(), &clock);
  o.queue_capacity = 8;
  auto core = Core::open(o);
  Command c{};
  c.kind = CommandKind::position_request;
  c.party = 5;
  int ok = 0;
  SubmitResult r = SubmitResult::ok;
  for (int k = 0; k < 100 && r == SubmitResult::ok; ++k) {
    r = core->submit(c);
    ok += r == SubmitResult::ok ? 1 : 0;
  }
  EXPECT_EQ(r, SubmitResult::busy);
  EXPECT_GE(ok, 8);
  EXPECT_EQ(core->stats().busy, 1u);
  core->step();
  EXPECT_EQ(core->submit(c), SubmitResult::ok);
  c.kind = CommandKind::schedule;
  EXPECT_EQ(core->submit(c), SubmitResult::invalid);
  core->stop();
  c.kind = CommandKind::position_request;
  EXPECT_EQ(core->submit(c), SubmitResult::stopped);
}

TEST(CoreBackPressure, AStalledSubscriberIsCutOffAndDoesNotSlowTheCore) {
  TempDir dir;
  ManualClock clock(beijing(9, 29));
  Driver d(core_options(dir.path(), &clock));
  auto stalled = d.core->subscribe(Audience::market, rules::kNone, 64);
  drive(d, clock, 4, 1500);
  EXPECT_TRUE(stalled->cut_off());
  EXPECT_NE(stalled->cut_off_reason().find("fell behind"), std::string::npos);
  Event e;
  std::size_t drained = 0;
  while (stalled->poll(e)) ++drained;
  EXPECT_LE(drained, 64u);
  EXPECT_EQ(d.events.size(), d.core->stats().events) << "the other subscriber got everything";
  EXPECT_GT(d.events.size(), 2000u);
  // A new subscription after the cut gets the new events.
  auto fresh = d.core->subscribe(Audience::market, rules::kNone, 1u << 16);
  drive(d, clock, 5, 100);
  EXPECT_FALSE(fresh->cut_off());
  EXPECT_TRUE(fresh->poll(e));
}

TEST(CoreSchedule, TheTradingDayFollowsTheRules) {
  TempDir dir;
  ManualClock clock(beijing(8, 0));
  Driver d(core_options(dir.path(), &clock));
  const auto& rules = d.core->rules();
  const InstrumentIndex nox = rules.find_instrument("NOX.BJ.2027");
  ASSERT_NE(nox, rules::kNone);
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::closed);
  clock.set(beijing(9, 15));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::pre_open);
  clock.set(beijing(9, 30));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::open);
  // A DAY sell and a GTC sell rest; a buy trades at 1 tick above the reference.
  PartyIndex seller = rules::kNone, buyer = rules::kNone;
  for (PartyIndex p = 0; p < rules.parties.size(); ++p) {
    if (!rules.may_trade(p, nox)) continue;
    if (d.core->ledger().holding(p, nox).free_qty >= 10 && seller == rules::kNone) seller = p;
    else if (d.core->ledger().cash(p).free_fen > 100'000'000 && buyer == rules::kNone && p != seller) buyer = p;
  }
  ASSERT_NE(seller, rules::kNone);
  ASSERT_NE(buyer, rules::kNone);
  const Fen ref = *d.core->reference_fen(nox);
  const Fen tick = rules.instruments[nox].tick_fen;
  auto order = [&](PartyIndex p, Side side, Fen px, Qty qty, TimeInForce tif, const char* id) {
    Command c{};
    c.kind = CommandKind::new_order;
    c.party = p;
    c.instrument = nox;
    c.side = side;
    c.tif = tif;
    c.price_fen = px;
    c.qty = qty;
    c.cl_ord_id = *ClOrdId::from(id);
    EXPECT_EQ(d.core->submit(c), SubmitResult::ok);
  };
  order(seller, Side::sell, ref + tick, 2, TimeInForce::day, "S1");
  order(seller, Side::sell, ref + 5 * tick, 1, TimeInForce::gtc, "S2");
  order(buyer, Side::buy, ref + tick, 1, TimeInForce::day, "B1");
  d.step();
  EXPECT_EQ(d.core->resting_orders(), 2u);
  clock.set(beijing(11, 30));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::midday_break);
  clock.set(beijing(13, 0));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::open);
  clock.set(beijing(15, 0));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::closed);
  EXPECT_EQ(d.core->resting_orders(), 1u) << "the DAY order expired, the GTC one rests";
  EXPECT_EQ(*d.core->reference_fen(nox), ref + tick) << "the closing price is the next reference";
  bool expired = false;
  for (const Event& e : d.events) expired |= e.kind == EventKind::order_expired && e.cl_ord_id.view() == "S1";
  EXPECT_TRUE(expired);
  EXPECT_TRUE(d.core->check().empty());
  // Friday 15:00 -> Saturday and Sunday stay closed -> Monday 09:15 pre-open.
  clock.set(beijing(16, 0, 20270319));
  d.step();
  clock.set(beijing(12, 0, 20270320));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::closed);
  clock.set(beijing(9, 16, 20270322));
  d.step();
  EXPECT_EQ(d.core->state(nox), TradingState::pre_open);
  // The same ClOrdID is usable again on a new day.
  clock.set(beijing(9, 31, 20270322));
  d.step();
  order(buyer, Side::buy, ref, 1, TimeInForce::day, "B1");
  d.step();
  EXPECT_EQ(d.events.back().kind == EventKind::order_rejected, false);
}

TEST(CoreRules, ADifferentRulesFileIsRefusedUnlessAmended) {
  TempDir dir;
  ManualClock clock(beijing(10, 0));
  { auto core = Core::open(core_options(dir.path(), &clock)); }
  std::string text(rules::default_rules_text());
  const auto at = text.find("buyer_fee_bps = 5");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 17, "buyer_fee_bps = 6");
  auto o = core_options(dir.path(), &clock);
  o.rules = rules::load_rules_text(text, "amended.toml");
  o.rules_text = text;
  try {
    auto core = Core::open(o);
    FAIL() << "a different rules file was accepted";
  } catch (const CoreError& e) {
    EXPECT_NE(std::string(e.what()).find("rules"), std::string::npos) << e.what();
  }
  o.amend_rules = true;
  auto core = Core::open(o);
  bool amended = false;
  core->ledger().read_journal(1, [&](ledger::Seq, ledger::TimestampNs, ledger::Bytes input) {
    amended |= std::string_view(reinterpret_cast<const char*>(input.data()), input.size()).starts_with("haihe amend");
  });
  EXPECT_TRUE(amended);
}

TEST(CoreCommands, RejectionsArePreciseAndChangeNothing) {
  TempDir dir;
  ManualClock clock(beijing(10, 0));
  Driver d(core_options(dir.path(), &clock));
  d.step();
  const auto& rules = d.core->rules();
  const InstrumentIndex nox = rules.find_instrument("NOX.BJ.2027");
  const PartyIndex regulator = [&] {
    for (PartyIndex p = 0; p < rules.parties.size(); ++p) {
      if (rules.parties[p].kind == rules::PartyKind::regulator) return p;
    }
    return rules::kNone;
  }();
  const auto head = d.core->ledger().head_hash();
  Command c{};
  c.kind = CommandKind::new_order;
  c.party = regulator;
  c.instrument = nox;
  c.qty = 1;
  c.price_fen = *d.core->reference_fen(nox);
  c.cl_ord_id = *ClOrdId::from("R1");
  d.core->submit(c);
  c.party = 9999;
  d.core->submit(c);  // nobody to tell: ignored
  Command x{};
  x.kind = CommandKind::cancel;
  x.party = regulator;
  x.orig_cl_ord_id = *ClOrdId::from("NOPE");
  d.core->submit(x);
  d.step();
  ASSERT_GE(d.events.size(), 2u);
  EXPECT_EQ(d.events[d.events.size() - 2].kind, EventKind::order_rejected);
  EXPECT_EQ(d.events[d.events.size() - 2].reject_source, RejectSource::core);
  EXPECT_EQ(d.events[d.events.size() - 2].reject_code, static_cast<std::uint8_t>(CoreReject::not_permitted));
  EXPECT_EQ(d.events.back().kind, EventKind::cancel_rejected);
  EXPECT_EQ(reject_text(d.events.back().reject_source, d.events.back().reject_code), "core: unknown_order");
  // The batch is journaled (a new head) but no balance changed.
  EXPECT_NE(d.core->ledger().head_hash(), head);
  EXPECT_TRUE(d.core->check().empty());
}

}  // namespace
}  // namespace haihe::exchange::test

namespace haihe::exchange::test {
namespace {

/// A seller holding the instrument and a buyer that may receive it.
std::pair<PartyIndex, PartyIndex> counterparties(const Core& core, InstrumentIndex i) {
  const auto& rules = core.rules();
  const auto& ins = rules.instruments[i];
  PartyIndex seller = rules::kNone, buyer = rules::kNone;
  for (PartyIndex p = 0; p < rules.parties.size(); ++p) {
    if (!rules.may_trade(p, i)) continue;
    const bool receives = core.ledger().may_receive_from_any(p, i);
    if (seller == rules::kNone && core.ledger().holding(p, i).free_qty >= 10 * ins.lot_qty) {
      seller = p;
    } else if (buyer == rules::kNone && receives && core.ledger().cash(p).free_fen > 10'000'000) {
      buyer = p;
    }
  }
  return {seller, buyer};
}

struct AuctionFixture {
  TempDir dir;
  ManualClock clock{beijing(9, 0)};
  Driver d{core_options(dir.path(), &clock)};
  int next_id = 1;

  void order(InstrumentIndex i, PartyIndex p, Side side, Fen px, Qty lots) {
    Command c{};
    c.kind = CommandKind::new_order;
    c.party = p;
    c.instrument = i;
    c.side = side;
    c.tif = TimeInForce::day;
    c.price_fen = px;
    c.qty = lots * d.core->rules().instruments[i].lot_qty;
    std::string id("A");
    id.append(std::to_string(next_id++));
    c.cl_ord_id = *ClOrdId::from(id);
    ASSERT_EQ(d.core->submit(c), SubmitResult::ok);
  }
  std::size_t count(EventKind k, InstrumentIndex i) const {
    std::size_t n = 0;
    for (const Event& e : d.events) n += e.kind == k && e.instrument == i ? 1 : 0;
    return n;
  }
};

TEST(CoreAuctions, TheOpeningAuctionUncrossesThePreOpenBook) {
  AuctionFixture f;
  const InstrumentIndex nox = f.d.core->rules().find_instrument("NOX.BJ.2027");
  const auto [seller, buyer] = counterparties(*f.d.core, nox);
  ASSERT_NE(seller, rules::kNone);
  ASSERT_NE(buyer, rules::kNone);
  f.clock.set(beijing(9, 16));
  f.d.step();
  ASSERT_EQ(f.d.core->state(nox), TradingState::pre_open);
  const Fen ref = *f.d.core->reference_fen(nox);
  const Fen tick = f.d.core->rules().instruments[nox].tick_fen;
  f.order(nox, seller, Side::sell, ref - tick, 2);
  f.order(nox, buyer, Side::buy, ref + tick, 1);
  f.d.step();
  EXPECT_EQ(f.count(EventKind::trade, nox), 0u) << "pre-open collects without matching";
  EXPECT_GT(f.count(EventKind::indicative, nox), 0u);
  f.clock.set(beijing(9, 30));
  f.d.step();
  EXPECT_EQ(f.d.core->state(nox), TradingState::open);
  EXPECT_EQ(f.count(EventKind::trade, nox), 1u) << "the opening auction";
  EXPECT_TRUE(f.d.core->check().empty());
}

TEST(CoreAuctions, BatchInstrumentsUncrossEveryInterval) {
  AuctionFixture f;
  const auto& rules = f.d.core->rules();
  InstrumentIndex batch = rules::kNone;
  for (InstrumentIndex i = 0; i < rules.instruments.size(); ++i) {
    if (rules.instruments[i].mode == rules::TradingMode::batch) batch = i;
  }
  ASSERT_NE(batch, rules::kNone);
  const auto tau = static_cast<std::int64_t>(rules.instruments[batch].batch_interval_ms) * kMs;
  const auto [seller, buyer] = counterparties(*f.d.core, batch);
  ASSERT_NE(seller, rules::kNone);
  ASSERT_NE(buyer, rules::kNone);
  f.clock.set(beijing(10, 0) + tau / 4);
  f.d.step();
  EXPECT_EQ(f.d.core->state(batch), TradingState::call);
  const Fen ref = *f.d.core->reference_fen(batch);
  f.order(batch, seller, Side::sell, ref, 3);
  f.order(batch, buyer, Side::buy, ref + 1, 2);
  f.d.step();
  EXPECT_EQ(f.count(EventKind::trade, batch), 0u) << "orders collect between auctions";
  f.clock.set(beijing(10, 0) + tau);
  f.d.step();
  EXPECT_EQ(f.count(EventKind::trade, batch), 1u) << "the next batch auction uncrosses";
  // The catch-up after a pause runs one auction, not one per missed interval.
  const auto uncrosses_before = f.d.core->last_seq();
  f.clock.set(beijing(10, 30));
  f.d.step();
  EXPECT_LT(f.d.core->last_seq() - uncrosses_before, 20u);
  EXPECT_TRUE(f.d.core->check().empty());
}

TEST(CoreAuctions, CallInstrumentsTradeOnlyAtTheirCallTimes) {
  AuctionFixture f;
  const auto& rules = f.d.core->rules();
  InstrumentIndex call = rules::kNone;
  for (InstrumentIndex i = 0; i < rules.instruments.size(); ++i) {
    if (rules.instruments[i].mode == rules::TradingMode::call) call = i;
  }
  ASSERT_NE(call, rules::kNone);
  const auto& times = rules.instruments[call].call_times_min;
  ASSERT_FALSE(times.empty());
  const auto [seller, buyer] = counterparties(*f.d.core, call);
  ASSERT_NE(seller, rules::kNone);
  ASSERT_NE(buyer, rules::kNone);
  const std::uint32_t first = times.front();
  f.clock.set(beijing(first / 60, first % 60) - 60 * 1000 * kMs);  // a minute before
  f.d.step();
  ASSERT_TRUE(engine::is_call_phase(f.d.core->state(call)));
  const Fen ref = *f.d.core->reference_fen(call);
  f.order(call, seller, Side::sell, ref, 2);
  f.order(call, buyer, Side::buy, ref, 2);
  f.d.step();
  EXPECT_EQ(f.count(EventKind::trade, call), 0u);
  f.clock.set(beijing(first / 60, first % 60));
  f.d.step();
  EXPECT_EQ(f.count(EventKind::trade, call), 1u) << "the call auction at its time";
  EXPECT_TRUE(f.d.core->check().empty());
}

}  // namespace
}  // namespace haihe::exchange::test
