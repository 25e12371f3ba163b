// haihe::sim — reports.
#include "sim/report.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <set>

#include "sim/metrics.h"

namespace haihe::sim {

namespace {

void write_file(const std::filesystem::path& p, const std::string& text, ReportFiles& files) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", p.string()));
  out << text;
  out.close();
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", p.string()));
  files.files.push_back(p);
}

std::string strategy_name(const Treatment& t) { return t.strategy ? std::string(name_of(*t.strategy)) : ""; }

std::size_t metric_index(const Plan& plan, std::string_view key) {
  for (std::size_t k = 0; k < plan.metrics.size(); ++k) {
    if (plan.metrics[k].key == key) return k;
  }
  return plan.metrics.size();
}

Stat stat_of(const Plan& plan, const SweepResult& sweep, std::size_t treatment, std::size_t metric) {
  std::vector<double> xs;
  xs.reserve(sweep.seeds.size());
  for (std::size_t s = 0; s < sweep.seeds.size(); ++s) xs.push_back(sweep.at(treatment, s).values[metric]);
  (void)plan;
  return summarize(xs);
}

// A file name made of the symbol (letters, digits, '.', '-', '_' kept).
std::string file_safe(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

// A string in a gnuplot data file (double quotes; labels have none).
std::string dat_quote(std::string_view s) {
  std::string out(1, '"');
  out += s;
  out += '"';
  return out;
}

std::string gp_quote(std::string_view s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

constexpr const char* kTerminal =
    "set terminal pngcairo size 1000,560 font 'DejaVu Sans,10'\n"
    "set termoption noenhanced\n";

// A bar chart with 95% CI error bars of one metric across treatments.
void bar_chart(const Plan& plan, const SweepResult& sweep, std::size_t metric, const std::string& stem,
               const std::string& title, const std::string& ylabel, double scale, const std::filesystem::path& dir,
               const ReportOptions& options, ReportFiles& files) {
  std::string dat = "# treatment mean ci_lo ci_hi\n";
  bool any = false;
  for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
    const Stat s = stat_of(plan, sweep, t, metric);
    if (s.n == 0) continue;
    any = true;
    dat += fmt::format("{} {} {} {} {}\n", t, dat_quote(plan.treatments[t].label), format_number(s.mean * scale, "nan"),
                       format_number(s.ci_lo * scale, "nan"), format_number(s.ci_hi * scale, "nan"));
  }
  if (!any) return;
  write_file(dir / (stem + ".dat"), dat, files);
  std::string gp = kTerminal;
  gp += fmt::format("set output '{}.png'\n", stem);
  gp += fmt::format("set title {}\n", gp_quote(title));
  gp += fmt::format("set ylabel {}\n", gp_quote(ylabel));
  gp += "set style fill solid 0.5 border -1\nset boxwidth 0.6\nset grid ytics\nset xtics rotate by -20\n"
        "set yrange [*<0:*]\n"
        "set xrange [-0.7:" + std::to_string(plan.treatments.size()) + "-0.3]\n";
  gp += fmt::format("plot '{0}.dat' using 1:3:xtic(2) with boxes lc rgb '#4c72b0' notitle, \\\n"
                    "     '{0}.dat' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 7 ps 0.5 title 'mean, 95% CI'\n",
                    stem);
  write_file(dir / (stem + ".gp"), gp, files);
  if (options.charts) {
    if (auto err = run_gnuplot(options.gnuplot, dir, stem + ".gp"); !err.empty()) {
      files.warnings.push_back(err);
    } else {
      files.files.push_back(dir / (stem + ".png"));
    }
  }
}

}  // namespace

std::string format_number(double v, const char* nan_text) {
  if (std::isnan(v)) return nan_text;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == std::floor(v) && std::abs(v) < 9.0e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.6f}", v);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else out += c;
    }
  }
  return out + "\"";
}

std::string runs_csv(const Plan& plan, const SweepResult& sweep) {
  std::string out = "treatment,design,strategy,seed";
  for (const auto& m : plan.metrics) out += "," + m.key;
  out += "\n";
  for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
    const Treatment& tr = plan.treatments[t];
    for (std::size_t s = 0; s < sweep.seeds.size(); ++s) {
      const RunResult& r = sweep.at(t, s);
      out += fmt::format("{},{},{},{}", tr.label, tr.design.label(), strategy_name(tr), r.seed);
      for (const double v : r.values) {
        out += ',';
        out += format_number(v, "");
      }
      out += "\n";
    }
  }
  return out;
}

