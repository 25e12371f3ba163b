// Audit tests: tamper (a changed byte in any table is found and located),
// replay (folding the stored batches into an empty environment reproduces
// every table and the chain head), determinism, hot copies, verification
// while a writer runs, and reports.
#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "ledger/audit.h"
#include "ledger/format.h"
#include "tests/ledger/support.h"

namespace haihe::ledger::test {
namespace {

// Runs `batches` generated batches (seeded) into a ledger in `dir`.
Hash populate(const std::filesystem::path& dir, const Market& m, std::uint64_t seed, int batches,
              bool reopen_midway = false) {
  std::optional<Ledger> l;
  l.emplace(Ledger::open(dir, m.rules, m.text, fast_options()));
  std::mt19937_64 rng(seed);
  for (int n = 0; n < batches; ++n) {
    if (reopen_midway && n == batches / 2) {
      l.reset();
      l.emplace(Ledger::open(dir, m.rules, m.text, fast_options()));
    }
    const Seq seq = l->head_seq() + 1;
    const auto ops = generate(rng, *m.rules, open_orders(*l), seq, 1 + rng() % 40);
    Batch b = l->begin();
    for (const Op& op : ops) apply(b, op);
    b.commit(as_bytes("cmds of batch " + std::to_string(seq)), static_cast<TimestampNs>(seq) * 1'000'000'000);
  }
  return l->head_hash();
}

struct Raw {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  Raw(const std::filesystem::path& dir, const std::string& table) {
    EXPECT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    EXPECT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
    EXPECT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    EXPECT_EQ(mdb_dbi_open(txn, table.c_str(), 0, &dbi), 0);
  }
  ~Raw() {
    if (txn != nullptr) mdb_txn_abort(txn);
    mdb_env_close(env);
  }
  void commit() {
    EXPECT_EQ(mdb_txn_commit(txn), 0);
    txn = nullptr;
  }
  void put(const std::string& k, const std::string& v) {
    MDB_val kv{k.size(), const_cast<char*>(k.data())}, vv{v.size(), const_cast<char*>(v.data())};
    EXPECT_EQ(mdb_put(txn, dbi, &kv, &vv, 0), 0);
  }
  void del(const std::string& k) {
    MDB_val kv{k.size(), const_cast<char*>(k.data())};
    EXPECT_EQ(mdb_del(txn, dbi, &kv, nullptr), 0);
  }
};

void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::create_directories(to);
  std::filesystem::copy_file(from / "data.mdb", to / "data.mdb");
}

std::string key_u64(std::uint64_t v) {
  std::string k(8, '\0');
  std::byte* p = reinterpret_cast<std::byte*>(k.data());
  format::put_u64be(p, v);
  return k;
}

class AuditFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    market_ = new Market(make_market(12, 5));
    head_ = populate(dir_->path() / "src", *market_, 31, 200);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete market_;
  }
  static std::filesystem::path src() { return dir_->path() / "src"; }
  static TempDir* dir_;
  static Market* market_;
  static Hash head_;
};
TempDir* AuditFixture::dir_ = nullptr;
Market* AuditFixture::market_ = nullptr;
Hash AuditFixture::head_{};

TEST_F(AuditFixture, IntactLedgerVerifies) {
  const auto v = audit::verify(src(), market_->rules.get());
  ASSERT_TRUE(v.ok) << v.summary();
  EXPECT_EQ(v.head, head_);
  EXPECT_EQ(v.batches, 201u);
  EXPECT_GT(v.trades, 100u);
  EXPECT_NE(v.summary().find("ok"), std::string::npos);
  for (const auto& t : audit::table_names()) {
    if (t == "snapshots" || t == "reservations") {
      EXPECT_GT(audit::dump_table(src(), t).size(), 0u) << t;
    }
  }
}

