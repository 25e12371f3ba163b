// haihe::sim — reports: runs.csv, summary.json and PNG charts.
//
// Everything written is a function of the sweep's results, formatted with
// fixed precision, so the same scenario and seeds give byte-identical files.
// Charts are drawn by gnuplot (Debian package gnuplot-nox), run as a child
// process on the data and script files written next to them (kept, so a
// chart can be re-drawn or restyled); its pngcairo output carries no
// timestamp, so it is deterministic for a given gnuplot and font set.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sim/runner.h"

namespace haihe::sim {

struct ReportOptions {
  bool charts = true;              // write .dat/.gp files and run gnuplot
  std::string gnuplot = "gnuplot"; // the program (looked up in PATH)
};

/// What was written, and anything that went wrong with the charts.
struct ReportFiles {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> warnings;  // e.g. gnuplot missing: the PNGs are absent
};

/// One row per run: treatment, design, strategy, seed, then Plan::metrics.
std::string runs_csv(const Plan& plan, const SweepResult& sweep);
/// Per treatment and metric: mean, 95% CI, sd, n.
std::string summary_json(const Plan& plan, const SweepResult& sweep);

/// Writes runs.csv, summary.json and the charts into out_dir (created).
ReportFiles write_report(const Plan& plan, const SweepResult& sweep, const std::filesystem::path& out_dir,
                         const ReportOptions& options = {});

/// A number as the reports write it: integers without decimals, others
/// with 6 decimals, NaN as `nan_text`.
std::string format_number(double v, const char* nan_text);
/// A JSON string literal.
std::string json_string(std::string_view s);

/// Runs `gnuplot script` in `dir`; empty on success, else what failed.
std::string run_gnuplot(const std::string& program, const std::filesystem::path& dir, const std::string& script);

}  // namespace haihe::sim
