// haihe::sim — runs and sweeps.
#include "sim/runner.h"

#include <fmt/format.h>
#include <stdlib.h>  // mkdtemp, getenv
#include <unistd.h>  // access

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "sim/agents.h"
#include "sim/metrics.h"
#include "sim/rng.h"
#include "sim/valuation.h"

namespace haihe::sim {

__extension__ typedef __int128 i128;

using exchange::Audience;
using exchange::Core;
using exchange::CoreOptions;
using exchange::Event;
using exchange::TimestampNs;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t kMsNs = 1'000'000;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

double ratio(double num, double den) { return den != 0 ? num / den : kNaN; }

/// What one lot bought by `party` delivers (conveyance loss), in base units.
Qty delivered_per_lot(const rules::MarketRules& r, rules::PartyIndex party, rules::InstrumentIndex i) {
  const rules::Instrument& in = r.instruments[i];
  const Qty lot = in.lot_qty;
  if (in.kind != rules::InstrumentKind::water || in.zone == rules::kNone) return lot;
  const rules::RegionIndex region = r.parties[party].region;
  if (region == rules::kNone || region == r.zones[in.zone].region) return lot;
  const rules::TransferRule* t = r.transfer(in.zone, region);
  if (t == nullptr) return 0;
  return static_cast<Qty>(static_cast<i128>(lot) * t->num / t->den);
}

struct SetupAgent {
  const AgentSpec* spec = nullptr;
  rules::PartyIndex party = rules::kNone;
  rules::InstrumentIndex instrument = rules::kNone;
};

}  // namespace

// ------------------------------------------------------------------- TempDir

