// Unit tests for haihe::ledger: settlement arithmetic on worked examples,
// rejections, reservations, abort, reopen, open-time errors, map growth.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <cstring>

#include "ledger/audit.h"
#include "ledger/format.h"
#include "tests/ledger/support.h"

namespace haihe::ledger::test {
namespace {

// Enterprises: party 6 + k is in region k % 5 (0 BJ, 1 TJ, 2 CHENGDE, 3 ZJK, 4 BAODING).
constexpr PartyIndex kBj = kFirstEnterprise + 5;       // E5, BJ (no party-cap override)
constexpr PartyIndex kTj = kFirstEnterprise + 1;       // E1, TJ (party cap 500 on NOX)
constexpr PartyIndex kChengde = kFirstEnterprise + 2;  // E2
constexpr PartyIndex kZjk = kFirstEnterprise + 3;      // E3
constexpr PartyIndex kTj2 = kFirstEnterprise + 6;      // E6, TJ
constexpr InstrumentIndex kMiyun = 0, kGuanting = 1, kNox = 2, kSo2 = 3, kCod = 4;

struct Fixture : ::testing::Test {
  TempDir tmp;
  Market market = make_market(14, 3);
  std::optional<Ledger> l;
  void SetUp() override { l.emplace(Ledger::open(tmp.path(), market.rules, market.text, fast_options())); }
  // Gives a party `qty` free rights beyond genesis and plenty of cash.
  void fund(Batch& b, PartyIndex p, InstrumentIndex i, Qty qty, Fen fen = 100'000'000) {
    if (qty > 0) {
      ASSERT_EQ(b.issue(p, i, qty), Reason::ok);
    }
    ASSERT_EQ(b.deposit(p, fen), Reason::ok);
  }
};

TEST_F(Fixture, GenesisBooksTheRules) {
  EXPECT_EQ(l->head_seq(), 1u);
  for (const auto& g : market.rules->genesis_holdings) {
    EXPECT_EQ(l->holding(g.party, g.instrument).free_qty, g.qty);
  }
  for (const auto& g : market.rules->genesis_cash) EXPECT_EQ(l->cash(g.party).free_fen, g.fen);
  EXPECT_TRUE(l->check_invariants().empty());
  std::string input;
  l->read_journal(1, [&](Seq s, TimestampNs, Bytes in) {
    EXPECT_EQ(s, 1u);
    input.assign(reinterpret_cast<const char*>(in.data()), in.size());
  });
  EXPECT_EQ(input.rfind("haihe genesis rules-sha256 ", 0), 0u);
}

TEST_F(Fixture, WaterAcrossZonesPaysCompensationAndBooksLoss) {
  Batch b = l->begin();
  fund(b, kChengde, kMiyun, 1000);
  fund(b, kBj, kMiyun, 0);
  const Holding seller0 = l->holding(kChengde, kMiyun), buyer0 = l->holding(kBj, kMiyun);
  const Cash sc0 = l->cash(kChengde), bc0 = l->cash(kBj), gov0 = l->cash(kChengdeGov), ex0 = l->cash(kExchange);
  ASSERT_EQ(b.reserve_sell(10, kChengde, kMiyun, 100), Reason::ok);
  // Buy 100 at limit 160: 16000 + fee floor(16000*5/1e4)=8 + comp 3*100 + floor(16000*50/1e4)=80.
  const BuyQuote q = l->quote_buy(kBj, kMiyun, 100, 160);
  EXPECT_EQ(q.cash_fen, 16000 + 8 + 380);
  ASSERT_EQ(b.reserve_buy(11, kBj, kMiyun, 100, 160), Reason::ok);
  EXPECT_EQ(l->cash(kBj).reserved_fen, 16388);
  EXPECT_EQ(l->holding(kBj, kMiyun).incoming_qty, 100);
  EXPECT_EQ(l->region_usage(0, kMiyun).incoming_qty, 100);
  TradeRecord t;
  ASSERT_EQ(b.settle(Fill{11, 10, 100, 150, 42}, &t), Reason::ok);
  // value 15000; buyer fee 7; compensation 300 + 75; seller fee 10; delivered floor(100*9/10).
  EXPECT_EQ(t.value_fen, 15000);
  EXPECT_EQ(t.buyer_fee_fen, 7);
  EXPECT_EQ(t.compensation_fen, 375);
  EXPECT_EQ(t.beneficiary, kChengdeGov);
  EXPECT_EQ(t.seller_fee_fen, 10);
  EXPECT_EQ(t.levy_fen, 0);
  EXPECT_EQ(t.delivered_qty, 90);
  EXPECT_EQ(t.zone, 0u);
  EXPECT_EQ(l->holding(kChengde, kMiyun).free_qty, seller0.free_qty - 100);
  EXPECT_EQ(l->holding(kChengde, kMiyun).reserved_qty, 0);
  EXPECT_EQ(l->holding(kBj, kMiyun).free_qty, buyer0.free_qty + 90);
  EXPECT_EQ(l->holding(kBj, kMiyun).incoming_qty, 0);
  EXPECT_EQ(l->loss_qty(kMiyun), 10);
  EXPECT_EQ(l->cash(kChengde).free_fen, sc0.free_fen + 14990);
  EXPECT_EQ(l->cash(kBj).free_fen, bc0.free_fen - 15382);  // the unused 1006 came back
  EXPECT_EQ(l->cash(kBj).reserved_fen, 0);
  EXPECT_EQ(l->cash(kChengdeGov).free_fen, gov0.free_fen + 375);
  EXPECT_EQ(l->cash(kExchange).free_fen, ex0.free_fen + 17);
  EXPECT_FALSE(l->order(10).has_value());
  EXPECT_FALSE(l->order(11).has_value());
  EXPECT_EQ(b.release(11), Reason::unknown_order);  // closed by settle
  EXPECT_TRUE(l->check_invariants().empty());
  b.commit(as_bytes("x"), 7);
  const auto stored = l->trades(t.id, 10);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0], t);
}

