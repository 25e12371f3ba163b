// haihe::sim — replaying recorded order flow under other designs.
#include "sim/replay.h"

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "sim/metrics.h"

namespace haihe::sim {

using exchange::Audience;
using exchange::Command;
using exchange::CommandKind;
using exchange::Event;
using exchange::EventKind;

namespace {

constexpr exchange::OrderId kNoSuchOrder = std::numeric_limits<exchange::OrderId>::max();

bool names_order(const Command& c) {
  return (c.kind == CommandKind::cancel || c.kind == CommandKind::replace || c.kind == CommandKind::order_status) &&
         c.order_id != 0;
}

ReplayRun run_flow(const ReplayResult& shape, const std::string& rules_text,
                   std::shared_ptr<const rules::MarketRules> rules, std::span<const Command> commands,
                   std::vector<Command>* rewritten, const std::filesystem::path& scratch) {
  const auto t_start = std::chrono::steady_clock::now();
  ReplayRun run;
  TempDir dir(scratch);
  exchange::ManualClock clock(shape.first_ts_ns);
  exchange::CoreOptions co;
  co.data_dir = dir.path() / "ledger";
  co.rules = rules;
  co.rules_text = rules_text;
  co.durability = ledger::Durability::none;
  co.clock = &clock;
  auto core = exchange::Core::open(co);
  auto sub = core->subscribe(Audience::regulator, rules::kNone, 1u << 16);
  MarketObserver market(*rules);
  std::map<exchange::OrderId, exchange::ClOrdId> cl_of;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint64_t cancel_rejected = 0;
  std::vector<Event> events(4096);
  const auto drain = [&] {
    for (;;) {
      const std::size_t n = sub->poll(std::span<Event>(events));
      for (std::size_t k = 0; k < n; ++k) {
        const Event& e = events[k];
        if (e.audience != Audience::party) {
          market.on_event(e);
          continue;
        }
        switch (e.kind) {
          case EventKind::order_accepted:
            ++accepted;
            cl_of[e.order_id] = e.cl_ord_id;
            break;
          case EventKind::order_replaced: cl_of[e.order_id] = e.cl_ord_id; break;
          case EventKind::order_rejected: ++rejected; break;
          case EventKind::cancel_rejected: ++cancel_rejected; break;
          default: break;
        }
      }
      if (n < events.size()) break;
    }
    if (sub->cut_off()) throw std::runtime_error("sim replay: the event subscription was cut off: " + sub->cut_off_reason());
  };
  const auto step_all = [&] {
    while (core->step() > 0) ++run.timing.steps;
  };

  std::size_t i = 0;
  while (i < commands.size()) {
    const exchange::TimestampNs ts = commands[i].ts_ns;
    clock.set(std::max(ts, clock.now_ns()));
    for (; i < commands.size() && commands[i].ts_ns == ts; ++i) {
      Command c = commands[i];
      if (rewritten != nullptr) {
        Command r = c;
        if (names_order(c)) {
          const auto it = cl_of.find(c.order_id);
          r.order_id = it != cl_of.end() ? 0 : kNoSuchOrder;
          if (it != cl_of.end()) r.orig_cl_ord_id = it->second;
        }
        rewritten->push_back(r);
      }
      for (;;) {
        const auto res = core->submit(c);
        if (res == exchange::SubmitResult::ok) break;
        if (res != exchange::SubmitResult::busy) {
          throw std::runtime_error(fmt::format("sim replay: submit answered {}", exchange::to_string(res)));
        }
        step_all();
        drain();
      }
      ++run.timing.commands;
    }
    step_all();
    drain();
    market.sample();
  }
  if (const auto f = core->failure(); !f.empty()) throw std::runtime_error("sim replay: the core failed: " + f);

  auto& v = run.values;
  std::uint64_t trades = 0;
  Qty volume = 0;
  for (const auto in : shape.instruments) {
    trades += market.book(in).trades.size();
    for (const auto& t : market.book(in).trades) volume += t.qty;
  }
  v.push_back(static_cast<double>(trades));
  v.push_back(static_cast<double>(volume));
  v.push_back(static_cast<double>(accepted));
  v.push_back(static_cast<double>(rejected));
  v.push_back(static_cast<double>(cancel_rejected));
  for (const auto c : shape.cities) v.push_back(static_cast<double>(market.compensation_fen()[c]));
  run.price_paths.resize(shape.instruments.size());
  for (std::size_t j = 0; j < shape.instruments.size(); ++j) {
    const auto& b = market.book(shape.instruments[j]);
    Qty vol = 0;
    for (const auto& t : b.trades) vol += t.qty;
    v.push_back(static_cast<double>(b.trades.size()));
    v.push_back(static_cast<double>(vol));
    v.push_back(vwap_fen(b.trades));
    v.push_back(mean_spread_fen(b));
    v.push_back(volatility_pct(b.trades));
    v.push_back(b.trades.empty() ? std::numeric_limits<double>::quiet_NaN()
                                 : static_cast<double>(b.trades.back().price_fen));
    for (const auto& t : b.trades) {
      run.price_paths[j].push_back(PricePoint{static_cast<double>(t.ts_ns - shape.first_ts_ns) / 1e9, t.price_fen});
    }
  }
  if (v.size() != shape.metrics.size()) throw std::logic_error("sim replay: metric count mismatch");
  core.reset();
  run.timing.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return run;
}

}  // namespace

ReplayResult replay_designs(std::string_view rules_text, std::string_view rules_name,
                            std::span<const Command> commands_in, const std::vector<Design>& designs,
                            const std::filesystem::path& scratch_dir) {
  const std::string text(rules_text);
  auto rules = rules::load_rules_text(text, rules_name);
  ReplayResult r;
  r.rules_name = std::string(rules_name);
  std::vector<Command> commands;
  commands.reserve(commands_in.size());
  std::set<rules::InstrumentIndex> touched;
  for (const Command& c : commands_in) {
    if (c.kind == CommandKind::schedule || c.kind == CommandKind::uncross) continue;
    commands.push_back(c);
    if (c.instrument < rules->instruments.size() &&
        (c.kind == CommandKind::new_order || c.kind == CommandKind::replace)) {
      touched.insert(c.instrument);
    }
  }
  if (commands.empty()) throw std::runtime_error("sim replay: the journal holds no participant or admin commands");
  for (std::size_t k = 1; k < commands.size(); ++k) {
    if (commands[k].ts_ns < commands[k - 1].ts_ns) {
      throw std::runtime_error("sim replay: the commands are not in time order");
    }
  }
  r.commands = commands.size();
  r.first_ts_ns = commands.front().ts_ns;
  r.instruments.assign(touched.begin(), touched.end());
  for (const auto i : r.instruments) r.symbols.push_back(rules->instruments[i].symbol);
  std::set<rules::PartyIndex> cities;
  for (const auto& c : rules->compensation) cities.insert(c.beneficiary);
  r.cities.assign(cities.begin(), cities.end());
  auto& m = r.metrics;
  m.push_back({"trades", "trades (all instruments)"});
  m.push_back({"volume_qty", "quantity traded, base units"});
  m.push_back({"orders_accepted", "orders accepted"});
  m.push_back({"orders_rejected", "orders refused"});
  m.push_back({"cancels_rejected", "cancels and replaces refused"});
  for (const auto c : r.cities) {
    m.push_back({fmt::format("compensation.{}_fen", rules->parties[c].id),
                 fmt::format("ecological compensation paid to {}, fen", rules->parties[c].id)});
  }
  for (const auto i : r.instruments) {
    const std::string& sym = rules->instruments[i].symbol;
    m.push_back({sym + ".trades", "trades"});
    m.push_back({sym + ".volume_qty", "quantity traded, base units"});
    m.push_back({sym + ".vwap_fen", "volume-weighted average price, fen per unit"});
    m.push_back({sym + ".mean_spread_fen", "mean best ask - best bid after each step, fen"});
    m.push_back({sym + ".volatility_pct", "standard deviation of trade-to-trade log returns, %"});
    m.push_back({sym + ".last_price_fen", "last trade price, fen per unit"});
  }

  std::vector<Command> rewritten;
  rewritten.reserve(commands.size());
  r.runs.push_back(run_flow(r, text, rules, commands, &rewritten, scratch_dir));
  r.runs.back().label = "original";
  for (Design d : designs) {
    if (d.mode == rules::TradingMode::call && d.call_every_min == 0) d.call_every_min = 1;
    const std::string dtext = apply_design(text, d, rules_name);
    auto drules = rules::load_rules_text(dtext, rules_name);
    r.runs.push_back(run_flow(r, dtext, drules, rewritten, nullptr, scratch_dir));
    r.runs.back().label = d.label();
  }
  return r;
}

ReportFiles write_replay_report(const ReplayResult& r, const std::filesystem::path& out_dir,
                                const ReportOptions& options) {
  ReportFiles files;
  std::filesystem::create_directories(out_dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream out(out_dir / name, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", (out_dir / name).string()));
    files.files.push_back(out_dir / name);
  };
  std::string csv = "metric";
  for (const auto& run : r.runs) csv += "," + run.label;
  csv += "\n";
  for (std::size_t k = 0; k < r.metrics.size(); ++k) {
    csv += r.metrics[k].key;
    for (const auto& run : r.runs) {
      csv += ',';
      csv += format_number(run.values[k], "");
    }
    csv += "\n";
  }
  write("replay.csv", csv);

  std::string js = "{\n";
  js += fmt::format("  \"rules\": {},\n  \"commands\": {},\n  \"first_ts_ns\": {},\n  \"runs\": [\n",
                    json_string(r.rules_name), r.commands, r.first_ts_ns);
  for (std::size_t k = 0; k < r.runs.size(); ++k) {
    js += fmt::format("    {{\n      \"label\": {},\n      \"metrics\": {{\n", json_string(r.runs[k].label));
    for (std::size_t m = 0; m < r.metrics.size(); ++m) {
      js += fmt::format("        {}: {}{}\n", json_string(r.metrics[m].key), format_number(r.runs[k].values[m], "null"),
                        m + 1 < r.metrics.size() ? "," : "");
    }
    js += fmt::format("      }}\n    }}{}\n", k + 1 < r.runs.size() ? "," : "");
  }
  js += "  ]\n}\n";
  write("replay.json", js);

  // Price paths, one chart per instrument, every run on it.
  for (std::size_t j = 0; j < r.instruments.size(); ++j) {
    std::string stem = "replay_price_";
    for (const char c : r.symbols[j]) stem += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
    std::string dat;
    std::string plots;
    std::size_t block = 0;
    for (const auto& run : r.runs) {
      if (run.price_paths[j].empty()) continue;
      dat += fmt::format("# {}\n", run.label);
      for (const auto& p : run.price_paths[j]) dat += fmt::format("{:.3f} {}\n", p.t_s / 3600.0, p.price_fen);
      dat += "\n\n";
      plots += fmt::format("{}'{}.dat' index {} using 1:2 with linespoints pt 7 ps 0.35 title '{}'",
                           plots.empty() ? "" : ", \\\n     ", stem, block++, run.label);
    }
    if (block == 0) continue;
    write(stem + ".dat", dat);
    std::string gp =
        "set terminal pngcairo size 1000,560 font 'DejaVu Sans,10'\nset termoption noenhanced\n";
    gp += fmt::format("set output '{}.png'\nset title '{}: trade prices, recorded order flow by design'\n", stem,
                      r.symbols[j]);
    gp += "set xlabel 'hours after the first command'\nset ylabel 'price (fen per unit)'\nset grid\n"
          "set key outside right top\n";
    gp += "plot " + plots + "\n";
    write(stem + ".gp", gp);
    if (options.charts) {
      if (auto err = run_gnuplot(options.gnuplot, out_dir, stem + ".gp"); !err.empty()) {
        files.warnings.push_back(err);
      } else {
        files.files.push_back(out_dir / (stem + ".png"));
      }
    }
  }
  return files;
}

}  // namespace haihe::sim
