// sim_bench — the market-design lab's speed (Google Benchmark, fixed seeds).
//
//   BM_SimRun       one run of sim/scenarios/zi_100.toml (100 ZI-C traders,
//                   10,000 orders) on the real core at durability none; the
//                   counters split the time into the core (submit, step,
//                   events), the agents (decisions, event handling) and the
//                   setup (Core::open on a fresh ledger, genesis, agents).
//   BM_SimSweep     the target: 1,000 seeds of that run on 2 worker
//                   threads (each run its own Core and directory), in wall
//                   seconds (target: under 60 s on 2 cores).
//   BM_CoreOpen     Core::open + first step + close on a fresh temporary
//                   directory: the per-run setup floor, with the queue and
//                   subscription sized as run_one sizes them (/0) and with
//                   CoreOptions' defaults (/1).
//
//   sim_bench --benchmark_filter=BM_SimRun
//   sim_bench --benchmark_filter=BM_SimSweep     (about 30 s)
#include <benchmark/benchmark.h>

#include "sim/runner.h"
#include "sim/scenario.h"

namespace {

using namespace haihe;

const sim::Plan& zi100() {
  static const sim::Plan plan = sim::make_plan(sim::load_scenario("zi_100"));
  return plan;
}

void BM_SimRun(benchmark::State& state) {
  const sim::Plan& plan = zi100();
  std::uint64_t seed = 1;
  sim::RunTiming total;
  for (auto _ : state) {
    const sim::RunResult r = sim::run_one(plan, 0, seed++, {});
    benchmark::DoNotOptimize(r.values.data());
    total.core_s += r.timing.core_s;
    total.agents_s += r.timing.agents_s;
    total.setup_s += r.timing.setup_s;
    total.commands += r.timing.commands;
    total.steps += r.timing.steps;
  }
  const auto runs = static_cast<double>(state.iterations());
  const auto commands = static_cast<double>(total.commands);
  state.counters["orders_per_run"] = commands / runs;
  state.counters["orders_per_s"] = benchmark::Counter(commands, benchmark::Counter::kIsRate);
  state.counters["core_us_per_order"] = 1e6 * total.core_s / commands;
  state.counters["agents_us_per_order"] = 1e6 * total.agents_s / commands;
  state.counters["setup_ms_per_run"] = 1e3 * total.setup_s / runs;
  state.counters["steps_per_run"] = static_cast<double>(total.steps) / runs;
}
BENCHMARK(BM_SimRun)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_SimSweep(benchmark::State& state) {
  const sim::Plan& plan = zi100();
  sim::SweepOptions o;
  for (std::uint64_t s = 1; s <= static_cast<std::uint64_t>(state.range(0)); ++s) o.seeds.push_back(s);
  o.jobs = 2;
  sim::SweepResult r;
  for (auto _ : state) {
    r = sim::sweep(plan, o);
    benchmark::DoNotOptimize(r.runs.data());
  }
  state.counters["runs"] = static_cast<double>(r.runs.size());
  state.counters["wall_s"] = r.wall_s;
  state.counters["orders"] = static_cast<double>(r.total.commands);
  state.counters["core_s"] = r.total.core_s;
  state.counters["agents_s"] = r.total.agents_s;
  state.counters["setup_s"] = r.total.setup_s;
}
BENCHMARK(BM_SimSweep)->Arg(1000)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_CoreOpen(benchmark::State& state) {
  const sim::Plan& plan = zi100();
  const auto& t = plan.treatments.front();
  for (auto _ : state) {
    sim::TempDir dir({});
    exchange::ManualClock clock(plan.start_ns);
    exchange::CoreOptions co;
    co.data_dir = dir.path() / "ledger";
    co.rules = t.rules;
    co.rules_text = t.rules_text;
    co.durability = ledger::Durability::none;
    co.clock = &clock;
    const bool defaults = state.range(0) == 1;
    if (!defaults) {  // as run_one sizes them for zi_100
      co.max_orders_per_book = 1024;
      co.queue_capacity = 104;
    }
    auto core = exchange::Core::open(co);
    auto sub = core->subscribe(exchange::Audience::regulator, rules::kNone, defaults ? 1u << 16 : 4096);
    core->step();
    benchmark::DoNotOptimize(core.get());
  }
  state.SetLabel(state.range(0) == 1 ? "CoreOptions defaults" : "sized like run_one");
}
BENCHMARK(BM_CoreOpen)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
