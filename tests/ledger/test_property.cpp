// Law-checking property test: long random operation streams (many seeds, many
// parties, every operation, many that must be rejected) against the
// reference model; after every operation the ledger equals the model (so a
// rejected operation changed nothing: law 4), after every batch laws 1–3 and
// the reservation sums hold on both. Batches are committed or aborted at
// random, and the ledger is closed and reopened now and then (recovery of
// the open orders from reservation images and write-sets).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "ledger/audit.h"
#include "tests/ledger/support.h"

namespace haihe::ledger::test {
namespace {

void run_stream(std::uint64_t seed, std::uint32_t enterprises, std::size_t batches, std::size_t max_ops) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir tmp;
  const Market market = make_market(enterprises, seed);
  Model model(market.rules);
  model_genesis(model);
  std::optional<Ledger> ledger;
  ledger.emplace(Ledger::open(tmp.path(), market.rules, market.text, fast_options()));
  ASSERT_EQ(diff(*ledger, model), "");
  std::mt19937_64 rng(seed);
  std::map<Reason, int> seen;
  for (std::size_t n = 0; n < batches; ++n) {
    const Seq seq = ledger->head_seq() + 1;
    const auto ops = generate(rng, *market.rules, open_orders(model), seq, 1 + rng() % max_ops);
    Model before = model;
    model.begin_batch();
    Batch b = ledger->begin();
    for (const Op& op : ops) {
      TradeRecord got, want;
      const Reason rl = apply(b, op, &got);
      const Reason rm = apply(model, op, &want);
      model.normalize();
      ASSERT_EQ(to_string(rl), to_string(rm)) << "op kind " << int(op.kind) << " batch " << seq;
      ++seen[rl];
      if (rl == Reason::ok && op.kind == Op::settle) {
        want.seq = seq;
        ASSERT_EQ(got, want) << "trade record";
      }
      ASSERT_EQ(diff(*ledger, model), "") << "after op kind " << int(op.kind) << " -> " << to_string(rl);
    }
    if (rng() % 10 == 0) {
      b.abort();
      model = before;
    } else {
      std::string input = "batch " + std::to_string(seq);
      const CommitInfo ci = b.commit(as_bytes(input), static_cast<TimestampNs>(seq) * 1'000'000'000);
      ASSERT_EQ(ci.seq, seq);
    }
    ASSERT_EQ(diff(*ledger, model), "");
    const auto laws = model.laws();
    ASSERT_TRUE(laws.empty()) << laws.front();
    const auto inv = ledger->check_invariants();
    ASSERT_TRUE(inv.empty()) << inv.front();
    if (rng() % 25 == 0) {  // close and reopen: recovery
      const Hash head = ledger->head_hash();
      ledger.reset();
      ledger.emplace(Ledger::open(tmp.path(), market.rules, market.text, fast_options()));
      ASSERT_EQ(ledger->head_hash(), head);
      ASSERT_EQ(diff(*ledger, model), "") << "after reopening";
    }
  }
  ledger.reset();
  const auto v = audit::verify(tmp.path(), market.rules.get());
  ASSERT_TRUE(v.ok) << v.summary();
  // Every kind of outcome must have been exercised across the stream.
  for (const Reason r : {Reason::ok, Reason::insufficient_holdings, Reason::insufficient_cash, Reason::unknown_order,
                         Reason::order_mismatch, Reason::invalid_quantity}) {
    EXPECT_GT(seen[r], 0) << to_string(r);
  }
}

TEST(LedgerProperty, RandomStreamsMatchTheModel) {
  for (std::uint64_t seed = 1; seed <= 48; ++seed) {
    run_stream(seed, 6 + static_cast<std::uint32_t>(seed % 5) * 7, 80, 40);
    if (HasFatalFailure()) return;
  }
}

TEST(LedgerProperty, ManyPartiesLongStream) {
  run_stream(1000, 150, 120, 150);
}

// Every rejection reason the generator can reach shows up across seeds.
TEST(LedgerProperty, RejectionsAreExercised) {
  std::map<Reason, int> seen;
  for (std::uint64_t seed = 50; seed < 56; ++seed) {
    TempDir tmp;
    const Market market = make_market(12, seed);
    Ledger l = Ledger::open(tmp.path(), market.rules, market.text, fast_options());
    Model model(market.rules);
    model_genesis(model);
    std::mt19937_64 rng(seed);
    for (int n = 0; n < 40; ++n) {
      const auto ops = generate(rng, *market.rules, open_orders(model), l.head_seq() + 1, 60);
      model.begin_batch();
      Batch b = l.begin();
      for (const Op& op : ops) {
        const Reason r = apply(b, op);
        ASSERT_EQ(r, apply(model, op));
        model.normalize();
        ++seen[r];
      }
      b.commit({}, 0);
    }
  }
  for (const Reason r : {Reason::ok, Reason::unknown_account, Reason::unknown_instrument, Reason::unknown_order,
                         Reason::duplicate_order, Reason::invalid_quantity, Reason::invalid_price,
                         Reason::insufficient_holdings, Reason::insufficient_cash, Reason::party_cap,
                         Reason::region_cap, Reason::transfer_not_allowed, Reason::not_permitted,
                         Reason::order_mismatch, Reason::overflow, Reason::snapshot_exists}) {
    EXPECT_GT(seen[r], 0) << to_string(r);
  }
}

// Charges in basis points are floors and sub-additive, so what a buy order
// reserves always covers its fills, however they are split (RapidCheck).
RC_GTEST_PROP(LedgerArithmetic, BuyReservationCoversAnySplit, ()) {
  static const Market market = make_market(6, 7);
  TempDir tmp;
  Ledger l = Ledger::open(tmp.path(), market.rules, market.text, fast_options());
  const auto inst = *rc::gen::inRange<InstrumentIndex>(0, 6);
  const PartyIndex buyer = kFirstEnterprise + *rc::gen::inRange<PartyIndex>(0, 6);
  const PartyIndex seller = kFirstEnterprise + *rc::gen::inRange<PartyIndex>(0, 6);
  RC_PRE(buyer != seller);
  const Fen limit = *rc::gen::inRange<Fen>(1, 100000);
  const Qty qty = *rc::gen::inRange<Qty>(1, 200);
  Batch b = l.begin();
  RC_PRE(b.deposit(buyer, Fen{1} << 40) == Reason::ok);
  RC_PRE(b.reserve_buy(1, buyer, inst, qty, limit) == Reason::ok);
  RC_PRE(b.issue(seller, inst, qty) == Reason::ok);
  RC_PRE(b.reserve_sell(2, seller, inst, qty) == Reason::ok);
  const Cash before = l.cash(buyer);
  Qty left = qty;
  Fen paid = 0;
  while (left > 0) {
    const Qty q = *rc::gen::inRange<Qty>(1, left + 1);
    const Fen price = *rc::gen::inRange<Fen>(1, limit + 1);
    TradeRecord t;
    const Reason r = b.settle(Fill{1, 2, q, price, 0}, &t);
    if (r == Reason::transfer_not_allowed) return;
    RC_ASSERT(r == Reason::ok);
    RC_ASSERT(t.buyer_fee_fen == t.value_fen * l.rules().instruments[inst].buyer_fee_bps / 10000);
    RC_ASSERT(t.value_fen - t.seller_fee_fen - t.levy_fen >= 0);
    paid += t.value_fen + t.buyer_fee_fen + t.compensation_fen;
    left -= q;
  }
  RC_ASSERT(!l.order(1).has_value());  // filled orders close
  RC_ASSERT(l.cash(buyer).reserved_fen == 0);
  RC_ASSERT(l.cash(buyer).free_fen == before.free_fen + before.reserved_fen - paid);
  RC_ASSERT(l.check_invariants().empty());
}

}  // namespace
}  // namespace haihe::ledger::test