// Flip one byte of the middle record of every table: verify fails and names
// the batch (append-only tables) or the table, key and last writer.
TEST_F(AuditFixture, EveryTableIsTamperEvident) {
  int n = 0;
  for (const auto& table : audit::table_names()) {
    SCOPED_TRACE(table);
    const auto rows = audit::dump_table(src(), table);
    ASSERT_FALSE(rows.empty());
    const auto& [key, value] = rows[rows.size() / 2];
    const auto dst = dir_->path() / ("tamper-" + std::to_string(n++));
    copy_dir(src(), dst);
    {
      Raw raw(dst, table);
      std::string v = value;
      v[v.size() - 1] = static_cast<char>(v[v.size() - 1] ^ 0x01);
      raw.put(key, v);
      raw.commit();
    }
    const auto res = audit::verify(dst, market_->rules.get());
    ASSERT_FALSE(res.ok) << "tampering was not noticed";
    const auto* kb = reinterpret_cast<const std::byte*>(key.data());
    const std::span<const std::byte> vb{reinterpret_cast<const std::byte*>(value.data()), value.size()};
    TradeRecord trade;
    MovementRecord movement;
    if (table == "journal" || table == "chain" || table == "snapshots" || table == "reservations") {
      EXPECT_EQ(res.mismatch.kind, audit::Mismatch::Kind::batch) << res.summary();
      EXPECT_EQ(res.mismatch.batch, format::get_u64be(kb)) << res.summary();
    } else if (table == "trades") {
      EXPECT_EQ(res.mismatch.kind, audit::Mismatch::Kind::batch) << res.summary();
      ASSERT_TRUE(format::decode_trade(0, vb, trade));
      EXPECT_EQ(res.mismatch.batch, trade.seq) << res.summary();
    } else if (table == "movements") {
      EXPECT_EQ(res.mismatch.kind, audit::Mismatch::Kind::batch) << res.summary();
      ASSERT_TRUE(format::decode_movement(0, vb, movement));
      EXPECT_EQ(res.mismatch.batch, movement.seq) << res.summary();
    } else {
      EXPECT_EQ(res.mismatch.kind, audit::Mismatch::Kind::record) << res.summary();
      EXPECT_EQ(res.mismatch.table, table);
      EXPECT_FALSE(res.mismatch.key.empty());
      EXPECT_GT(res.mismatch.batch, 0u) << "the last writer is named";
      EXPECT_NE(res.summary().find("differs"), std::string::npos) << res.summary();
    }
  }
}

TEST_F(AuditFixture, DeletedAndInsertedRecordsAreFound) {
  {  // a holding deleted
    const auto dst = dir_->path() / "del-holding";
    copy_dir(src(), dst);
    const auto rows = audit::dump_table(src(), "holdings");
    {
      Raw raw(dst, "holdings");
      raw.del(rows[3].first);
      raw.commit();
    }
    const auto res = audit::verify(dst, market_->rules.get());
    ASSERT_FALSE(res.ok);
    EXPECT_EQ(res.mismatch.table, "holdings");
    EXPECT_NE(res.mismatch.detail.find("missing"), std::string::npos) << res.summary();
  }
  {  // cash conjured
    const auto dst = dir_->path() / "add-cash";
    copy_dir(src(), dst);
    {
      Raw raw(dst, "cash");
      raw.put(std::string("\x00\x00\x00\x01", 4), std::string(16, '\x01'));
      raw.commit();
    }
    const auto res = audit::verify(dst, market_->rules.get());
    ASSERT_FALSE(res.ok);
    EXPECT_EQ(res.mismatch.table, "cash");
  }
  {  // an extra trade appended
    const auto dst = dir_->path() / "add-trade";
    copy_dir(src(), dst);
    const auto rows = audit::dump_table(src(), "trades");
    {
      Raw raw(dst, "trades");
      raw.put(key_u64(rows.size() + 1), rows.back().second);
      raw.commit();
    }
    const auto res = audit::verify(dst, market_->rules.get());
    ASSERT_FALSE(res.ok);
    EXPECT_EQ(res.mismatch.table, "trades");
    EXPECT_NE(res.mismatch.detail.find("not written by any batch"), std::string::npos) << res.summary();
  }
  {  // the last batch's chain record removed
    const auto dst = dir_->path() / "del-chain";
    copy_dir(src(), dst);
    {
      Raw raw(dst, "chain");
      raw.del(key_u64(201));
      raw.commit();
    }
    const auto res = audit::verify(dst, market_->rules.get());
    ASSERT_FALSE(res.ok);
    EXPECT_EQ(res.mismatch.batch, 201u) << res.summary();
  }
}

TEST_F(AuditFixture, FoldingTheBatchesReproducesEveryTable) {
  const auto dst = dir_->path() / "folded";
  const Hash h = audit::fold_into(src(), dst);
  EXPECT_EQ(h, head_);
  for (const auto& t : audit::table_names()) {
    EXPECT_TRUE(audit::dump_table(src(), t) == audit::dump_table(dst, t)) << "table " << t << " differs";
  }
  // The folded copy opens as a ledger and equals the original.
  Ledger a = Ledger::open(dst, market_->rules, market_->text, fast_options());
  EXPECT_EQ(a.head_hash(), head_);
  EXPECT_TRUE(a.check_invariants().empty());
}

TEST_F(AuditFixture, SameOperationsGiveTheSameBytes) {
  const auto again = dir_->path() / "again";
  const Hash h = populate(again, *market_, 31, 200, /*reopen_midway=*/true);
  EXPECT_EQ(h, head_);
  for (const auto& t : audit::table_names()) {
    EXPECT_TRUE(audit::dump_table(src(), t) == audit::dump_table(again, t)) << "table " << t << " differs";
  }
}