TEST_F(Fixture, EmissionPaysLevyFromProceeds) {
  Batch b = l->begin();
  fund(b, kBj, kNox, 200);
  fund(b, kTj2, kNox, 0);
  const Cash s0 = l->cash(kBj), fund0 = l->cash(kAirFund);
  ASSERT_EQ(b.reserve_sell(1, kBj, kNox, 50), Reason::ok);
  ASSERT_EQ(b.reserve_buy(2, kTj2, kNox, 80, 1000), Reason::ok);
  TradeRecord t;
  ASSERT_EQ(b.settle(Fill{2, 1, 50, 999, 1}, &t), Reason::ok);
  // value 49950: fees floor(49950*10/1e4)=49 each; NOx levy 100 bps = 499.
  EXPECT_EQ(t.buyer_fee_fen, 49);
  EXPECT_EQ(t.seller_fee_fen, 49);
  EXPECT_EQ(t.levy_fen, 499);
  EXPECT_EQ(t.fund, kAirFund);
  EXPECT_EQ(t.delivered_qty, 50);  // emissions deliver 1:1
  EXPECT_EQ(l->cash(kBj).free_fen, s0.free_fen + 49950 - 49 - 499);
  EXPECT_EQ(l->cash(kAirFund).free_fen, fund0.free_fen + 499);
  // The buy order stays open for 30 with the cash it still needs.
  const auto o = l->order(2);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->qty, 30);
  EXPECT_GE(o->cash_fen, l->quote_buy(kTj2, kNox, 30, 1000).cash_fen);
  // Release down to 10: the cash beyond what 10 need at the limit comes back.
  ASSERT_EQ(b.release(2, 10), Reason::ok);
  EXPECT_EQ(l->order(2)->cash_fen, l->quote_buy(kTj2, kNox, 10, 1000).cash_fen);
  EXPECT_EQ(l->holding(kTj2, kNox).incoming_qty, 10);
  EXPECT_EQ(b.release(2, 11), Reason::invalid_quantity);
  ASSERT_EQ(b.release(2), Reason::ok);
  EXPECT_EQ(l->cash(kTj2).reserved_fen, 0);
  EXPECT_TRUE(l->check_invariants().empty());
  b.commit({}, 0);
}

