// haihe::sim — re-running recorded order flow under other designs.
//
// Takes the commands a real exchange journaled (exchange::read_commands on
// its data directory) and its rules, and re-executes the same order flow,
// at the same timestamps, on fresh in-process cores: once under the rules
// as recorded ("original") and once per design asked for. It reports side
// by side what needs no private values: trades, volume, VWAP, mean spread,
// volatility, price paths and the compensation paid to each city.
//
// Commands are submitted in journal order, those with one timestamp as one
// core step; the core re-injects the trading-day schedule itself (journaled
// schedule and uncross commands are skipped). A cancel, replace or status
// request that named its order by exchange order id is re-addressed by the
// order's ClOrdID at that moment (learned from the original re-run), since
// order ids need not match under another design. Known limits: a journal
// whose rules were amended is re-run under the last rules from the start;
// the data directory's genesis holdings and cash are the rules'.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "exchange/core.h"
#include "sim/design.h"
#include "sim/report.h"
#include "sim/runner.h"

namespace haihe::sim {

struct ReplayRun {
  std::string label;           // "original" or the design's label
  std::vector<double> values;  // aligned with ReplayResult::metrics
  std::vector<std::vector<PricePoint>> price_paths;  // per ReplayResult::instruments
  RunTiming timing;
};

struct ReplayResult {
  std::string rules_name;
  std::uint64_t commands = 0;                       // commands re-submitted per run
  exchange::TimestampNs first_ts_ns = 0;            // the first command's stamp
  std::vector<rules::InstrumentIndex> instruments;  // instruments the flow touches
  std::vector<std::string> symbols;                 // their symbols
  std::vector<rules::PartyIndex> cities;            // compensation beneficiaries
  std::vector<MetricDef> metrics;
  std::vector<ReplayRun> runs;                      // [0] original, then the designs
};

/// Re-runs `commands` (in order) under the rules as given and under each
/// design. Throws on a failed core or inconsistent input.
ReplayResult replay_designs(std::string_view rules_text, std::string_view rules_name,
                            std::span<const exchange::Command> commands, const std::vector<Design>& designs,
                            const std::filesystem::path& scratch_dir = {});

/// replay.csv (a row per metric, a column per run), replay.json and a price
/// chart per instrument.
ReportFiles write_replay_report(const ReplayResult& r, const std::filesystem::path& out_dir,
                                const ReportOptions& options = {});

}  // namespace haihe::sim