std::string summary_json(const Plan& plan, const SweepResult& sweep) {
  const Scenario& s = plan.scenario;
  std::string o = "{\n";
  o += fmt::format("  \"scenario\": {},\n", json_string(s.name));
  o += fmt::format("  \"title\": {},\n", json_string(s.title));
  o += fmt::format("  \"source\": {},\n", json_string(s.source));
  o += fmt::format("  \"actions_per_run\": {},\n  \"tick_ms\": {},\n  \"actions_per_tick\": {},\n", s.actions,
                   s.tick_ms, s.actions_per_tick);
  o += "  \"seeds\": [";
  for (std::size_t k = 0; k < sweep.seeds.size(); ++k) o += (k ? ", " : "") + std::to_string(sweep.seeds[k]);
  o += "],\n  \"metrics\": [\n";
  for (std::size_t k = 0; k < plan.metrics.size(); ++k) {
    o += fmt::format("    {{\"key\": {}, \"description\": {}}}{}\n", json_string(plan.metrics[k].key),
                     json_string(plan.metrics[k].description), k + 1 < plan.metrics.size() ? "," : "");
  }
  o += "  ],\n  \"treatments\": [\n";
  for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
    const Treatment& tr = plan.treatments[t];
    o += "    {\n";
    o += fmt::format("      \"label\": {},\n      \"design\": {},\n      \"strategy\": {},\n      \"runs\": {},\n",
                     json_string(tr.label), json_string(tr.design.label()),
                     tr.strategy ? json_string(name_of(*tr.strategy)) : "null", sweep.seeds.size());
    o += "      \"metrics\": {\n";
    for (std::size_t m = 0; m < plan.metrics.size(); ++m) {
      const Stat st = stat_of(plan, sweep, t, m);
      o += fmt::format("        {}: {{\"mean\": {}, \"ci95\": [{}, {}], \"sd\": {}, \"n\": {}}}{}\n",
                       json_string(plan.metrics[m].key), format_number(st.mean, "null"),
                       format_number(st.ci_lo, "null"), format_number(st.ci_hi, "null"),
                       format_number(st.sd, "null"), st.n, m + 1 < plan.metrics.size() ? "," : "");
    }
    o += "      }\n";
    o += fmt::format("    }}{}\n", t + 1 < plan.treatments.size() ? "," : "");
  }
  o += "  ]\n}\n";
  return o;
}

std::string run_gnuplot(const std::string& program, const std::filesystem::path& dir, const std::string& script) {
  const pid_t pid = fork();
  if (pid < 0) return "gnuplot: fork failed";
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    // Quiet: gnuplot's warnings (e.g. an empty data block) are not errors.
    std::FILE* devnull = std::fopen("/dev/null", "w");
    if (devnull != nullptr) dup2(fileno(devnull), STDERR_FILENO);
    execlp(program.c_str(), program.c_str(), script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return "gnuplot: waitpid failed";
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return fmt::format("{} not found: no PNG charts (install gnuplot-nox; the .gp scripts are written)", program);
  }
  return fmt::format("{} {} failed (status {}) in {}", program, script, status, dir.string());
}

