// haihe sim — the market-design lab (issue 7): runs a scenario's agents on
// the real exchange core under one or more market designs and seeds, and
// writes runs.csv, summary.json and charts; or re-runs the order flow a data
// directory recorded under other designs.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "exchange/journal.h"
#include "ledger/audit.h"
#include "sim/metrics.h"
#include "sim/replay.h"
#include "sim/report.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;

constexpr const char* kUsage =
    "usage: haihe sim SCENARIO [--design D]... [--seeds A..B|A,B,C] [--strategy S]... [--out DIR]\n"
    "                 [--jobs N] [--no-charts] [--check] [--keep-data DIR]\n"
    "       haihe sim --replay DATA_DIR --design D [--design D]... [--out DIR] [--no-charts]\n"
    "       haihe sim --list\n";

constexpr const char* kHelp =
    "Runs the scenario's agents on the real exchange core (in process, durability\n"
    "none, simulated time) under each design and seed, and writes into DIR:\n"
    "  runs.csv       one row per run: every metric\n"
    "  summary.json   per design: mean, 95% confidence interval, sd, n of every metric\n"
    "  *.png          price paths (first seed), efficiency by design (and savings or\n"
    "                 compensation), drawn by gnuplot from the .dat/.gp files beside them\n"
    "Same scenario and seeds give byte-identical files.\n\n"
    "SCENARIO is a scenario file (sim/README.md) or the name of a built-in one\n"
    "(haihe sim --list); sim/scenarios/NAME.toml works from anywhere.\n\n"
    "Designs: continuous | batch:100ms (or batch:2s) | call (every call_every_min) | call:5m\n\n"
    "--replay re-runs the commands a data directory journaled, at their timestamps,\n"
    "under its own rules and under each --design, and writes replay.csv, replay.json\n"
    "and price charts: trades, volume, VWAP, spread, volatility, compensation paid.\n\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "haihe sim: %s\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

// Splits "a,b" and repeated options into one list.
std::vector<std::string> split_list(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    std::size_t start = 0;
    while (start <= s.size()) {
      const auto comma = s.find(',', start);
      const auto end = comma == std::string::npos ? s.size() : comma;
      if (end > start) out.push_back(s.substr(start, end - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

class ProgressBar {
 public:
  explicit ProgressBar(bool on) : on_(on) {}
  void update(std::size_t done, std::size_t total) {
    if (!on_ || total < 2) return;
    const int width = 40;
    const auto filled = static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total));
    std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu runs", filled, "########################################",
                 width - filled, "", done, total);
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool on_;
};

std::string num(double v, int decimals) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.{}f}", v, decimals);
}

void print_summary(const sim::Plan& plan, const sim::SweepResult& r) {
  const auto& R = *plan.treatments.front().rules;
  std::vector<std::pair<std::string, int>> keys = {{"efficiency", 4}};
  if (plan.has_firms) keys.push_back({"savings_share", 4});
  keys.push_back({"trades", 1});
  for (const auto i : plan.instruments) {
    const std::string& sym = R.instruments[i].symbol;
    for (const char* k : {"ce_price_fen", "vwap_fen", "price_rmse_fen", "mean_spread_fen", "volatility_pct",
                          "time_to_eq_s", "volume_qty"}) {
      keys.push_back({sym + "." + k, 2});
    }
  }
  for (const auto c : plan.cities) keys.push_back({"compensation." + R.parties[c].id + "_fen", 0});
  std::printf("%s: %zu seeds (%llu..%llu), mean [95%% CI]\n", plan.scenario.name.c_str(), r.seeds.size(),
              static_cast<unsigned long long>(r.seeds.front()), static_cast<unsigned long long>(r.seeds.back()));
  for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
    std::printf("  %s\n", plan.treatments[t].label.c_str());
    for (const auto& [key, decimals] : keys) {
      std::size_t m = 0;
      while (m < plan.metrics.size() && plan.metrics[m].key != key) ++m;
      if (m == plan.metrics.size()) continue;
      std::vector<double> xs;
      for (std::size_t s = 0; s < r.seeds.size(); ++s) xs.push_back(r.at(t, s).values[m]);
      const sim::Stat st = sim::summarize(xs);
      std::printf("    %-44s %14s  [%s, %s]\n", key.c_str(), num(st.mean, decimals).c_str(),
                  num(st.ci_lo, decimals).c_str(), num(st.ci_hi, decimals).c_str());
    }
  }
}

int run_replay(const po::variables_map& vm, const std::vector<sim::Design>& designs, const std::string& out) {
  const std::string data = vm["replay"].as<std::string>();
  std::string rules_text;
  std::vector<exchange::Command> commands;
  try {
    rules_text = ledger::audit::Reader::open(data).rules_text();
    exchange::read_commands(data, [&](const exchange::Command& c) { commands.push_back(c); });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe sim: %s: %s\n", data.c_str(), e.what());
    return kExitRejected;
  }
  try {
    const sim::ReplayResult r = sim::replay_designs(rules_text, data, commands, designs);
    sim::ReportOptions ro;
    ro.charts = !vm.count("no-charts");
    const auto files = sim::write_replay_report(r, out, ro);
    std::printf("%s: %llu commands re-run under %zu designs\n", data.c_str(),
                static_cast<unsigned long long>(r.commands), r.runs.size());
    std::printf("  %-40s", "metric");
    for (const auto& run : r.runs) std::printf(" %16s", run.label.c_str());
    std::printf("\n");
    for (std::size_t k = 0; k < r.metrics.size(); ++k) {
      std::printf("  %-40s", r.metrics[k].key.c_str());
      for (const auto& run : r.runs) std::printf(" %16s", num(run.values[k], 2).c_str());
      std::printf("\n");
    }
    for (const auto& w : files.warnings) std::fprintf(stderr, "haihe sim: warning: %s\n", w.c_str());
    std::printf("wrote %zu files to %s\n", files.files.size(), out.c_str());
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe sim: replay: %s\n", e.what());
    return kExitRejected;
  }
}

}  // namespace