std::filesystem::path default_scratch_dir() {
  if (const char* env = std::getenv("HAIHE_SIM_SCRATCH"); env != nullptr && *env != '\0') return env;
  // A run's ledger is thrown away: keep it in memory when we can.
  if (access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

TempDir::TempDir(const std::filesystem::path& parent) {
  const std::filesystem::path base = parent.empty() ? default_scratch_dir() : parent;
  std::filesystem::create_directories(base);
  std::string tmpl = (base / "haihe-sim-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error(fmt::format("cannot create a temporary directory in {}", base.string()));
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// ---------------------------------------------------------------------- plan

Plan make_plan(const Scenario& s, const std::vector<Design>& designs_in, const std::vector<Strategy>& strategies_in) {
  Plan plan;
  plan.scenario = s;
  const std::string market = market_rules_text(s);
  const auto base = rules::load_rules_text(market, s.source + " [rules]");
  const std::vector<Design>& designs = designs_in.empty() ? s.designs : designs_in;
  const std::vector<Strategy>& strategies = strategies_in.empty() ? s.strategies : strategies_in;
  if (designs.empty()) throw ScenarioError(s.source + ": no designs to run");

  // Instruments traded, their sessions, and the run's length.
  std::set<rules::InstrumentIndex> traded;
  for (const AgentSpec& a : s.agents) {
    const auto i = base->find_instrument(a.instrument);
    const auto p = base->find_party(a.party);
    if (i == rules::kNone || p == rules::kNone) {
      throw ScenarioError(fmt::format("{}: agent {}: party or instrument missing from the rules", s.source, a.party));
    }
    if (!base->may_trade(p, i)) {
      throw ScenarioError(fmt::format("{}: agent {}: party {} may not trade {} under the rules (may_trade)", s.source,
                                      a.party, a.party, a.instrument));
    }
    traded.insert(i);
    if (a.kind == AgentKind::emission_firm) plan.has_firms = true;
  }
  plan.instruments.assign(traded.begin(), traded.end());
  const rules::Instrument& first = base->instruments[plan.instruments.front()];
  if (first.day.sessions.empty()) throw ScenarioError(fmt::format("{}: {} has no trading session", s.source, first.symbol));
  const rules::Session session = first.day.sessions.front();
  for (const auto i : plan.instruments) {
    const auto& in = base->instruments[i];
    if (in.day.sessions.empty() || in.day.sessions.front().start_min != session.start_min) {
      throw ScenarioError(fmt::format("{}: every traded instrument must open its first session at the same time "
                                      "({} differs from {})", s.source, in.symbol, first.symbol));
    }
  }
  plan.ticks = (s.actions + s.actions_per_tick - 1) / s.actions_per_tick;
  const std::uint64_t run_ms = plan.ticks * s.tick_ms;
  const std::uint64_t session_ms = static_cast<std::uint64_t>(session.end_min - session.start_min) * 60'000;
  if (run_ms >= session_ms) {
    throw ScenarioError(fmt::format(
        "{}: a run lasts {} ticks x {} ms = {} s of simulated time, longer than the first session ({} s); "
        "lower tick_ms or actions, or raise actions_per_tick", s.source, plan.ticks, s.tick_ms, run_ms / 1000,
        session_ms / 1000));
  }
  plan.start_ns = exchange::local_to_utc(s.date, session.start_min, base->utc_offset_min);
  if (exchange::local_time(plan.start_ns, base->utc_offset_min).weekday >= 5) {
    throw ScenarioError(fmt::format("{}: date {} is a weekend day (no trading); choose a weekday", s.source, s.date));
  }

  // Cities paid compensation.
  std::set<rules::PartyIndex> cities;
  for (const auto& c : base->compensation) cities.insert(c.beneficiary);
  plan.cities.assign(cities.begin(), cities.end());

  // Treatments.
  for (Design d : designs) {
    if (d.mode == rules::TradingMode::call && d.call_every_min == 0) d.call_every_min = s.call_every_min;
    const std::string text = apply_design(market, d, s.source + " [rules]");
    auto r = rules::load_rules_text(text, s.source + " [rules]");
    if (strategies.empty()) {
      plan.treatments.push_back(Treatment{d, std::nullopt, d.label(), text, r});
    } else {
      for (const Strategy st : strategies) {
        plan.treatments.push_back(
            Treatment{d, st, fmt::format("{}/{}", d.label(), name_of(st)), text, r});
      }
    }
  }

  // Metrics, in column order.
  auto& m = plan.metrics;
  m.push_back({"efficiency", "realised surplus / maximum surplus (all instruments)"});
  m.push_back({"surplus_fen", "realised gains from trade, fen (charges are transfers)"});
  m.push_back({"max_surplus_fen", "maximum gains from trade, fen"});
  m.push_back({"trades", "trades (all instruments)"});
  m.push_back({"volume_qty", "quantity traded, base units (all instruments)"});
  m.push_back({"orders", "orders sent (new orders and replaces)"});
  m.push_back({"rejects", "orders the exchange refused"});
  if (plan.has_firms) {
    m.push_back({"savings_share", "(no-trade cost - cost reached) / (no-trade cost - least cost)"});
    m.push_back({"abatement_cost_fen", "abatement cost the firms reached, fen"});
    m.push_back({"no_trade_cost_fen", "abatement cost without trading, fen"});
    m.push_back({"least_cost_fen", "least abatement cost (equal marginal costs), fen"});
  }
  for (const auto c : plan.cities) {
    m.push_back({fmt::format("compensation.{}_fen", base->parties[c].id),
                 fmt::format("ecological compensation paid to {}, fen", base->parties[c].id)});
  }
  for (const AgentSpec& a : s.agents) {
    if (a.kind != AgentKind::market_maker) continue;
    m.push_back({fmt::format("mm.{}.inventory_lots", a.party), "market maker: lots held at the end above its start"});
    m.push_back({fmt::format("mm.{}.pnl_fen", a.party),
                 "market maker: cash gained plus its inventory at the last trade price, fen"});
  }
  for (const auto i : plan.instruments) {
    const std::string& sym = base->instruments[i].symbol;
    m.push_back({sym + ".trades", "trades"});
    m.push_back({sym + ".volume_qty", "quantity traded, base units"});
    m.push_back({sym + ".vwap_fen", "volume-weighted average price, fen per unit"});
    m.push_back({sym + ".ce_price_fen", "competitive equilibrium price, fen per unit"});
    m.push_back({sym + ".price_rmse_fen", "RMSE of trade prices against the equilibrium, fen"});
    m.push_back({sym + ".mean_spread_fen", "mean best ask - best bid after each step, fen"});
    m.push_back({sym + ".volatility_pct", "standard deviation of trade-to-trade log returns, %"});
    m.push_back({sym + ".time_to_eq_s", "simulated seconds to the first trade within 1% of equilibrium"});
    m.push_back({sym + ".efficiency", "realised / maximum surplus"});
  }
  return plan;
}

// ----------------------------------------------------------------------- run

RunResult run_one(const Plan& plan, std::size_t treatment, std::uint64_t seed, const RunOptions& options) {
  const auto t_start = SteadyClock::now();
  const Scenario& s = plan.scenario;
  const Treatment& tr = plan.treatments.at(treatment);
  const rules::MarketRules& R = *tr.rules;
  RunResult result;
  result.treatment = treatment;
  result.seed = seed;

  std::optional<TempDir> tmp;
  if (options.keep_data_dir.empty()) tmp.emplace(options.scratch_dir);
  exchange::ManualClock clock(plan.start_ns);
  CoreOptions co;
  co.data_dir = tmp ? tmp->path() / "ledger" : options.keep_data_dir;
  co.rules = tr.rules;
  co.rules_text = tr.rules_text;
  co.durability = ledger::Durability::none;
  co.clock = &clock;
  co.run_schedule = true;
  // Sized from the scenario: a fresh Core's buffers are page-faulted in on
  // every run, so the defaults (65,534 queued commands, 2^16 events) would
  // cost more than the run. At most two commands per agent turn are queued,
  // and the events of one step are taken before the next.
  {
    std::uint32_t per_book = 1024;
    while (per_book < 4 * s.agents.size() + 64) per_book *= 2;
    co.max_orders_per_book = per_book;
    co.queue_capacity = static_cast<std::uint32_t>(std::min<std::uint64_t>(65534, 4ull * s.actions_per_tick + 64));
  }
  std::size_t sub_capacity = 4096;
  while (sub_capacity < 256ull * s.actions_per_tick) sub_capacity *= 2;
  std::unique_ptr<Core> core = Core::open(co);
  auto sub = core->subscribe(Audience::regulator, rules::kNone, sub_capacity);
  MarketObserver market(R);
  std::vector<std::int32_t> agent_of_party(R.parties.size(), -1);
  std::vector<Agent> agents;
  agents.reserve(s.agents.size());
  std::vector<Event> events(4096);

  // Takes every event the last step published (core time) ...
  std::vector<Event> pending;
  const auto poll = [&] {
    pending.clear();
    for (;;) {
      const std::size_t n = sub->poll(std::span<Event>(events));
      pending.insert(pending.end(), events.begin(), events.begin() + static_cast<std::ptrdiff_t>(n));
      if (n < events.size()) break;
    }
    if (sub->cut_off()) throw std::runtime_error("sim: the event subscription was cut off: " + sub->cut_off_reason());
  };
  // ... and hands them to the market observer and the agents (agent time).
  const auto dispatch = [&] {
    for (const Event& e : pending) {
      if (e.audience == Audience::party) {
        if (e.party < agent_of_party.size() && agent_of_party[e.party] >= 0) {
          agents[static_cast<std::size_t>(agent_of_party[e.party])].on_event(e);
        }
      } else {
        market.on_event(e);
      }
    }
  };
  const auto drain = [&] {
    poll();
    dispatch();
  };

  // Open the day: the schedule's pre-open and open are due at the start.
  while (core->step() > 0) {
  }
  drain();
  for (const auto i : plan.instruments) {
    if (core->state(i) == exchange::TradingState::closed) {
      throw std::runtime_error(fmt::format("sim: {} is closed at {} on {}; check its sessions",
                                           R.instruments[i].symbol, plan.start_ns, s.date));
    }
  }

  // Agents, from what the ledger holds at the start.
  std::vector<Fen> start_cash;
  std::vector<Firm> firms;
  std::vector<rules::InstrumentIndex> firm_instrument;
  std::vector<std::size_t> firm_agent;
  for (std::size_t k = 0; k < s.agents.size(); ++k) {
    const AgentSpec& a = s.agents[k];
    const auto p = R.find_party(a.party);
    const auto i = R.find_instrument(a.instrument);
    const ledger::Holding h = core->ledger().holding(p, i);
    const Qty start = h.free_qty + h.reserved_qty;
    const Charges c = charges_for(R, p, i);
    Schedule sched;
    sched.charges = c;
    switch (a.kind) {
      case AgentKind::zi:
        sched.buy_values = a.values;
        sched.sell_costs = a.costs;
        break;
      case AgentKind::emission_firm: {
        const Firm f{a.baseline_qty, start, a.mac_fen, a.mac_slope_fen};
        sched = firm_schedule(f, c);
        firms.push_back(f);
        firm_instrument.push_back(i);
        firm_agent.push_back(k);
        break;
      }
      case AgentKind::water_user: {
        const WaterValue w{start, a.mv_fen, a.mv_slope_fen, a.mv_block_qty > 0 ? a.mv_block_qty : c.lot_qty,
                           a.mv_floor_fen};
        if (a.role == Role::buyer) {
          const Qty d = delivered_per_lot(R, p, i);
          if (d <= 0) {
            throw ScenarioError(fmt::format("{}: water user {} may not receive water from {} (no transfer rule)",
                                            s.source, a.party, a.instrument));
          }
          sched = water_buyer_schedule(w, d, a.max_lots > 0 ? a.max_lots : 1'000'000, c);
        } else {
          sched = water_seller_schedule(w, c);
          if (a.max_lots > 0 && static_cast<std::int64_t>(sched.sell_costs.size()) > a.max_lots) {
            sched.sell_costs.resize(static_cast<std::size_t>(a.max_lots));
          }
        }
        break;
      }
      case AgentKind::market_maker: break;
    }
    start_cash.push_back(core->ledger().cash(p).free_fen + core->ledger().cash(p).reserved_fen);
    const Strategy st = (a.kind == AgentKind::zi && tr.strategy) ? *tr.strategy : a.strategy;
    agents.emplace_back(a, static_cast<std::uint32_t>(k), p, i, st, std::move(sched), start, mix_seed(seed, k + 1));
    agent_of_party[p] = static_cast<std::int32_t>(k);
  }

  // Benchmarks per instrument.
  std::vector<Equilibrium> eq(plan.instruments.size());
  for (std::size_t j = 0; j < plan.instruments.size(); ++j) {
    const auto i = plan.instruments[j];
    std::vector<Schedule> sch;
    for (const auto& ag : agents) {
      if (ag.instrument() == i) sch.push_back(ag.schedule());
    }
    const auto& in = R.instruments[i];
    eq[j] = equilibrium(sch, in.tick_fen, in.floor_fen, in.ceiling_fen);
  }
  result.timing.setup_s = seconds_since(t_start);

  // The run.
  Rng scheduler(mix_seed(seed, 0));
  std::vector<std::size_t> order(agents.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::vector<exchange::Command> cmds;
  std::uint64_t actions_left = s.actions;
  double core_s = 0;
  double agents_s = 0;
  for (std::uint64_t tick = 1; tick <= plan.ticks; ++tick) {
    clock.set(plan.start_ns + static_cast<TimestampNs>(tick * s.tick_ms) * kMsNs);
    const auto t0 = SteadyClock::now();
    cmds.clear();
    const std::size_t m = static_cast<std::size_t>(
        std::min<std::uint64_t>({s.actions_per_tick, actions_left, static_cast<std::uint64_t>(agents.size())}));
    actions_left -= m;
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t pick = j + static_cast<std::size_t>(scheduler.below(order.size() - j));
      std::swap(order[j], order[pick]);
      Agent& ag = agents[order[j]];
      ag.act(market.view(ag.instrument()), cmds);
    }
    const auto t1 = SteadyClock::now();
    for (const auto& c : cmds) {
      const auto r = core->submit(c);
      if (r != exchange::SubmitResult::ok) {
        throw std::runtime_error(fmt::format("sim: submit answered {}", exchange::to_string(r)));
      }
    }
    std::size_t stepped = 0;
    while (const std::size_t n = core->step()) {
      stepped += n;
      ++result.timing.steps;
    }
    if (stepped < cmds.size()) throw std::runtime_error("sim: the core did not take every command: " + core->failure());
    result.timing.commands += cmds.size();
    poll();
    const auto t2 = SteadyClock::now();
    dispatch();
    market.sample();
    const auto t3 = SteadyClock::now();
    agents_s += std::chrono::duration<double>(t1 - t0).count() + std::chrono::duration<double>(t3 - t2).count();
    core_s += std::chrono::duration<double>(t2 - t1).count();
  }
  if (const auto f = core->failure(); !f.empty()) throw std::runtime_error("sim: the core failed: " + f);

  // Agents must agree with the ledger.
  for (const Agent& ag : agents) {
    const ledger::Holding h = core->ledger().holding(ag.party(), ag.instrument());
    if (h.free_qty + h.reserved_qty != ag.holdings_qty()) {
      throw std::logic_error(fmt::format("sim: agent {} counts {} held, the ledger {} (+{} reserved)",
                                         s.agents[static_cast<std::size_t>(&ag - agents.data())].party, ag.holdings_qty(), h.free_qty,
                                         h.reserved_qty));
    }
  }
  if (options.check_core) {
    const auto problems = core->check();
    if (!problems.empty()) throw std::logic_error("sim: core check: " + problems.front());
  }

  // Metrics.
  auto& v = result.values;
  v.reserve(plan.metrics.size());
  Fen surplus = 0;
  Fen max_surplus = 0;
  std::uint64_t trades = 0;
  Qty volume = 0;
  std::uint64_t orders = 0;
  std::uint64_t rejects = 0;
  for (const Agent& ag : agents) {
    surplus += ag.surplus_fen();
    orders += ag.orders_sent();
    rejects += ag.rejects();
  }
  for (std::size_t j = 0; j < plan.instruments.size(); ++j) {
    max_surplus += eq[j].max_surplus_fen;
    const auto& b = market.book(plan.instruments[j]);
    trades += b.trades.size();
    for (const auto& t : b.trades) volume += t.qty;
  }
  v.push_back(ratio(static_cast<double>(surplus), static_cast<double>(max_surplus)));
  v.push_back(static_cast<double>(surplus));
  v.push_back(static_cast<double>(max_surplus));
  v.push_back(static_cast<double>(trades));
  v.push_back(static_cast<double>(volume));
  v.push_back(static_cast<double>(orders));
  v.push_back(static_cast<double>(rejects));
  if (plan.has_firms) {
    Fen reached = 0;
    Fen no_trade = 0;
    Fen least = 0;
    for (const auto i : plan.instruments) {
      std::vector<Firm> group;
      for (std::size_t f = 0; f < firms.size(); ++f) {
        if (firm_instrument[f] != i) continue;
        group.push_back(firms[f]);
        reached += compliance_cost_fen(firms[f], agents[firm_agent[f]].holdings_qty());
      }
      if (group.empty()) continue;
      const LeastCost lc = least_cost(group);
      no_trade += lc.no_trade_cost_fen;
      least += lc.least_cost_fen;
    }
    v.push_back(ratio(static_cast<double>(no_trade - reached), static_cast<double>(no_trade - least)));
    v.push_back(static_cast<double>(reached));
    v.push_back(static_cast<double>(no_trade));
    v.push_back(static_cast<double>(least));
  }
  for (const auto c : plan.cities) v.push_back(static_cast<double>(market.compensation_fen()[c]));
  for (std::size_t k = 0; k < agents.size(); ++k) {
    const Agent& ag = agents[k];
    if (ag.kind() != AgentKind::market_maker) continue;
    const ledger::Cash cash = core->ledger().cash(ag.party());
    const auto& b = market.book(ag.instrument());
    const Fen mark = b.trades.empty() ? R.instruments[ag.instrument()].reference_fen : b.trades.back().price_fen;
    const Qty inventory_qty = ag.holdings_qty() - ag.start_holdings_qty();
    v.push_back(static_cast<double>(ag.position_lots()));
    v.push_back(static_cast<double>(cash.free_fen + cash.reserved_fen - start_cash[k] + inventory_qty * mark));
  }
  result.price_paths.resize(plan.instruments.size());
  for (std::size_t j = 0; j < plan.instruments.size(); ++j) {
    const auto i = plan.instruments[j];
    const auto& b = market.book(i);
    Qty vol = 0;
    for (const auto& t : b.trades) vol += t.qty;
    Fen real = 0;
    for (const Agent& ag : agents) {
      if (ag.instrument() == i) real += ag.surplus_fen();
    }
    v.push_back(static_cast<double>(b.trades.size()));
    v.push_back(static_cast<double>(vol));
    v.push_back(vwap_fen(b.trades));
    v.push_back(eq[j].price_fen);
    v.push_back(price_rmse_fen(b.trades, eq[j].price_fen));
    v.push_back(mean_spread_fen(b));
    v.push_back(volatility_pct(b.trades));
    v.push_back(time_to_within_s(b.trades, eq[j].price_fen, 0.01, plan.start_ns));
    v.push_back(ratio(static_cast<double>(real), static_cast<double>(eq[j].max_surplus_fen)));
    result.ce_price_fen.push_back(eq[j].price_fen);
    if (options.keep_price_paths) {
      auto& path = result.price_paths[j];
      path.reserve(b.trades.size());
      for (const auto& t : b.trades) {
        path.push_back(PricePoint{static_cast<double>(t.ts_ns - plan.start_ns) / 1e9, t.price_fen});
      }
    }
  }
  if (v.size() != plan.metrics.size()) throw std::logic_error("sim: metric count mismatch");
  result.timing.core_s = core_s;
  result.timing.agents_s = agents_s;
  core.reset();
  result.timing.total_s = seconds_since(t_start);
  return result;
}

// --------------------------------------------------------------------- sweep

SweepResult sweep(const Plan& plan, const SweepOptions& options) {
  const auto t0 = SteadyClock::now();
  SweepResult out;
  out.seeds = options.seeds;
  const std::size_t total = plan.treatments.size() * options.seeds.size();
  out.runs.resize(total);
  std::vector<std::exception_ptr> errors(total);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex progress_mutex;
  std::size_t done = 0;
  const auto worker = [&] {
    for (;;) {
      const std::size_t k = next.fetch_add(1);
      if (k >= total || failed.load()) return;
      const std::size_t t = k / options.seeds.size();
      const std::size_t si = k % options.seeds.size();
      RunOptions ro = options.run;
      ro.keep_price_paths = options.run.keep_price_paths && si == 0;
      try {
        out.runs[k] = run_one(plan, t, options.seeds[si], ro);
      } catch (...) {
        errors[k] = std::current_exception();
        failed.store(true);
      }
      if (options.progress) {
        std::lock_guard lock(progress_mutex);
        options.progress(++done, total);
      }
    }
  };
  const unsigned jobs = std::max(1u, std::min<unsigned>(options.jobs, static_cast<unsigned>(std::max<std::size_t>(total, 1))));
  std::vector<std::thread> threads;
  for (unsigned j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& th : threads) th.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (const auto& r : out.runs) {
    out.total.setup_s += r.timing.setup_s;
    out.total.core_s += r.timing.core_s;
    out.total.agents_s += r.timing.agents_s;
    out.total.total_s += r.timing.total_s;
    out.total.commands += r.timing.commands;
    out.total.steps += r.timing.steps;
  }
  out.wall_s = seconds_since(t0);
  return out;
}

}  // namespace haihe::sim
