// `haihe audit verify|report` end to end, on a ledger of the default
// Beijing-Tianjin-Hebei market (the real rules loader and the real binary).
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>

#include <cstdio>

#include "ledger/audit.h"
#include "tests/ledger/support.h"

#ifndef HAIHE_BIN
#error "HAIHE_BIN must name the haihe executable"
#endif

namespace haihe::ledger::test {
namespace {

struct Outcome {
  int code = -1;
  std::string out;
};

Outcome run(const std::string& args) {
  Outcome r;
  const std::string cmd = std::string(HAIHE_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// 2027-03-01T10:00:00+08:00 in ns since the epoch.
constexpr TimestampNs kMarch1 = 1'803'866'400'000'000'000;

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir;
    rules_ = rules::load_default_rules();
    const auto& r = *rules_;
    Ledger l = Ledger::open(dir(), rules_, rules::default_rules_text(), fast_options());
    // Trade every instrument between whoever holds it and whoever may buy it.
    OrderId id = 1;
    int batch = 0;
    for (InstrumentIndex i = 0; i < r.instruments.size(); ++i) {
      Batch b = l.begin();
      for (PartyIndex s = 0; s < r.parties.size(); ++s) {
        const Qty have = l.holding(s, i).free_qty;
        if (have <= 0 || !r.may_trade(s, i)) continue;
        for (PartyIndex buyer = 0; buyer < r.parties.size(); ++buyer) {
          if (buyer == s || !r.may_trade(buyer, i) || l.delivery(s, buyer, i).reason != Reason::ok) continue;
          if (l.party_headroom(buyer, i) < 10) continue;
          const Fen price = std::max<Fen>(r.instruments[i].floor_fen, 100);
          if (b.deposit(buyer, 10'000'000) != Reason::ok) continue;
          const OrderId sell = id++, buy = id++;
          if (b.reserve_sell(sell, s, i, std::min<Qty>(have, 10)) != Reason::ok) continue;
          if (b.reserve_buy(buy, buyer, i, 10, price) != Reason::ok) {
            b.release(sell);
            continue;
          }
          b.settle(Fill{buy, sell, std::min<Qty>(have, 10), price, kMarch1 + i * 60'000'000'000});
          b.release(buy);
          if (l.order(sell)) b.release(sell);
          break;
        }
      }
      b.commit(as_bytes("cli test batch"), kMarch1 + static_cast<TimestampNs>(batch++) * 60'000'000'000);
    }
    trades_ = l.next_trade_id() - 1;
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::string dir() { return (tmp_->path() / "data").string(); }
  static TempDir* tmp_;
  static std::shared_ptr<const rules::MarketRules> rules_;
  static TradeId trades_;
};
TempDir* Cli::tmp_ = nullptr;
std::shared_ptr<const rules::MarketRules> Cli::rules_;
TradeId Cli::trades_ = 0;

TEST_F(Cli, TheDefaultMarketTrades) { EXPECT_GT(trades_, 5u); }

TEST_F(Cli, VerifyPrintsHeadAndOk) {
  const Outcome r = run("audit verify --data " + dir());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("head "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nok\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trades " + std::to_string(trades_)), std::string::npos) << r.out;
}

TEST_F(Cli, VerifyFailsOnTamperingAndSaysWhere) {
  const auto copy = tmp_->path() / "tampered";
  std::filesystem::create_directories(copy);
  std::filesystem::copy_file(std::filesystem::path(dir()) / "data.mdb", copy / "data.mdb");
  const auto rows = audit::dump_table(copy, "cash");
  ASSERT_FALSE(rows.empty());
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, copy.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, "cash", 0, &dbi), 0);
  std::string v = rows[0].second;
  v[0] = static_cast<char>(v[0] + 1);  // one more fen
  MDB_val k{rows[0].first.size(), const_cast<char*>(rows[0].first.data())}, val{v.size(), v.data()};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &val, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  const Outcome r = run("audit verify --data " + copy.string());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("FAILED in table cash, party"), std::string::npos) << r.out;
}

TEST_F(Cli, ReportFormats) {
  const Outcome table = run("audit report --data " + dir());
  EXPECT_EQ(table.code, 0) << table.out;
  for (const char* s : {"== holdings", "== regions", "== zones", "== compensation", "== levies", "== fees", "== trades"}) {
    EXPECT_NE(table.out.find(s), std::string::npos) << s;
  }
  const Outcome json = run("audit report --format json --data " + dir());
  EXPECT_EQ(json.code, 0) << json.out;
  EXPECT_EQ(json.out.front(), '{');
  EXPECT_NE(json.out.find("\"trades\": ["), std::string::npos);
  EXPECT_NE(json.out.find("\"head\": \""), std::string::npos);
  const Outcome csv = run("audit report --format csv --section trades --data " + dir());
  EXPECT_EQ(csv.code, 0) << csv.out;
  EXPECT_EQ(csv.out.rfind("# trades\nid,batch,time,instrument,buyer,seller,qty", 0), 0u) << csv.out;
  // Every trade is a line; the times are local (UTC+8).
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.out.begin(), csv.out.end(), '\n')), 2 + trades_);
  EXPECT_NE(csv.out.find(",2027-03-01T10:"), std::string::npos) << csv.out;
}

TEST_F(Cli, ReportFilters) {
  const auto& r = *rules_;
  const auto t = audit::build_report(audit::Reader::open(dir()), r, {});
  ASSERT_FALSE(t.trades.empty());
  const std::string buyer = r.parties[t.trades[0].buyer].id;
  const Outcome one = run("audit report --format csv --section holdings,trades --party " + buyer + " --data " + dir());
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find(buyer), std::string::npos);
  const Outcome later = run("audit report --format csv --section trades --from 2030-01-01 --data " + dir());
  EXPECT_EQ(later.code, 0);
  EXPECT_EQ(later.out, "# trades\nid,batch,time,instrument,buyer,seller,qty,delivered,price_fen,value_fen,"
                       "buyer_fee_fen,seller_fee_fen,compensation_fen,beneficiary,levy_fen,fund\n");
  const Outcome city = run("audit report --section compensation --city BJ --data " + dir());
  EXPECT_EQ(city.code, 0) << city.out;
}

TEST_F(Cli, UsageErrors) {
  EXPECT_EQ(run("audit verify").code, 2);
  EXPECT_EQ(run("audit frobnicate").code, 2);
  EXPECT_EQ(run("audit report --data " + dir() + " --format xml").code, 2);
  EXPECT_EQ(run("audit report --data " + dir() + " --party NOBODY").code, 2);
  EXPECT_EQ(run("audit report --data " + dir() + " --from yesterday").code, 2);
  EXPECT_EQ(run("audit verify --help").code, 0);
  EXPECT_EQ(run("audit report --help").code, 0);
  const Outcome missing = run("audit verify --data " + (tmp_->path() / "nothing").string());
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("no ledger"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace haihe::ledger::test