TEST_F(Fixture, TransferRules) {
  Batch b = l->begin();
  fund(b, kZjk, kGuanting, 300);
  fund(b, kTj, kGuanting, 0);
  fund(b, kTj2, kGuanting, 300);
  fund(b, kBj, kGuanting, 0);
  ASSERT_EQ(b.reserve_sell(1, kZjk, kGuanting, 100), Reason::ok);
  ASSERT_EQ(b.reserve_buy(2, kTj, kGuanting, 100, 100), Reason::ok);
  // GUANTING water has no rule to TJ: only a seller in TJ may sell it there.
  const Cash before = l->cash(kTj);
  EXPECT_EQ(b.settle(Fill{2, 1, 10, 100, 0}), Reason::transfer_not_allowed);
  EXPECT_EQ(l->cash(kTj), before);  // nothing moved
  EXPECT_EQ(l->delivery(kZjk, kTj, kGuanting).reason, Reason::transfer_not_allowed);
  ASSERT_EQ(b.reserve_sell(3, kTj2, kGuanting, 100), Reason::ok);
  TradeRecord t;
  ASSERT_EQ(b.settle(Fill{2, 3, 10, 100, 0}, &t), Reason::ok);
  EXPECT_EQ(t.delivered_qty, 10);
  EXPECT_EQ(t.compensation_fen, 0);  // the route is to BJ only
  // To BJ: 19/20 and 2 fen per unit to ZJK's government.
  ASSERT_EQ(b.reserve_buy(4, kBj, kGuanting, 41, 100), Reason::ok);
  ASSERT_EQ(b.settle(Fill{4, 1, 41, 100, 0}, &t), Reason::ok);
  EXPECT_EQ(t.delivered_qty, 38);  // floor(41*19/20)
  EXPECT_EQ(t.compensation_fen, 82);
  EXPECT_EQ(t.beneficiary, kZjkGov);
  EXPECT_EQ(l->loss_qty(kGuanting), 3);
  // Water to the zone's own city delivers 1:1 without compensation.
  fund(b, kFirstEnterprise + 8, kGuanting, 0);  // E8 is in ZJK
  ASSERT_EQ(b.reserve_buy(5, kFirstEnterprise + 8, kGuanting, 10, 100), Reason::ok);
  ASSERT_EQ(b.settle(Fill{5, 3, 10, 100, 0}, &t), Reason::ok);
  EXPECT_EQ(t.delivered_qty, 10);
  EXPECT_EQ(t.compensation_fen, 0);
  EXPECT_TRUE(l->check_invariants().empty());
  b.commit({}, 0);
}

TEST_F(Fixture, CapsAreEnforced) {
  Batch b = l->begin();
  // Party cap override: E1 may hold 500 NOx in all.
  const Holding h = l->holding(kTj, kNox);
  const Qty room = 500 - h.free_qty - h.reserved_qty - h.incoming_qty;
  EXPECT_EQ(l->party_headroom(kTj, kNox), room);
  ASSERT_EQ(b.deposit(kTj, 100'000'000), Reason::ok);
  EXPECT_EQ(b.reserve_buy(1, kTj, kNox, room + 1, 10), Reason::party_cap);
  ASSERT_EQ(b.reserve_buy(1, kTj, kNox, room, 10), Reason::ok);
  EXPECT_EQ(b.issue(kTj, kNox, 1), Reason::party_cap);  // the resting bid holds the headroom
  ASSERT_EQ(b.release(1), Reason::ok);
  ASSERT_EQ(b.issue(kTj, kNox, room), Reason::ok);
  // Region cap: BAODING may hold 1500 COD in all.
  const RegionUsage u = l->region_usage(4, kCod);
  const Qty region_room = 1500 - u.held_qty - u.incoming_qty;
  const PartyIndex baoding = kFirstEnterprise + 4;
  EXPECT_EQ(b.issue(baoding, kCod, region_room + 1), Reason::region_cap);
  ASSERT_EQ(b.issue(baoding, kCod, region_room), Reason::ok);
  ASSERT_EQ(b.deposit(baoding, 1'000'000), Reason::ok);
  EXPECT_EQ(b.reserve_buy(2, baoding, kCod, 1, 10), Reason::region_cap);
  // Zone cap: MIYUN 2028 yields 30000 in all.
  Qty issued = l->zone_held(0, 2028);
  PartyIndex p = kFirstEnterprise;
  while (issued < 30000) {
    const Qty q = std::min<Qty>(l->party_headroom(p, 5), 30000 - issued);
    const Reason r = b.issue(p, 5, q);
    ASSERT_TRUE(r == Reason::ok || r == Reason::region_cap) << to_string(r);
    if (r == Reason::ok) issued += q;
    ++p;
  }
  EXPECT_EQ(b.issue(kFirstEnterprise + 13, 5, 1), Reason::zone_cap);
  // Permissions.
  EXPECT_EQ(b.issue(kRegulator, kMiyun, 1), Reason::not_permitted);
  EXPECT_EQ(b.reserve_sell(3, kAirFund, kMiyun, 1), Reason::not_permitted);
  EXPECT_EQ(b.grant(kChengdeGov, kZjkGov, 1), Reason::not_permitted);
  EXPECT_EQ(b.grant(kAirFund, kBj, 1), Reason::not_permitted);
  ASSERT_EQ(b.grant(kAirFund, kZjkGov, 1000), Reason::ok);
  EXPECT_TRUE(l->check_invariants().empty());
  b.commit({}, 0);
}

