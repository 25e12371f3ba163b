// Crash test: a child process applies batches and reports each committed
// sequence number through a pipe; the parent SIGKILLs it at random moments
// (50 times), reopens the ledger and checks that the last reported batch is
// there, that the state is exactly the model's after the batches the ledger
// holds, that the laws hold and that `audit verify` passes. Kills between a
// commit and its checkpoint leave batches that only the write-ahead log
// holds; reopening re-applies them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/audit.h"
#include "tests/ledger/support.h"

namespace haihe::ledger::test {
namespace {

std::uint64_t seed_for(Seq seq) { return seq * 0x9E3779B97F4A7C15ull ^ 0x5eedull; }

// The batch `seq` for a ledger or model whose open orders are `open`.
std::vector<Op> batch_for(Seq seq, const MarketRules& r, const std::vector<std::pair<OrderId, OrderReservation>>& open) {
  std::mt19937_64 rng(seed_for(seq));
  const std::size_t count = 1 + rng() % 30;
  return generate(rng, r, open, seq, count);
}

[[noreturn]] void child(const std::filesystem::path& dir, const Market& m, const Options& o, int fd) {
  try {
    Ledger l = Ledger::open(dir, m.rules, m.text, o);
    for (;;) {
      const Seq seq = l.head_seq() + 1;
      const auto ops = batch_for(seq, *m.rules, open_orders(l));
      Batch b = l.begin();
      for (const Op& op : ops) apply(b, op);
      const std::string input = "batch " + std::to_string(seq);
      const CommitInfo ci = b.commit(as_bytes(input), static_cast<TimestampNs>(seq));
      if (::write(fd, &ci.seq, sizeof ci.seq) != sizeof ci.seq) ::_exit(4);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash-test child: %s\n", e.what());
    ::_exit(3);
  }
}

TEST(LedgerCrash, SigkillAtRandomMomentsLosesNoReportedBatch) {
  TempDir tmp;
  const Market m = make_market(10, 77);
  { Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options()); }
  Model model(m.rules);
  model_genesis(model);
  Seq model_seq = 1;
  std::mt19937_64 rng(2024);
  constexpr int kRounds = 50;
  int killed_mid_run = 0;
  std::uint64_t redone = 0;  // batches the kill left in the log only
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Options o = fast_options();
    if (round % 5 == 4) o.durability = Durability::full;
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      child(tmp.path(), m, o, fds[1]);
    }
    ::close(fds[1]);
    Seq last = 0, got = 0;
    const int want = static_cast<int>(rng() % 25);
    for (int k = 0; k < want && ::read(fds[0], &got, sizeof got) == sizeof got; ++k) last = got;
    ::usleep(static_cast<useconds_t>(rng() % 4000));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    while (::read(fds[0], &got, sizeof got) == sizeof got) last = got;  // reported before it died
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child died on its own: " << status;
    ++killed_mid_run;

    Ledger l = Ledger::open(tmp.path(), m.rules, m.text, fast_options());
    ASSERT_GE(l.head_seq(), last) << "a reported batch was lost";
    redone += l.redone_batches();
    while (model_seq < l.head_seq()) {
      ++model_seq;
      apply_batch(model, batch_for(model_seq, *m.rules, open_orders(model)));
    }
    ASSERT_EQ(diff(l, model), "");
    const auto inv = l.check_invariants();
    ASSERT_TRUE(inv.empty()) << inv.front();
    const auto laws = model.laws();
    ASSERT_TRUE(laws.empty()) << laws.front();
    if (round % 5 == 0 || round == kRounds - 1) {
      const Seq head = l.head_seq();
      std::optional<Ledger> closing(std::move(l));
      closing.reset();
      const auto v = audit::verify(tmp.path(), m.rules.get());
      ASSERT_TRUE(v.ok) << v.summary();
      ASSERT_EQ(v.batches, head);
    }
  }
  EXPECT_EQ(killed_mid_run, kRounds);
  EXPECT_GT(redone, 0u) << "no kill came between a commit and its checkpoint";
  EXPECT_GT(model_seq, 100u) << "the children committed too little to be a test";
}

}  // namespace
}  // namespace haihe::ledger::test