int cmd_sim(Args args) {
  po::options_description opts("options");
  opts.add_options()("help,h", "show this help")(
      "design", po::value<std::vector<std::string>>(), "a design (repeat, or a comma list); overrides the scenario's")(
      "seeds", po::value<std::string>(), "seeds: A..B (inclusive) or A,B,C; overrides the scenario's")(
      "strategy", po::value<std::vector<std::string>>(), "zi-c and/or zi-u for the zi traders; overrides the scenario's")(
      "out", po::value<std::string>(), "output directory (default: sim-out/NAME)")(
      "jobs", po::value<unsigned>(), "worker threads (default: 2, at most the cores)")(
      "no-charts", "write the chart data and scripts but do not run gnuplot")(
      "check", "check the core's books against the ledger at the end of every run")(
      "keep-data", po::value<std::string>(), "keep the run's data directory here (one design, one seed): audit or replay it")(
      "replay", po::value<std::string>(), "re-run the order flow recorded in this data directory")(
      "list", "list the built-in scenarios");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  try {
    const std::vector<std::string> argv(args.begin() + 1, args.end());
    po::store(po::command_line_parser(argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  if (vm.count("help")) {
    std::cout << kUsage << "\n" << kHelp << opts;
    return kExitOk;
  }
  if (vm.count("list")) {
    for (const auto n : sim::builtin_scenario_names()) {
      const sim::Scenario s = sim::load_scenario(std::string(n));
      std::printf("%-16s %s\n", s.name.c_str(), s.title.c_str());
    }
    return kExitOk;
  }
  std::vector<sim::Design> designs;
  if (vm.count("design")) {
    for (const auto& d : split_list(vm["design"].as<std::vector<std::string>>())) {
      std::string err;
      const auto design = sim::parse_design(d, &err);
      if (!design) return usage_error(err);
      designs.push_back(*design);
    }
  }
  const std::vector<std::string> scenarios =
      vm.count("scenario") ? vm["scenario"].as<std::vector<std::string>>() : std::vector<std::string>{};

  if (vm.count("replay")) {
    if (!scenarios.empty()) return usage_error("--replay takes no SCENARIO");
    if (designs.empty()) return usage_error("--replay needs at least one --design to compare with the original");
    return run_replay(vm, designs, vm.count("out") ? vm["out"].as<std::string>() : "sim-out/replay");
  }
  if (scenarios.size() != 1) return usage_error("give one SCENARIO (a file or a built-in name; see --list)");

  sim::Scenario scenario;
  try {
    scenario = sim::load_scenario(scenarios.front());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe sim: %s\n", e.what());
    return kExitRejected;
  }
  std::vector<sim::Strategy> strategies;
  if (vm.count("strategy")) {
    for (const auto& s : split_list(vm["strategy"].as<std::vector<std::string>>())) {
      const auto st = sim::parse_strategy(s);
      if (!st) return usage_error(fmt::format("'{}' is not a strategy; allowed: zi-c, zi-u", s));
      strategies.push_back(*st);
    }
  }
  sim::SweepOptions so;
  so.seeds = scenario.seeds;
  if (vm.count("seeds")) {
    try {
      so.seeds = sim::parse_seeds(vm["seeds"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      return usage_error(fmt::format("--seeds: {}", e.what()));
    }
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  so.jobs = vm.count("jobs") ? vm["jobs"].as<unsigned>() : std::min(2u, cores);
  if (so.jobs == 0) return usage_error("--jobs must be at least 1");
  so.run.keep_price_paths = true;
  so.run.check_core = vm.count("check") > 0;
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "sim-out/" + scenario.name;

  try {
    const sim::Plan plan = sim::make_plan(scenario, designs, strategies);
    if (vm.count("keep-data")) {
      if (plan.treatments.size() * so.seeds.size() != 1) {
        return usage_error("--keep-data keeps one run: give one --design (and --strategy) and one seed");
      }
      so.run.keep_data_dir = vm["keep-data"].as<std::string>();
    }
    ProgressBar bar(isatty(STDERR_FILENO) != 0);
    so.progress = [&](std::size_t done, std::size_t total) { bar.update(done, total); };
    const sim::SweepResult r = sim::sweep(plan, so);
    sim::ReportOptions ro;
    ro.charts = !vm.count("no-charts");
    const auto files = sim::write_report(plan, r, out, ro);
    print_summary(plan, r);
    for (const auto& w : files.warnings) std::fprintf(stderr, "haihe sim: warning: %s\n", w.c_str());
    std::printf("wrote %zu files to %s\n", files.files.size(), out.c_str());
    std::fflush(stdout);
    std::fprintf(stderr,
                 "%zu runs, %llu commands in %.2f s wall on %u threads; summed over runs: core %.2f s, agents "
                 "%.2f s, setup %.2f s\n",
                 r.runs.size(), static_cast<unsigned long long>(r.total.commands), r.wall_s, so.jobs, r.total.core_s,
                 r.total.agents_s, r.total.setup_s);
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe sim: %s\n", e.what());
    return kExitRejected;
  }
}

}  // namespace haihe::app