TEST_F(Fixture, RejectedOperationsChangeNothing) {
  Batch b = l->begin();
  fund(b, kChengde, kMiyun, 100);
  ASSERT_EQ(b.reserve_sell(1, kChengde, kMiyun, 100), Reason::ok);
  const auto snapshot = [&] {
    std::vector<Holding> hs;
    for (PartyIndex p = 0; p < market.rules->parties.size(); ++p) {
      for (InstrumentIndex i = 0; i < market.rules->instruments.size(); ++i) hs.push_back(l->holding(p, i));
    }
    return hs;
  };
  const auto before = snapshot();
  EXPECT_EQ(b.reserve_sell(1, kChengde, kMiyun, 1), Reason::duplicate_order);
  EXPECT_EQ(b.reserve_sell(2, kChengde, kMiyun, 1'000'000), Reason::insufficient_holdings);
  EXPECT_EQ(b.reserve_buy(3, kBj, kMiyun, std::int64_t{1} << 62, 1000), Reason::overflow);
  EXPECT_EQ(b.reserve_buy(3, kBj, kMiyun, 10, 0), Reason::invalid_price);
  EXPECT_EQ(b.reserve_buy(3, 9999, kMiyun, 10, 1), Reason::unknown_account);
  EXPECT_EQ(b.reserve_buy(3, kBj, 99, 10, 1), Reason::unknown_instrument);
  EXPECT_EQ(b.settle(Fill{1, 1, 1, 1, 0}), Reason::order_mismatch);
  EXPECT_EQ(b.settle(Fill{77, 1, 1, 1, 0}), Reason::unknown_order);
  EXPECT_EQ(b.retire(kChengde, kMiyun, 1'000'000), Reason::insufficient_holdings);
  EXPECT_EQ(b.withdraw(kChengde, Fen{1} << 60), Reason::insufficient_cash);
  EXPECT_EQ(snapshot(), before);
  b.commit({}, 0);
}

TEST_F(Fixture, AbortUndoesTheBatch) {
  const Hash head = l->head_hash();
  const auto orders = open_orders(*l);
  Model m(market.rules);
  model_genesis(m);
  {
    Batch b = l->begin();
    fund(b, kChengde, kMiyun, 100);
    ASSERT_EQ(b.reserve_sell(1, kChengde, kMiyun, 100), Reason::ok);
    ASSERT_EQ(b.reserve_buy(2, kBj, kMiyun, 50, 100), Reason::ok);
    ASSERT_EQ(b.settle(Fill{2, 1, 50, 90, 0}), Reason::ok);
    ASSERT_EQ(b.put_snapshot(as_bytes("s")), Reason::ok);
    EXPECT_EQ(b.put_snapshot(as_bytes("s")), Reason::snapshot_exists);
  }  // destroyed without commit: aborted
  EXPECT_EQ(diff(*l, m), "");
  EXPECT_EQ(l->head_hash(), head);
  EXPECT_EQ(l->next_trade_id(), 1u);
  // The next batch starts clean and commits.
  Batch b = l->begin();
  EXPECT_EQ(b.seq(), 2u);
  ASSERT_EQ(b.deposit(kBj, 5), Reason::ok);
  EXPECT_EQ(b.commit({}, 0).seq, 2u);
  EXPECT_FALSE(l->latest_snapshot().has_value());
}

