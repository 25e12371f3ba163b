// The write-ahead log (ledger/wal.h): a batch is durable once its record is
// in DATA/wal; opening re-applies the records no checkpoint holds, ignores a
// torn one, and the ring is reused only after a checkpoint.
//
// A child process commits batches with checkpoints deferred and leaves with
// _exit (no destructor, so no closing checkpoint): only the log holds its
// batches. The parent checks what LMDB holds before and after reopening.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "ledger/audit.h"
#include "ledger/wal.h"
#include "tests/ledger/support.h"

namespace haihe::ledger::test {
namespace {

std::vector<Op> ops_for(Seq seq, const MarketRules& r, const std::vector<std::pair<OrderId, OrderReservation>>& open) {
  std::mt19937_64 rng(seq * 0x9E3779B97F4A7C15ull ^ 0xa1ull);
  return generate(rng, r, open, seq, 1 + rng() % 30);
}

struct ChildResult {
  Seq head = 0;
  Hash hash{};
};

/// Forks a child that opens the ledger with `o`, commits `batches` batches
/// (input of `input_bytes` each) and leaves without closing it.
ChildResult commit_and_vanish(const std::filesystem::path& dir, const Market& m, const Options& o, int batches,
                              std::size_t input_bytes) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    try {
      Ledger l = Ledger::open(dir, m.rules, m.text, o);
      const std::string input(input_bytes, 'i');
      for (int n = 0; n < batches; ++n) {
        const Seq seq = l.head_seq() + 1;
        const auto ops = ops_for(seq, *m.rules, open_orders(l));
        Batch b = l.begin();
        for (const Op& op : ops) apply(b, op);
        b.commit(as_bytes(input), static_cast<TimestampNs>(seq));
      }
      const ChildResult r{l.head_seq(), l.head_hash()};
      if (::write(fds[1], &r, sizeof r) != sizeof r) ::_exit(4);
      ::_exit(0);  // no ~Ledger: the batches since the last checkpoint are only in the log
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wal-test child: %s\n", e.what());
      ::_exit(3);
    }
  }
  ::close(fds[1]);
  ChildResult r;
  EXPECT_EQ(::read(fds[0], &r, sizeof r), static_cast<ssize_t>(sizeof r));
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  return r;
}

/// The model after genesis and batches 2..head.
Model model_through(const Market& m, Seq head) {
  Model model(m.rules);
  model_genesis(model);
  for (Seq s = 2; s <= head; ++s) apply_batch(model, ops_for(s, *m.rules, open_orders(model)));
  return model;
}

Options deferred() {
  Options o = fast_options();
  o.durability = Durability::full;
  o.defer_checkpoints = true;
  return o;
}

TEST(LedgerWal, OpeningReappliesWhatOnlyTheLogHeld) {
  TempDir tmp;
  const Market m = make_market(10, 5);
  const ChildResult child = commit_and_vanish(tmp.path(), m, deferred(), 40, 100);
  ASSERT_EQ(child.head, 41u);
  EXPECT_EQ(audit::Reader::open(tmp.path()).head_seq(), 1u) << "LMDB was checkpointed: the test tests nothing";
  {
    // The regulator's view before the exchange restarts: LMDB verifies up to
    // its checkpoint, and the batches waiting in the log are counted.
    const auto v = audit::verify(tmp.path(), m.rules.get());
    EXPECT_TRUE(v.ok) << v.summary();
    EXPECT_EQ(v.waiting_in_log, 40u);
    EXPECT_NE(v.summary().find("40 committed batches after these wait in the write-ahead log"), std::string::npos)
        << v.summary();
  }

  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
  EXPECT_EQ(l.redone_batches(), 40u);
  EXPECT_EQ(l.head_seq(), child.head);
  EXPECT_EQ(l.head_hash(), child.hash);
  EXPECT_EQ(diff(l, model_through(m, child.head)), "");
  EXPECT_TRUE(l.check_invariants().empty());
  // A second crash right away: the records are in LMDB now, nothing is redone twice.
  std::optional<Ledger> reopened;
  {
    Ledger gone = std::move(l);
  }
  reopened.emplace(Ledger::open(tmp.path(), m.rules, m.text, fast_options()));
  EXPECT_EQ(reopened->redone_batches(), 0u);
  EXPECT_EQ(reopened->head_hash(), child.hash);
  reopened.reset();
  const auto v = audit::verify(tmp.path(), m.rules.get());
  EXPECT_TRUE(v.ok) << v.summary();
  EXPECT_EQ(v.batches, child.head);
  EXPECT_EQ(v.waiting_in_log, 0u);
}