TEST_F(AuditFixture, HotCopiesVerify) {
  if (!std::filesystem::exists("/usr/bin/mdb_copy")) GTEST_SKIP() << "mdb_copy not installed";
  for (const char* flags : {"", "-c "}) {
    const auto dst = dir_->path() / (std::string("copy") + (flags[0] ? "-c" : ""));
    std::filesystem::create_directories(dst);
    const std::string cmd = std::string("/usr/bin/mdb_copy ") + flags + src().string() + " " + dst.string();
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto res = audit::verify(dst, market_->rules.get());
    EXPECT_TRUE(res.ok) << res.summary();
    EXPECT_EQ(res.head, head_);
  }
}

TEST_F(AuditFixture, ReportAddsUp) {
  const audit::Reader reader = audit::Reader::open(src());
  EXPECT_EQ(reader.rules_text(), market_->text);
  const auto& r = *market_->rules;
  const audit::Report all = audit::build_report(reader, r, {});
  EXPECT_EQ(all.head_seq, 201u);
  EXPECT_EQ(all.head, head_);
  Fen comp = 0, levy = 0, fees = 0;
  for (const auto& t : all.trades) {
    comp += t.compensation_fen;
    levy += t.levy_fen;
    fees += t.buyer_fee_fen + t.seller_fee_fen;
  }
  Fen comp_rows = 0, levy_rows = 0, fee_rows = 0;
  for (const auto& c : all.compensation) comp_rows += c.fen;
  for (const auto& l : all.levies) levy_rows += l.fen;
  for (const auto& f : all.fees) fee_rows += f.buyer_fen + f.seller_fen;
  EXPECT_GT(comp, 0);
  EXPECT_GT(levy, 0);
  EXPECT_EQ(comp, comp_rows);
  EXPECT_EQ(levy, levy_rows);
  EXPECT_EQ(fees, fee_rows);
  EXPECT_FALSE(all.movements.empty());
  EXPECT_FALSE(all.zones.empty());
  EXPECT_FALSE(all.regions.empty());
  // Party filter: only that party's holdings and trades.
  audit::ReportFilter f;
  f.party = kFirstEnterprise + 2;
  const audit::Report one = audit::build_report(reader, r, f);
  for (const auto& h : one.holdings) EXPECT_EQ(h.party, *f.party);
  for (const auto& t : one.trades) EXPECT_TRUE(t.buyer == *f.party || t.seller == *f.party);
  // City filter: compensation received by CHENGDE's government only.
  audit::ReportFilter c;
  c.city = 2;
  const audit::Report city = audit::build_report(reader, r, c);
  for (const auto& row : city.compensation) EXPECT_EQ(row.city, kChengdeGov);
  for (const auto& h : city.holdings) EXPECT_EQ(r.parties[h.party].region, 2u);
  // Time range: trades of batches 100..149 (ts = seq seconds).
  audit::ReportFilter t;
  t.from_ns = 100'000'000'000;
  t.to_ns = 150'000'000'000;
  const audit::Report range = audit::build_report(reader, r, t);
  for (const auto& tr : range.trades) EXPECT_TRUE(tr.seq >= 100 && tr.seq < 150);
  EXPECT_LT(range.trades.size(), all.trades.size());
}

// `audit verify` reads while another process writes.
TEST(LedgerAuditLive, VerifiesWhileAWriterRuns) {
  TempDir tmp;
  const Market m = make_market(10, 8);
  { Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options()); }
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      Options o = fast_options();
      o.map_bytes = std::uint64_t{1} << 20;  // make it grow the map while we read
      Ledger l = Ledger::open(tmp.path(), m.rules, m.text, o);
      std::mt19937_64 rng(8);
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
      while (std::chrono::steady_clock::now() < end) {
        const auto ops = generate(rng, *m.rules, open_orders(l), l.head_seq() + 1, 40);
        Batch b = l.begin();
        for (const Op& op : ops) apply(b, op);
        b.commit(as_bytes(std::string(2000, 'c')), 0);
      }
      ::_exit(0);
    } catch (...) {
      ::_exit(3);
    }
  }
  Seq last = 0;
  int runs = 0;
  for (;;) {
    int status = 0;
    const bool done = ::waitpid(pid, &status, WNOHANG) == pid;
    const auto v = audit::verify(tmp.path(), m.rules.get());
    ASSERT_TRUE(v.ok) << v.summary();
    EXPECT_GE(v.batches, last);
    last = v.batches;
    ++runs;
    if (done) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      break;
    }
  }
  EXPECT_GE(runs, 3);
  EXPECT_GT(last, 10u);
}

}  // namespace
}  // namespace haihe::ledger::test