TEST_F(Fixture, OrdersSurviveReopeningWithAndWithoutImages) {
  Model m(market.rules);
  model_genesis(m);
  std::mt19937_64 rng(9);
  // Enough batches that reservation images are taken (image_min_entries 64).
  for (int n = 0; n < 150; ++n) {
    const auto ops = generate(rng, *market.rules, open_orders(m), l->head_seq() + 1, 30);
    m.begin_batch();
    Batch b = l->begin();
    for (const Op& op : ops) {
      ASSERT_EQ(apply(b, op), apply(m, op));
      m.normalize();
    }
    b.commit({}, n);
  }
  l->sync();  // a checkpoint: the LMDB tables hold every batch
  ASSERT_GT(audit::dump_table(tmp.path(), "reservations").size(), 0u) << "no image was taken";
  l.reset();
  l.emplace(Ledger::open(tmp.path(), market.rules, market.text, fast_options()));
  EXPECT_EQ(diff(*l, m), "");
  EXPECT_GT(l->open_orders(), 0u);
}

TEST_F(Fixture, SnapshotsAndJournalReadBack) {
  for (int n = 0; n < 3; ++n) {
    Batch b = l->begin();
    if (n == 1) {
      ASSERT_EQ(b.put_snapshot(as_bytes("books v1")), Reason::ok);
    }
    b.commit(as_bytes("cmds " + std::to_string(n)), 1000 + n);
  }
  const auto snap = l->latest_snapshot();
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->first, 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(snap->second.data()), snap->second.size()), "books v1");
  std::vector<std::string> inputs;
  l->read_journal(3, [&](Seq, TimestampNs ts, Bytes in) {
    inputs.emplace_back(reinterpret_cast<const char*>(in.data()), in.size());
    EXPECT_GE(ts, 1001);
  });
  EXPECT_EQ(inputs, (std::vector<std::string>{"cmds 1", "cmds 2"}));
}

TEST_F(Fixture, FullDurabilityCommits) {
  l.reset();
  Options o = fast_options();
  o.durability = Durability::full;
  l.emplace(Ledger::open(tmp.path(), market.rules, market.text, o));
  for (int n = 0; n < 5; ++n) {
    Batch b = l->begin();
    ASSERT_EQ(b.deposit(kBj, 10), Reason::ok);
    b.commit({}, n);
  }
  EXPECT_EQ(l->head_seq(), 6u);
}

TEST(LedgerOpen, RefusesOtherRulesAndSecondWriter) {
  TempDir tmp;
  const Market m = make_market(8, 1);
  { Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options()); 
    try {
      Ledger second = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
      FAIL() << "a second writer was allowed";
    } catch (const LedgerError& e) {
      EXPECT_NE(std::string(e.what()).find("another process"), std::string::npos) << e.what();
    }
  }
  const Market other = make_market(8, 2);
  try {
    Ledger l = Ledger::open(tmp.path(), other.rules, other.text, fast_options());
    FAIL() << "opened with other rules";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("other market rules"), std::string::npos) << e.what();
  }
  // The right rules still open it.
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
  EXPECT_EQ(l.head_seq(), 1u);
}

// Writes one record with raw LMDB (what an attacker or a bug could do).
void raw_put(const std::filesystem::path& dir, const char* table, const std::string& key, const std::string& value) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, table, 0, &dbi), 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(LedgerOpen, RefusesAnotherFormatVersionClearly) {
  TempDir tmp;
  const Market m = make_market(8, 1);
  { Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options()); }
  raw_put(tmp.path(), "meta", "format_version", std::string("\x02\x00\x00\x00", 4));
  try {
    Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
    FAIL() << "opened another format";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("storage format 2"), std::string::npos) << e.what();
  }
  const auto v = audit::verify(tmp.path(), m.rules.get());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.mismatch.kind, audit::Mismatch::Kind::format);
  EXPECT_NE(v.mismatch.detail.find("format 2"), std::string::npos) << v.summary();
}

TEST(LedgerOpen, RefusesAForeignEnvironment) {
  TempDir tmp;
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_open(env, tmp.path().c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
  MDB_val k{1, const_cast<char*>("k")}, v{1, const_cast<char*>("v")};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  const Market m = make_market(8, 1);
  EXPECT_THROW(Ledger::open(tmp.path(), m.rules, m.text, fast_options()), LedgerError);
}

TEST(LedgerOpen, RejectsUnusableRules) {
  TempDir tmp;
  Market m = make_market(8, 1);
  auto bad = std::make_shared<rules::MarketRules>(*m.rules);
  bad->parties[kExchange].kind = rules::PartyKind::other;  // fees but no exchange
  try {
    Ledger l = Ledger::open(tmp.path(), bad, m.text, fast_options());
    FAIL();
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("exchange"), std::string::npos) << e.what();
  }
  auto over = std::make_shared<rules::MarketRules>(*m.rules);
  over->genesis_holdings.push_back({kFirstEnterprise, 0, 1'000'000});  // over the party cap
  try {
    Ledger l = Ledger::open(tmp / "x", over, m.text, fast_options());
    FAIL();
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("genesis"), std::string::npos) << e.what();
  }
}

