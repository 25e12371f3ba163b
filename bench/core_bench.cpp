// core_bench — commands per second through sequencer, engine and ledger, and
// latency from enqueue to the published event, without coordinated omission.
//
// The market (generated here, fixed): 4 emission instruments of one region,
// 32 enterprises holding plenty of rights and cash, no caps, trading all day.
// Each of P producer threads sends a fixed-seed stream for its own 16..32
// parties: limit orders around the reference (about half of them crossing),
// cancels and replaces of its own resting orders, IOC orders; about a third
// of the commands trade. Events are read by one consumer thread from one
// Audience::regulator subscription (every event).
//
// Latency of a command = the time its first execution event was read by the
// consumer minus the time the command was INTENDED to be sent: at a fixed
// offered rate one producer keeps a schedule (t0 + k / rate) and a late send
// (the core pushing back, a preempted thread) counts against the latency; at
// saturation the intended time is when the producer first tried to submit.
//
// Runs: for durability none and full: saturation, and offered 50k and 100k
// commands/s. Counters: cmds_per_s (acknowledged), trade_share, p50_us,
// p99_us, p999_us, batches, mean batch; the latency split at the core's
// stamp: wait_p50/p99_us (intended send to stamp: the producer's lateness
// and the queue) and core_p50/p99_us (stamp to read: execution, the commit,
// publication, the consumer's wake-up); commit_us per batch. Each run starts
// with sync(2) and a fresh data directory. Fixed seeds; median of
// --benchmark_repetitions.
// GCC 12 warns falsely on "literal" + std::string (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <ctime>
#include <vector>
#include <unistd.h>

#include "bench/bench_market.h"
#include "exchange/core.h"
#include "rules/rules.h"

namespace {

using namespace haihe;
using namespace haihe::exchange;
using Steady = std::chrono::steady_clock;

constexpr int kParties = 32;
constexpr int kInstruments = 4;
std::string bench_rules_text() { return haihe::bench::market_text(kParties, kInstruments); }
constexpr int kProducers = 2;

/// Real time, moved to a Monday morning so the bench market is open.
class BenchClock final : public exchange::Clock {
 public:
  BenchClock() : start_(Steady::now()), base_(local_to_utc(20270315, 600, 480)) {}
  TimestampNs now_ns() override {
    return base_ + std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - start_).count();
  }
  /// The steady time of a stamp this clock gave.
  Steady::time_point steady_at(TimestampNs ts) const { return start_ + std::chrono::nanoseconds(ts - base_); }

 private:
  Steady::time_point start_;
  TimestampNs base_;
};

/// A producer's fixed stream.
std::vector<Command> make_stream(int producer, std::size_t n, PartyIndex first_party) {
  std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(producer));
  std::vector<Command> out;
  out.reserve(n);
  std::vector<ClOrdId> resting[kParties];
  const int parties = kParties / kProducers;
  std::uint64_t counter = 0;
  auto id = [&] {
    ClOrdId c{};
    const std::string s = "P" + std::to_string(producer) + "-" + std::to_string(++counter);
    std::copy(s.begin(), s.end(), c.chars.begin());
    return c;
  };
  for (std::size_t k = 0; k < n; ++k) {
    const int local = static_cast<int>(rng() % static_cast<std::uint64_t>(parties));
    const PartyIndex party = first_party + static_cast<PartyIndex>(local);
    auto& mine = resting[local];
    const auto roll = rng() % 100;
    Command c{};
    c.party = party;
    c.user_ref = (static_cast<std::uint64_t>(producer) << 48) | (k + 1);
    if (roll < 20 && !mine.empty()) {
      const auto at = rng() % mine.size();
      c.kind = CommandKind::cancel;
      c.orig_cl_ord_id = mine[at];
      mine[at] = mine.back();
      mine.pop_back();
    } else if (roll < 28 && !mine.empty()) {
      const auto at = rng() % mine.size();
      c.kind = CommandKind::replace;
      c.orig_cl_ord_id = mine[at];
      c.cl_ord_id = id();
      mine[at] = c.cl_ord_id;
      c.price_fen = 9900 + static_cast<Fen>(rng() % 100);
      c.qty = 1 + static_cast<Qty>(rng() % 50);
    } else {
      c.kind = CommandKind::new_order;
      c.instrument = static_cast<InstrumentIndex>(rng() % kInstruments);
      c.side = rng() % 2 ? Side::buy : Side::sell;
      c.cl_ord_id = id();
      c.qty = 1 + static_cast<Qty>(rng() % 50);
      // Around the reference: buys 9,950..10,049, sells 9,951..10,050.
      const Fen off = static_cast<Fen>(rng() % 100);
      c.price_fen = c.side == Side::buy ? 9950 + off : 9951 + off;
      if (roll < 38) {
        c.tif = TimeInForce::ioc;
      } else {
        c.tif = TimeInForce::gtc;
        mine.push_back(c.cl_ord_id);
        if (mine.size() > 200) mine.erase(mine.begin());
      }
    }
    out.push_back(c);
  }
  return out;
}

