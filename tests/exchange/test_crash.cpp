// Crash and restart: a child process runs the core under load (its own
// thread, producers submitting, a consumer writing every published event to
// a file as it receives it); the parent SIGKILLs it at random moments, 50
// times, and after each kill reopens the data directory: recovery must
// succeed (it re-runs the journal and checks every event), every event the
// child published must be stored, the rebuilt books must agree with the
// ledger, and trading continues.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "tests/exchange/core_support.h"

namespace haihe::exchange::test {
namespace {

[[noreturn]] void run_child(const std::filesystem::path& dir, const std::filesystem::path& published, int round) {
  try {
    ManualClock clock(beijing(10, 0) + round * 1000 * kMs);
    auto o = core_options(dir, &clock);
    auto core = Core::open(o);
    auto sub = core->subscribe(Audience::regulator, rules::kNone, 1u << 20);
    const int fd = ::open(published.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) ::_exit(3);
    core->start();
    std::atomic<bool> done{false};
    std::thread consumer([&] {
      Event batch[256];
      while (!done.load()) {
        const auto n = sub->poll(std::span<Event>(batch, 256));
        for (std::size_t k = 0; k < n; ++k) {
          if (batch[k].audience != Audience::party) continue;
          if (::write(fd, &batch[k], sizeof(Event)) != static_cast<ssize_t>(sizeof(Event))) ::_exit(4);
        }
        if (n == 0) sub->wait(std::chrono::milliseconds(1));
      }
    });
    Generator gen(core->rules(), static_cast<std::uint64_t>(round) * 7919 + 1, std::string("R").append(std::to_string(round)));
    const auto& rules = core->rules();
    std::vector<Fen> refs;
    for (const auto& ins : rules.instruments) refs.push_back(ins.reference_fen);
    for (;;) {  // until killed
      const Command c = gen.next([&](InstrumentIndex i) { return refs[i]; });
      while (core->submit(c) == SubmitResult::busy) std::this_thread::yield();
      clock.advance(kMs / 10);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child: %s\n", e.what());
    ::_exit(2);
  }
}

TEST(CoreCrash, FiftyKillsLoseNothingPublished) {
  TempDir dir;
  const auto data = dir / "data";
  const auto published = dir / "published.bin";
  std::mt19937_64 rng(2027);
  std::uint64_t total_published = 0;
  for (int round = 0; round < 50; ++round) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) run_child(data, published, round);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 150));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the child exited by itself (status "
                                     << WEXITSTATUS(status) << ")";

    // Reopen: recovery re-runs the journal since the last snapshot and
    // checks it reproduces every stored event, then the books against the ledger.
    ManualClock clock(beijing(10, 0) + round * 1000 * kMs);
    auto core = Core::open(core_options(data, &clock));
    const auto problems = core->check();
    ASSERT_TRUE(problems.empty()) << "round " << round << ": " << problems.front();

    // Every event the child published is stored.
    std::vector<Event> sent;
    {
      std::ifstream in(published, std::ios::binary);
      Event e;
      while (in.read(reinterpret_cast<char*>(&e), sizeof(Event))) sent.push_back(e);
    }
    // A torn last record (killed in the middle of write) is not an event.
    ::truncate(published.c_str(), static_cast<off_t>(sent.size() * sizeof(Event)));
    std::set<std::pair<Seq, std::string>> stored;
    const Seq after = sent.empty() ? 0 : sent.front().seq - 1;
    core->for_each_stored_event(after, [&](const Event& e) {
      stored.emplace(e.seq, std::string(reinterpret_cast<const char*>(&e), sizeof(Event)));
    });
    for (const Event& e : sent) {
      ASSERT_TRUE(stored.count({e.seq, std::string(reinterpret_cast<const char*>(&e), sizeof(Event))}))
          << "round " << round << ": published event of command " << e.seq << " (" << to_string(e.kind)
          << ") is not in the ledger";
    }
    total_published = sent.size();
  }
  EXPECT_GT(total_published, 1000u) << "the children did work";

  // Trading continues on the recovered state.
  ManualClock clock(beijing(14, 0));
  Driver d(core_options(data, &clock));
  const auto trades_before = d.core->ledger().next_trade_id();
  Generator gen(d.core->rules(), 99, "AFTER");
  for (int k = 0; k < 2000; ++k) {
    d.core->submit(gen.next([&](InstrumentIndex i) { return d.core->reference_fen(i).value_or(100); }));
    if (k % 50 == 49) d.step();
  }
  d.step();
  EXPECT_GT(d.core->ledger().next_trade_id(), trades_before);
  EXPECT_TRUE(d.core->check().empty());
}

}  // namespace
}  // namespace haihe::exchange::test