TEST_F(Fixture, ReservedOrderIdAndReplayOptions) {
  Batch b = l->begin();
  EXPECT_EQ(b.reserve_sell(~OrderId{0}, kChengde, kMiyun, 1), Reason::invalid_order);
  EXPECT_EQ(b.release(~OrderId{0}), Reason::unknown_order);
  b.commit({}, 0);
  EXPECT_EQ(l->image_min_entries(), 64u);
  EXPECT_EQ(l->genesis_ts_ns(), 0);
  l.reset();
  TempDir other;
  Options o = fast_options();
  o.genesis_ts_ns = 12345;
  o.image_min_entries = 1000;
  Ledger x = Ledger::open(other.path(), market.rules, market.text, o);
  EXPECT_EQ(x.genesis_ts_ns(), 12345);
  EXPECT_EQ(x.image_min_entries(), 1000u);
}

TEST(LedgerAmend, AppendsEntitiesAndChangesCharges) {
  TempDir tmp;
  const Market m = make_market(8, 4);
  Model model(m.rules);
  model_genesis(model);
  {
    Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
    std::mt19937_64 rng(4);
    for (int n = 0; n < 20; ++n) {
      const auto ops = generate(rng, *m.rules, open_orders(model), l.head_seq() + 1, 30);
      model.begin_batch();
      Batch b = l.begin();
      for (const Op& op : ops) {
        ASSERT_EQ(apply(b, op), apply(model, op));
        model.normalize();
      }
      b.commit({}, n);
    }
    ASSERT_GT(l.open_orders(), 0u);
  }
  auto amended = std::make_shared<rules::MarketRules>(*m.rules);
  rules::Party newcomer;
  newcomer.id = "NEWCOMER";
  newcomer.kind = rules::PartyKind::enterprise;
  newcomer.region = 0;
  amended->parties.push_back(newcomer);
  rules::Instrument pm = amended->instruments[kNox];
  pm.symbol = "PM.BJ.2027";
  pm.pollutant = rules::Pollutant::pm;
  amended->instruments.push_back(pm);
  const auto nI = static_cast<InstrumentIndex>(amended->instruments.size());
  for (auto& p : amended->parties) {
    if (p.kind == rules::PartyKind::enterprise) {
      p.may_trade.clear();
      for (InstrumentIndex i = 0; i < nI; ++i) p.may_trade.push_back(i);
    }
  }
  amended->instruments[kNox].buyer_fee_bps = 25;  // charges may change
  const std::string text = m.text + "# amended: NEWCOMER, PM.BJ.2027, NOX buyer fee 25 bps\n";
  try {
    Ledger l = Ledger::open(tmp.path(), amended, text, fast_options());
    FAIL() << "amended without asking";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("amend"), std::string::npos) << e.what();
  }
  Options o = fast_options();
  o.amend_rules = true;
  o.amend_ts_ns = 777;
  Hash head;
  {
    Ledger l = Ledger::open(tmp.path(), amended, text, o);
    EXPECT_EQ(l.head_seq(), 22u);
    std::string input;
    l.read_journal(22, [&](Seq, TimestampNs ts, Bytes in) {
      input.assign(reinterpret_cast<const char*>(in.data()), in.size());
      EXPECT_EQ(ts, 777);
    });
    EXPECT_EQ(input.rfind("haihe amend rules-sha256 ", 0), 0u) << input;
    // Everything held before is still there.
    for (PartyIndex p = 0; p < m.rules->parties.size(); ++p) {
      EXPECT_EQ(l.cash(p), model.c(p));
      for (InstrumentIndex i = 0; i < m.rules->instruments.size(); ++i) EXPECT_EQ(l.holding(p, i), model.h(p, i));
    }
    EXPECT_EQ(l.open_orders(), model.orders.size());
    // The newcomer trades the new instrument; the new fee applies.
    const PartyIndex nc = static_cast<PartyIndex>(amended->parties.size() - 1);
    Batch b = l.begin();
    ASSERT_EQ(b.deposit(nc, 1'000'000), Reason::ok);
    ASSERT_EQ(b.issue(kFirstEnterprise, nI - 1, 100), Reason::ok);
    ASSERT_EQ(b.reserve_sell(900'000'001, kFirstEnterprise, nI - 1, 50), Reason::ok);
    ASSERT_EQ(b.reserve_buy(900'000'002, nc, nI - 1, 50, 100), Reason::ok);
    ASSERT_EQ(b.settle(Fill{900'000'002, 900'000'001, 50, 100, 1}), Reason::ok);
    EXPECT_EQ(l.quote_buy(nc, kNox, 100, 100).buyer_fee_fen, 25);
    // Open NOx bids reserved the old fee: the checks flag them until the
    // core re-reserves them (ledger.h, Options::amend_rules).
    const auto before = l.check_invariants();
    EXPECT_FALSE(before.empty());
    for (const auto& [id, ord] : open_orders(l)) {
      if (ord.side != Side::buy || ord.instrument != kNox) continue;
      ASSERT_EQ(b.release(id), Reason::ok);
      const Reason r = b.reserve_buy(id, ord.party, ord.instrument, ord.qty, ord.limit_fen);
      ASSERT_TRUE(r == Reason::ok || r == Reason::insufficient_cash) << to_string(r);
    }
    b.commit({}, 1);
    EXPECT_TRUE(l.check_invariants().empty()) << l.check_invariants().front();
    head = l.head_hash();
  }
  {  // Reopens with the amended rules without asking again.
    Ledger l = Ledger::open(tmp.path(), amended, text, fast_options());
    EXPECT_EQ(l.head_hash(), head);
  }
  const auto v = audit::verify(tmp.path(), amended.get());
  EXPECT_TRUE(v.ok) << v.summary();
  // Moving a party to another region would change what stored records mean.
  auto moved = std::make_shared<rules::MarketRules>(*amended);
  moved->parties[kFirstEnterprise].region = 3;
  try {
    Ledger l = Ledger::open(tmp.path(), moved, text + "# moved\n", o);
    FAIL() << "an incompatible amendment was accepted";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("may only append"), std::string::npos) << e.what();
  }
}