/// A fresh data directory under $HAIHE_BENCH_DIR (default: here), on a disk.
std::filesystem::path bench_dir(const std::string& prefix) {
  const char* base = std::getenv("HAIHE_BENCH_DIR");
  auto dir = std::filesystem::path(base != nullptr ? base : ".") / (prefix + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

CoreOptions bench_options(const std::filesystem::path& dir, ledger::Durability durability, exchange::Clock* clock) {
  static const std::string text = bench_rules_text();
  CoreOptions o;
  o.data_dir = dir;
  o.rules = rules::load_rules_text(text, "core-bench.toml");
  o.rules_text = text;
  o.durability = durability;
  o.clock = clock;
  return o;
}

struct Result {
  double cmds_per_s = 0, p50_us = 0, p99_us = 0, p999_us = 0, trade_share = 0, mean_batch = 0;
  double wait_p50_us = 0, wait_p99_us = 0, core_p50_us = 0, core_p99_us = 0;
  double execute_us_per_cmd = 0, commit_us_per_batch = 0, journal_bytes_per_cmd = 0;
  std::uint64_t acked = 0, batches = 0;
};

Result run(ledger::Durability durability, double offered_per_s, std::size_t per_producer) {
  // Start from a quiet disk: an earlier run with durability none leaves
  // hundreds of MB of dirty pages whose write-back would land on this run's
  // flushes.
  ::sync();
  const auto dir = bench_dir("core-bench-");
  BenchClock clock;
  const CoreOptions o = bench_options(dir, durability, &clock);
  auto core = Core::open(o);
  const PartyIndex first = o.rules->find_party("E0");
  // One stream of everything (as a regulator's drop copy sees it); the
  // consumer picks each command's first execution event.
  auto sub = core->subscribe(Audience::regulator, rules::kNone, 1u << 18);
  // At a fixed offered rate one producer keeps the schedule (two spinning
  // producers would starve the core on two cores); at saturation, two.
  const int producer_count = offered_per_s > 0 ? 1 : kProducers;
  std::vector<std::vector<Command>> streams;
  for (int p = 0; p < producer_count; ++p) {
    streams.push_back(make_stream(p, per_producer, first + static_cast<PartyIndex>(p * (kParties / kProducers))));
  }
  const std::size_t total = per_producer * static_cast<std::size_t>(producer_count);
  std::vector<std::vector<std::int64_t>> intended(static_cast<std::size_t>(producer_count),
                                                  std::vector<std::int64_t>(per_producer + 1, 0));
  std::vector<std::int64_t> latency_ns, wait_ns, core_ns;
  latency_ns.reserve(total);
  wait_ns.reserve(total);
  core_ns.reserve(total);
  core->start();
  const auto t0 = Steady::now() + std::chrono::milliseconds(20);
  auto ns_since = [&](Steady::time_point t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count(); };
  std::atomic<bool> producers_done{false};
  std::atomic<std::int64_t> last_ack_ns{0};

  std::thread consumer([&] {
    std::vector<std::vector<char>> seen(static_cast<std::size_t>(producer_count), std::vector<char>(per_producer + 1, 0));
    std::size_t acked = 0;
    std::vector<Event> batch(4096);
    int idle = 0;
    while (acked < total) {
      const auto n = sub->poll(std::span<Event>(batch));
      const auto now = ns_since(Steady::now());
      for (std::size_t k = 0; k < n; ++k) {
        const Event& e = batch[k];
        if (e.audience != Audience::party || e.user_ref == 0) continue;
        const auto p = static_cast<std::size_t>(e.user_ref >> 48);
        const auto i = static_cast<std::size_t>(e.user_ref & 0xFFFFFFFFFFFFull);
        if (seen[p][i]) continue;
        seen[p][i] = 1;
        ++acked;
        latency_ns.push_back(now - intended[p][i]);
        // Split at the core's stamp: before it, the producer's lateness and
        // the queue; after it, execution, commit, publication and the read.
        const auto stamped = ns_since(clock.steady_at(e.ts_ns));
        wait_ns.push_back(stamped - intended[p][i]);
        core_ns.push_back(now - stamped);
        last_ack_ns.store(now, std::memory_order_relaxed);
      }
      if (n == 0) {
        if (sub->cut_off() || (++idle > 5000 && producers_done.load())) break;  // lost: stop
        sub->wait(std::chrono::microseconds(200));
      } else {
        idle = 0;
      }
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < producer_count; ++p) {
    producers.emplace_back([&, p] {
      const auto pi = static_cast<std::size_t>(p);
      const double gap_ns = offered_per_s > 0 ? 1e9 / offered_per_s : 0;
      std::this_thread::sleep_until(t0);
      for (std::size_t k = 0; k < per_producer; ++k) {
        std::int64_t due = 0;
        if (gap_ns > 0) {
          due = static_cast<std::int64_t>(gap_ns * static_cast<double>(k));
          // Sleep until the command is due (a late wake-up counts against
          // the latency, measured from `due`); never spin: on two cores a
          // spinning producer would take the core's CPU.
          const std::int64_t ahead = due - ns_since(Steady::now());
          if (ahead > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ahead));
        } else {
          due = ns_since(Steady::now());
        }
        intended[pi][k + 1] = due;
        // Busy: the core pushes back; wait a little rather than spin against it.
        while (core->submit(streams[pi][k]) == SubmitResult::busy) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
  }
  for (auto& t : producers) t.join();
  producers_done.store(true);
  consumer.join();
  core->stop();
  const auto stats = core->stats();
  Result r;
  r.acked = latency_ns.size();
  r.batches = stats.batches;
  r.mean_batch = stats.batches ? static_cast<double>(stats.commands) / static_cast<double>(stats.batches) : 0;
  r.trade_share = static_cast<double>(stats.trades) / static_cast<double>(total);
  r.execute_us_per_cmd = static_cast<double>(stats.execute_ns) / 1e3 / static_cast<double>(std::max<std::uint64_t>(stats.commands, 1));
  r.commit_us_per_batch = static_cast<double>(stats.commit_ns) / 1e3 / static_cast<double>(std::max<std::uint64_t>(stats.batches, 1));
  r.journal_bytes_per_cmd = static_cast<double>(stats.journal_bytes) / static_cast<double>(std::max<std::uint64_t>(stats.commands, 1));
  r.cmds_per_s = static_cast<double>(r.acked) / (static_cast<double>(last_ack_ns.load()) / 1e9);
  auto pct = [](std::vector<std::int64_t>& v, double q) {
    if (v.empty()) return 0.0;
    const auto at = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
    return static_cast<double>(v[at]) / 1000.0;
  };
  r.p50_us = pct(latency_ns, 0.50);
  r.p99_us = pct(latency_ns, 0.99);
  r.p999_us = pct(latency_ns, 0.999);
  r.wait_p50_us = pct(wait_ns, 0.50);
  r.wait_p99_us = pct(wait_ns, 0.99);
  r.core_p50_us = pct(core_ns, 0.50);
  r.core_p99_us = pct(core_ns, 0.99);
  core.reset();
  std::filesystem::remove_all(dir);
  return r;
}

void BM_Core(benchmark::State& state) {
  const auto durability = state.range(0) == 0 ? ledger::Durability::none : ledger::Durability::full;
  const double offered = static_cast<double>(state.range(1));
  const auto per_producer = static_cast<std::size_t>(state.range(2));
  Result r;
  for (auto _ : state) {
    r = run(durability, offered, per_producer);
    state.SetIterationTime(static_cast<double>(r.acked) / std::max(r.cmds_per_s, 1.0));
  }
  state.counters["cmds_per_s"] = r.cmds_per_s;
  state.counters["trade_share"] = r.trade_share;
  state.counters["p50_us"] = r.p50_us;
  state.counters["p99_us"] = r.p99_us;
  state.counters["p999_us"] = r.p999_us;
  state.counters["wait_p50_us"] = r.wait_p50_us;
  state.counters["wait_p99_us"] = r.wait_p99_us;
  state.counters["core_p50_us"] = r.core_p50_us;
  state.counters["core_p99_us"] = r.core_p99_us;
  state.counters["mean_batch"] = r.mean_batch;
  state.counters["acked"] = static_cast<double>(r.acked);
  state.counters["exec_us_cmd"] = r.execute_us_per_cmd;
  state.counters["commit_us"] = r.commit_us_per_batch;
  state.counters["journal_B_cmd"] = r.journal_bytes_per_cmd;
  state.SetLabel(std::string(durability == ledger::Durability::none ? "none" : "full") +
                 (offered > 0 ? " offered " + std::to_string(static_cast<long>(offered)) + "/s" : " saturation"));
}

/// The single writer alone: one thread submits `batch` commands, runs one
/// core step (execute, commit, publish) and drains the events; the step's
/// thread CPU time gives the core's own cost per command, which the
/// machine's other load does not inflate (wall-clock runs above do).
void BM_CoreStep(benchmark::State& state) {
  const auto durability = state.range(0) == 0 ? ledger::Durability::none : ledger::Durability::full;
  const auto batch = static_cast<std::size_t>(state.range(1));
  const auto dir = bench_dir("core-step-");
  BenchClock clock;
  CoreOptions o = bench_options(dir, durability, &clock);
  o.max_batch = static_cast<std::uint32_t>(batch);
  auto core = Core::open(o);
  auto sub = core->subscribe(Audience::regulator, rules::kNone, 1u << 20);
  const auto stream = make_stream(0, 1'000'000, o.rules->find_party("E0"));
  std::vector<Event> events(1u << 16);
  std::size_t at = 0;
  double cpu_s = 0;
  std::uint64_t commands = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < batch; ++k) {
      core->submit(stream[at]);
      at = (at + 1) % stream.size();
    }
    timespec a{}, b{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    commands += core->step();
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    cpu_s += static_cast<double>(b.tv_sec - a.tv_sec) + static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e9;
    while (sub->poll(std::span<Event>(events)) > 0) {
    }
  }
  const auto stats = core->stats();
  state.counters["cmds_per_cpu_s"] = static_cast<double>(commands) / cpu_s;
  state.counters["exec_us_cmd"] = static_cast<double>(stats.execute_ns) / 1e3 / static_cast<double>(stats.commands);
  state.counters["commit_us_cmd"] = static_cast<double>(stats.commit_ns) / 1e3 / static_cast<double>(stats.commands);
  state.counters["publish_us_cmd"] = static_cast<double>(stats.publish_ns) / 1e3 / static_cast<double>(stats.commands);
  state.counters["trade_share"] = static_cast<double>(stats.trades) / static_cast<double>(stats.commands);
  state.SetLabel(durability == ledger::Durability::none ? "none" : "full");
  core.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CoreStep)->Args({0, 4096})->Args({1, 4096})->Iterations(150)->Unit(benchmark::kMillisecond);

// Args: durability (0 none, 1 full), offered commands/s (0: saturation), commands per producer.
BENCHMARK(BM_Core)
    ->Args({0, 0, 500'000})
    ->Args({1, 0, 500'000})
    ->Args({1, 50'000, 150'000})
    ->Args({0, 50'000, 150'000})
    ->Args({1, 100'000, 200'000})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