TEST(LedgerWal, ATornRecordEndsTheRedo) {
  TempDir tmp;
  const Market m = make_market(10, 6);
  const ChildResult child = commit_and_vanish(tmp.path(), m, deferred(), 12, 100);
  ASSERT_EQ(child.head, 13u);
  // Damage the last record's body, as a write cut short by a power loss would.
  std::vector<wal::Ring::Found> found;
  {
    wal::Ring ring(tmp.path() / "wal", Options{}.wal_bytes, false);
    found = ring.scan(1);
  }
  ASSERT_EQ(found.size(), 12u);
  ASSERT_EQ(found.back().seq, 13u);
  {
    std::fstream f(tmp.path() / "wal", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(found.back().offset + wal::kHeader + 5));
    f.put('\x7f');
  }
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
  EXPECT_EQ(l.redone_batches(), 11u);
  EXPECT_EQ(l.head_seq(), 12u);
  EXPECT_EQ(diff(l, model_through(m, 12)), "");
  // Trading goes on from there; the torn record never comes back.
  {
    Batch b = l.begin();
    ASSERT_EQ(b.deposit(kFirstEnterprise, 7), Reason::ok);
    EXPECT_EQ(b.commit(as_bytes(std::string("after")), 99).seq, 13u);
  }
  {
    Ledger closed = std::move(l);
  }
  Ledger again = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
  EXPECT_EQ(again.head_seq(), 13u);
  EXPECT_EQ(again.redone_batches(), 0u);
}

TEST(LedgerWal, TheRingIsReusedOnlyAfterACheckpoint) {
  TempDir tmp;
  const Market m = make_market(10, 7);
  Options o = deferred();
  o.wal_bytes = 16 * wal::kAlign;  // 64 KiB: every record takes 8 KiB, so the ring turns every 8 batches
  const ChildResult child = commit_and_vanish(tmp.path(), m, o, 100, 5000);
  ASSERT_EQ(child.head, 101u);
  const Seq in_lmdb = audit::Reader::open(tmp.path()).head_seq();
  EXPECT_GT(in_lmdb, 1u) << "a full ring must force checkpoints";
  EXPECT_LT(in_lmdb, child.head);
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, o);
  EXPECT_EQ(l.redone_batches(), child.head - in_lmdb);
  EXPECT_EQ(l.head_hash(), child.hash);
  EXPECT_EQ(diff(l, model_through(m, child.head)), "");
}

TEST(LedgerWal, ABatchTooBigForTheLogIsCheckpointedBeforeCommitReturns) {
  TempDir tmp;
  const Market m = make_market(10, 8);
  Options o = deferred();
  o.wal_bytes = 16 * wal::kAlign;
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, o);
  const std::string big(40'000, 'b');  // more than half the ring
  Batch b = l.begin();
  ASSERT_EQ(b.deposit(kFirstEnterprise, 3), Reason::ok);
  const CommitInfo ci = b.commit(as_bytes(big), 5);
  EXPECT_EQ(audit::Reader::open(tmp.path()).head_seq(), ci.seq) << "not in LMDB when commit returned";
  Batch small = l.begin();
  ASSERT_EQ(small.deposit(kFirstEnterprise, 3), Reason::ok);
  small.commit({}, 6);
  EXPECT_EQ(audit::Reader::open(tmp.path()).head_seq(), ci.seq) << "deferred: the small batch is only in the log";
  l.sync();
  EXPECT_EQ(audit::Reader::open(tmp.path()).head_seq(), ci.seq + 1);
}

TEST(LedgerWal, ANewLedgerIgnoresAnOldLog) {
  TempDir tmp;
  const Market m = make_market(10, 9);
  commit_and_vanish(tmp.path(), m, deferred(), 5, 10);
  // Someone removes the database but not the log, and creates the same ledger
  // again (same rules, same genesis time: the same genesis head).
  std::filesystem::remove(tmp.path() / "data.mdb");
  std::filesystem::remove(tmp.path() / "lock.mdb");
  {
    Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
    EXPECT_EQ(l.head_seq(), 1u);
  }
  Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
  EXPECT_EQ(l.redone_batches(), 0u);
  EXPECT_EQ(l.head_seq(), 1u);
}

}  // namespace
}  // namespace haihe::ledger::test