ReportFiles write_report(const Plan& plan, const SweepResult& sweep, const std::filesystem::path& out_dir,
                         const ReportOptions& options) {
  ReportFiles files;
  std::filesystem::create_directories(out_dir);
  write_file(out_dir / "runs.csv", runs_csv(plan, sweep), files);
  write_file(out_dir / "summary.json", summary_json(plan, sweep), files);

  // Price paths of the first seed, per instrument.
  const auto& R = *plan.treatments.front().rules;
  for (std::size_t j = 0; j < plan.instruments.size(); ++j) {
    const std::string& sym = R.instruments[plan.instruments[j]].symbol;
    const std::string stem = "price_" + file_safe(sym);
    std::string dat;
    std::string plots;
    std::size_t block = 0;
    for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
      const RunResult& r = sweep.at(t, 0);
      if (r.price_paths.size() <= j || r.price_paths[j].empty()) continue;
      dat += fmt::format("# {} seed {}\n", plan.treatments[t].label, r.seed);
      for (const auto& p : r.price_paths[j]) dat += fmt::format("{:.3f} {}\n", p.t_s, p.price_fen);
      dat += "\n\n";
      plots += fmt::format("{}'{}.dat' index {} using 1:2 with linespoints pt 7 ps 0.35 lw 1 title {}",
                           plots.empty() ? "" : ", \\\n     ", stem, block++, gp_quote(plan.treatments[t].label));
    }
    if (block == 0) continue;
    const double ce = sweep.at(0, 0).ce_price_fen.at(j);
    write_file(out_dir / (stem + ".dat"), dat, files);
    std::string gp = kTerminal;
    gp += fmt::format("set output '{}.png'\n", stem);
    gp += fmt::format("set title {}\n",
                      gp_quote(fmt::format("{}: trade prices, seed {} (dashed: competitive equilibrium {})", sym,
                                           sweep.seeds.front(), format_number(ce, "none"))));
    gp += fmt::format("set xlabel 'simulated time (s)'\nset ylabel {}\nset grid\nset key outside right top\n",
                      gp_quote(fmt::format("price (fen per {})", R.instruments[plan.instruments[j]].unit)));
    gp += "plot " + plots + fmt::format(", \\\n     {} with lines dt 2 lw 2 lc rgb 'black' title 'equilibrium'\n",
                                        format_number(ce, "0"));
    write_file(out_dir / (stem + ".gp"), gp, files);
    if (options.charts) {
      if (auto err = run_gnuplot(options.gnuplot, out_dir, stem + ".gp"); !err.empty()) {
        files.warnings.push_back(err);
      } else {
        files.files.push_back(out_dir / (stem + ".png"));
      }
    }
  }

  bar_chart(plan, sweep, metric_index(plan, "efficiency"), "efficiency",
            fmt::format("{}: allocative efficiency by design ({} seeds)", plan.scenario.name, sweep.seeds.size()),
            "realised / maximum surplus", 1.0, out_dir, options, files);
  if (plan.has_firms) {
    bar_chart(plan, sweep, metric_index(plan, "savings_share"), "savings",
              fmt::format("{}: share of potential abatement savings realised ({} seeds)", plan.scenario.name,
                          sweep.seeds.size()),
              "(no-trade cost - cost) / (no-trade cost - least cost)", 1.0, out_dir, options, files);
  }
  if (!plan.cities.empty()) {
    // Mean compensation per city (rows) and treatment (columns), in yuan.
    std::string dat = "# city";
    for (const auto& t : plan.treatments) {
      dat += ' ';
      dat += dat_quote(t.label);
    }
    dat += "\n";
    for (const auto c : plan.cities) {
      const std::size_t m = metric_index(plan, fmt::format("compensation.{}_fen", R.parties[c].id));
      dat += dat_quote(R.parties[c].id);
      for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
        dat += ' ';
        dat += format_number(stat_of(plan, sweep, t, m).mean / 100.0, "0");
      }
      dat += "\n";
    }
    write_file(out_dir / "compensation.dat", dat, files);
    std::string gp = kTerminal;
    gp += "set output 'compensation.png'\n";
    gp += fmt::format("set title {}\n", gp_quote(fmt::format("{}: ecological compensation paid to upstream cities "
                                                             "(mean over {} seeds)", plan.scenario.name,
                                                             sweep.seeds.size())));
    gp += "set ylabel 'yuan'\nset style data histograms\nset style histogram clustered gap 1\n"
          "set style fill solid 0.6 border -1\nset grid ytics\nset key outside right top\nset yrange [0:*]\n";
    gp += "plot ";
    for (std::size_t t = 0; t < plan.treatments.size(); ++t) {
      gp += fmt::format("{}'compensation.dat' using {}{} title {}", t ? ", \\\n     " : "", t + 2,
                        t == 0 ? ":xtic(1)" : "", gp_quote(plan.treatments[t].label));
    }
    gp += "\n";
    write_file(out_dir / "compensation.gp", gp, files);
    if (options.charts) {
      if (auto err = run_gnuplot(options.gnuplot, out_dir, "compensation.gp"); !err.empty()) {
        files.warnings.push_back(err);
      } else {
        files.files.push_back(out_dir / "compensation.png");
      }
    }
  }
  return files;
}

}  // namespace haihe::sim
