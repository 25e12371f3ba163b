// haihe::sim — running a scenario: one run, and sweeps over designs and seeds.
//
// A run drives the real exchange core in process: Core::open on a fresh
// ledger in a temporary directory at Durability::none, a ManualClock for
// simulated time, the trading-day schedule on, and no core thread: every
// tick of simulated time the scheduler picks `actions_per_tick` distinct
// agents at random, they append their commands, the runner submits them
// and calls Core::step() (one ledger batch), then hands every event of the
// one regulator subscription (a drop copy: every event) to the market
// observer and each party's execution events to its agent. Everything is a
// function of (scenario, treatment, seed): a run never reads a real clock
// to decide anything (timings are measured, never used).
//
// A sweep runs treatments x seeds on `jobs` worker threads, each run with
// its own Core and directory, and returns the results in (treatment, seed)
// order whatever the threads did.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exchange/core.h"
#include "sim/design.h"
#include "sim/scenario.h"

namespace haihe::sim {

/// One column of runs.csv / one entry of summary.json.
struct MetricDef {
  std::string key;          // e.g. "efficiency", "GS.UNIT.price_rmse_fen", "compensation.CHENGDE_GOV_fen"
  std::string description;  // what it is, with its unit
};

/// One design (and ZI strategy) the scenario is run under.
struct Treatment {
  Design design;                     // call interval resolved
  std::optional<Strategy> strategy;  // overrides every zi agent's strategy
  std::string label;                 // "continuous", "batch:100ms/zi-u"
  std::string rules_text;            // the rules with the design applied
  std::shared_ptr<const rules::MarketRules> rules;
};

struct Plan {
  Scenario scenario;
  std::vector<Treatment> treatments;
  std::vector<MetricDef> metrics;
  std::vector<rules::InstrumentIndex> instruments;  // traded by agents, ascending
  std::vector<rules::PartyIndex> cities;            // compensation beneficiaries, ascending
  bool has_firms = false;
  std::uint64_t ticks = 0;                  // core steps with agent actions per run
  exchange::TimestampNs start_ns = 0;       // the session's start on the scenario's date
};

/// Checks the scenario fits its trading day and builds every treatment's
/// rules. Empty `designs` / `strategies`: the scenario's. Throws
/// ScenarioError or rules::RulesLoadError.
Plan make_plan(const Scenario& s, const std::vector<Design>& designs = {},
               const std::vector<Strategy>& strategies = {});

struct PricePoint {
  double t_s = 0;  // simulated seconds from the start
  Fen price_fen = 0;
};

struct RunTiming {
  double setup_s = 0;   // Core::open, genesis, agents
  double core_s = 0;    // submit + step + taking the events from the subscription
  double agents_s = 0;  // decisions, event handling, the market observer
  double total_s = 0;
  std::uint64_t commands = 0;
  std::uint64_t steps = 0;
};

struct RunResult {
  std::size_t treatment = 0;
  std::uint64_t seed = 0;
  std::vector<double> values;                        // aligned with Plan::metrics
  std::vector<std::vector<PricePoint>> price_paths;  // per Plan::instruments, when kept
  std::vector<double> ce_price_fen;                  // per Plan::instruments
  RunTiming timing;
};

/// Where runs create their throwaway ledgers: $HAIHE_SIM_SCRATCH, else
/// /dev/shm (memory) when writable, else the system's temporary directory.
std::filesystem::path default_scratch_dir();

struct RunOptions {
  std::filesystem::path scratch_dir;  // empty: default_scratch_dir()
  /// Non-empty: the run's ledger is created here (must hold none) and kept
  /// (e.g. to audit it or replay its journal); else a temporary directory.
  std::filesystem::path keep_data_dir;
  bool keep_price_paths = false;
  bool check_core = false;            // Core::check() at the end (O(state))
};

/// One run. Throws on any inconsistency (an agent's holdings differing from
/// the ledger's, a cut-off subscription, a failed core).
RunResult run_one(const Plan& plan, std::size_t treatment, std::uint64_t seed, const RunOptions& options);

struct SweepOptions {
  std::vector<std::uint64_t> seeds;
  unsigned jobs = 2;
  RunOptions run;  // keep_price_paths applies to the first seed of each treatment
  /// Called (from worker threads, serialised) after each run: done, total.
  std::function<void(std::size_t, std::size_t)> progress;
};

struct SweepResult {
  std::vector<std::uint64_t> seeds;
  std::vector<RunResult> runs;  // treatment-major, seeds in the given order
  RunTiming total;              // summed over runs
  double wall_s = 0;
  const RunResult& at(std::size_t treatment, std::size_t seed_index) const {
    return runs[treatment * seeds.size() + seed_index];
  }
};

SweepResult sweep(const Plan& plan, const SweepOptions& options);

/// The directory a run's ledger lives in, removed when destroyed.
class TempDir {
 public:
  explicit TempDir(const std::filesystem::path& parent);  // empty: default_scratch_dir()
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace haihe::sim