TEST(LedgerMap, GrowsWhenFull) {
  TempDir tmp;
  const Market m = make_market(8, 1);
  Options o = fast_options();
  o.map_bytes = std::uint64_t{1} << 20;  // 1 MiB
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, o);
  const std::string input(200'000, 'x');
  for (int n = 0; n < 40; ++n) {  // 8 MB of journal
    Batch b = l.begin();
    ASSERT_EQ(b.deposit(kFirstEnterprise, 1), Reason::ok);
    b.commit(as_bytes(input), n);
  }
  EXPECT_EQ(l.head_seq(), 41u);
  l.sync();
  EXPECT_GT(std::filesystem::file_size(tmp / "data.mdb"), std::uint64_t{7} << 20);
}

TEST(LedgerMap, FailsClearlyAtTheLimitAndRollsBack) {
  TempDir tmp;
  const Market m = make_market(8, 1);
  Options o = fast_options();
  o.map_bytes = std::uint64_t{1} << 20;
  o.max_map_bytes = std::uint64_t{2} << 20;
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, o);
  const std::string input(3'000'000, 'x');
  const Cash before = l.cash(kFirstEnterprise);
  Batch b = l.begin();
  ASSERT_EQ(b.deposit(kFirstEnterprise, 1), Reason::ok);
  try {
    b.commit(as_bytes(input), 0);
    FAIL() << "a 3 MB batch fit a 2 MiB map";
  } catch (const LedgerError& e) {
    EXPECT_NE(std::string(e.what()).find("max_map_bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(l.cash(kFirstEnterprise), before);
  EXPECT_EQ(l.head_seq(), 1u);
  Batch b2 = l.begin();  // still usable for batches that fit
  ASSERT_EQ(b2.deposit(kFirstEnterprise, 1), Reason::ok);
  EXPECT_EQ(b2.commit({}, 0).seq, 2u);
}

}  // namespace
}  // namespace haihe::ledger::test
