// ledger_bench — settled trades per second through haihe::ledger, and the
// commit latency per batch, at batch sizes 1, 16, 256 and 4096 in both
// durability modes (issue 4).
//
// The mix is what the exchange core does for each trade: a new aggressive
// order reserves (buy: cash + fee + compensation and cap headroom; sell:
// rights), settles against one of 100,000 resting orders, and releases its
// remainder; a resting order that fills completely is replaced by a new one,
// so the book stays at 100,000. 500 enterprises in 8 regions, 40 instruments
// (14 water, 26 emission). A third of the trades are water sold by a Hebei
// party to a Beijing or Tianjin buyer: transfer ratio, conveyance loss and
// ecological compensation to the source city. The rest are emission trades,
// most paying a levy. Each batch journals 64 bytes of input per command.
//
//   ledger_bench [--benchmark_filter=...] [--ledger_dir=DIR] [--ledger_keep]
//
// Data goes to a fresh directory under $TMPDIR (or --ledger_dir), removed at
// exit unless --ledger_keep (then e.g. `haihe audit verify --data DIR/full`). Reported per run: trades_per_s, commit_p50_us, commit_p99_us and
// journal_kb_per_batch; with --benchmark_repetitions=5 (the default here)
// Google Benchmark adds the median over the runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "rules/rules.h"

namespace {

using namespace haihe;
using ledger::Batch;
using ledger::Durability;
using ledger::Fill;
using ledger::Ledger;
using ledger::OrderId;
using ledger::Reason;
using rules::Fen;
using rules::InstrumentIndex;
using rules::PartyIndex;
using rules::Qty;

constexpr std::uint32_t kEnterprises = 500;
constexpr std::uint32_t kWater = 14, kEmission = 26;
constexpr std::size_t kResting = 100'000;
constexpr std::size_t kInputPerCommand = 64;

std::filesystem::path g_root;

// prefix + number (GCC 12 warns falsely on `"x" + std::to_string(n)`).
std::string id(const char* prefix, std::uint32_t n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// Regions 0 BJ, 1 TJ, 2..7 Hebei cities; zones 0..6 in Hebei cities.
std::shared_ptr<rules::MarketRules> make_rules() {
  auto r = std::make_shared<rules::MarketRules>();
  r->name = "ledger bench market";
  const char* regions[] = {"BJ", "TJ", "ZJK", "CHENGDE", "TANGSHAN", "BAODING", "LANGFANG", "SHIJIAZHUANG"};
  for (int g = 0; g < 8; ++g) {
    rules::Region reg;
    reg.id = regions[g];
    reg.level = g < 2 ? rules::RegionLevel::municipality : rules::RegionLevel::prefecture_city;
    r->regions.push_back(reg);
  }
  for (std::uint32_t z = 0; z < 7; ++z) r->zones.push_back({id("Z", z), "zone", 2 + z % 6});
  auto party = [&](std::string id, rules::PartyKind kind, rules::RegionIndex g) {
    rules::Party p;
    p.id = std::move(id);
    p.kind = kind;
    p.region = g;
    r->parties.push_back(std::move(p));
  };
  party("EXCHANGE", rules::PartyKind::exchange, rules::kNone);
  party("AIR_FUND", rules::PartyKind::fund, rules::kNone);
  for (std::uint32_t g = 2; g < 8; ++g) party(std::string(regions[g]).append("_GOV"), rules::PartyKind::city_government, g);
  for (std::uint32_t k = 0; k < kEnterprises; ++k) party(id("E", k), rules::PartyKind::enterprise, k % 8);
  for (std::uint32_t i = 0; i < kWater + kEmission; ++i) {
    rules::Instrument in;
    in.symbol = id("I", i);
    in.kind = i < kWater ? rules::InstrumentKind::water : rules::InstrumentKind::emission;
    in.zone = i < kWater ? i % 7 : rules::kNone;
    in.pollutant = static_cast<rules::Pollutant>(i % 6);
    in.vintage = static_cast<std::uint16_t>(2027 + i % 2);
    in.party_limit_qty = 1'000'000'000'000;
    in.buyer_fee_bps = 5;
    in.seller_fee_bps = 7;
    r->instruments.push_back(in);
  }
  const auto nI = static_cast<InstrumentIndex>(r->instruments.size());
  for (auto& p : r->parties) {
    if (p.kind == rules::PartyKind::enterprise) {
      for (InstrumentIndex i = 0; i < nI; ++i) p.may_trade.push_back(i);
    }
  }
  for (std::uint32_t g = 0; g < 8; ++g) {
    for (InstrumentIndex i = 0; i < nI; ++i) r->region_caps.push_back({g, i, 4'000'000'000'000'000});
  }
  for (std::uint32_t z = 0; z < 7; ++z) {
    r->zone_caps.push_back({z, 2027, 4'000'000'000'000'000});
    r->zone_caps.push_back({z, 2028, 4'000'000'000'000'000});
    for (std::uint32_t g = 0; g < 8; ++g) {
      if (g == 2 + z % 6) continue;
      r->transfers.push_back({z, g, 9, 10});
    }
    rules::CompensationRoute c;
    c.id = id("C", z);
    c.zone = z;
    c.buyer_regions = {0, 1};
    c.beneficiary = 2 + (z % 6);  // the zone city's government (parties 2..7)
    c.fen_per_unit = 3;
    c.bps = 50;
    r->compensation.push_back(c);
  }
  rules::Levy l;
  l.id = "AIR";
  l.kind = rules::InstrumentKind::emission;
  l.fund = 1;
  l.bps = 100;
  r->levies.push_back(l);
  return r;
}

struct Resting {
  OrderId id;
  PartyIndex party;
  Qty qty;
  Fen price;
};

// One ledger with 100,000 resting orders, reused by the runs of one mode.
struct World {
  std::shared_ptr<rules::MarketRules> rules;
  std::optional<Ledger> ledger;
  std::vector<PartyIndex> beijing_tianjin, hebei, all;
  std::vector<std::vector<Resting>> sells, buys;  // per instrument
  OrderId next_id = 1;
  std::mt19937_64 rng{42};
  std::vector<std::byte> input;

  explicit World(Durability d) {
    rules = make_rules();
    const auto dir = g_root / (d == Durability::full ? "full" : "none");
    ledger::Options o;
    o.durability = d;
    o.map_bytes = std::uint64_t{4} << 30;
    const std::string text = "ledger bench market v1";
    ledger.emplace(Ledger::open(dir, rules, text, o));
    const auto nP = static_cast<PartyIndex>(rules->parties.size());
    for (PartyIndex p = 0; p < nP; ++p) {
      if (rules->parties[p].kind != rules::PartyKind::enterprise) continue;
      all.push_back(p);
      (rules->parties[p].region < 2 ? beijing_tianjin : hebei).push_back(p);
    }
    sells.resize(kWater + kEmission);
    buys.resize(kWater + kEmission);
    // Funding and the resting book, in batches of 4096.
    {
      Batch b = ledger->begin();
      for (const PartyIndex p : all) {
        check(b.deposit(p, 1'000'000'000'000));
        for (InstrumentIndex i = 0; i < kWater + kEmission; ++i) check(b.issue(p, i, 1'000'000'000));
      }
      b.commit({}, 0);
    }
    std::size_t placed = 0;
    while (placed < kResting) {
      Batch b = ledger->begin();
      for (int k = 0; k < 4096 && placed < kResting; ++k, ++placed) {
        const auto i = static_cast<InstrumentIndex>(rng() % (kWater + kEmission));
        if (placed % 2 == 0) place_sell(b, i);
        else place_buy(b, i);
      }
      b.commit({}, 0);
    }
  }

  static void check(Reason r) {
    if (r != Reason::ok) {
      std::fprintf(stderr, "ledger_bench: unexpected rejection: %.*s\n", static_cast<int>(ledger::to_string(r).size()),
                   ledger::to_string(r).data());
      std::abort();
    }
  }
  bool water(InstrumentIndex i) const { return i < kWater; }
  PartyIndex seller_for(InstrumentIndex i) { return water(i) ? hebei[rng() % hebei.size()] : all[rng() % all.size()]; }
  PartyIndex buyer_for(InstrumentIndex i) {
    return water(i) ? beijing_tianjin[rng() % beijing_tianjin.size()] : all[rng() % all.size()];
  }
  void place_sell(Batch& b, InstrumentIndex i) {
    Resting r{next_id++, seller_for(i), 100 + static_cast<Qty>(rng() % 900), 1000 + static_cast<Fen>(rng() % 100)};
    check(b.reserve_sell(r.id, r.party, i, r.qty));
    sells[i].push_back(r);
  }
  void place_buy(Batch& b, InstrumentIndex i) {
    Resting r{next_id++, buyer_for(i), 100 + static_cast<Qty>(rng() % 900), 900 + static_cast<Fen>(rng() % 100)};
    check(b.reserve_buy(r.id, r.party, i, r.qty, r.price));
    buys[i].push_back(r);
  }
  // One trade as the core would do it; returns the commands it stands for.
  int trade(Batch& b, std::int64_t ts) {
    // A third water (with compensation), two thirds emission.
    const auto i = static_cast<InstrumentIndex>(rng() % 3 == 0 ? rng() % kWater : kWater + rng() % kEmission);
    const Qty qty = 1 + static_cast<Qty>(rng() % 100);
    const OrderId id = next_id++;
    int commands = 1;
    if (rng() % 2 == 0) {  // aggressive buy against a resting sell
      auto& book = sells[i];
      const std::size_t k = rng() % book.size();
      Resting& rest = book[k];
      const PartyIndex buyer = buyer_for(i);
      check(b.reserve_buy(id, buyer, i, qty, rest.price + 5));
      const Qty q = std::min(qty, rest.qty);
      check(b.settle(Fill{id, rest.id, q, rest.price, ts}));
      if (q < qty) check(b.release(id));  // IOC remainder
      rest.qty -= q;
      if (rest.qty == 0) {
        book[k] = book.back();
        book.pop_back();
        place_sell(b, i);
        ++commands;
      }
    } else {  // aggressive sell against a resting buy
      auto& book = buys[i];
      const std::size_t k = rng() % book.size();
      Resting& rest = book[k];
      const PartyIndex seller = seller_for(i);
      check(b.reserve_sell(id, seller, i, qty));
      const Qty q = std::min(qty, rest.qty);
      check(b.settle(Fill{rest.id, id, q, rest.price, ts}));
      if (q < qty) check(b.release(id));
      rest.qty -= q;
      if (rest.qty == 0) {
        book[k] = book.back();
        book.pop_back();
        place_buy(b, i);
        ++commands;
      }
    }
    return commands;
  }
};

World& world(Durability d) {
  static std::unique_ptr<World> worlds[2];
  auto& w = worlds[d == Durability::full ? 0 : 1];
  if (!w) w = std::make_unique<World>(d);
  return *w;
}

void BM_Settle(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const Durability d = state.range(1) == 0 ? Durability::full : Durability::none;
  World& w = world(d);
  std::vector<double> commit_us;
  commit_us.reserve(static_cast<std::size_t>(state.max_iterations));
  std::int64_t trades = 0;
  std::uint64_t journal = 0;
  std::int64_t ts = 1'800'000'000'000'000'000;
  for (auto _ : state) {
    Batch b = w.ledger->begin();
    int commands = 0;
    for (std::size_t k = 0; k < batch; ++k) commands += w.trade(b, ++ts);
    w.input.resize(static_cast<std::size_t>(commands) * kInputPerCommand, std::byte{0x5a});
    const auto t0 = std::chrono::steady_clock::now();
    const auto ci = b.commit(w.input, ts);
    const auto t1 = std::chrono::steady_clock::now();
    commit_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    journal += ci.journal_bytes;
    trades += static_cast<std::int64_t>(batch);
  }
  std::sort(commit_us.begin(), commit_us.end());
  auto pct = [&](double p) {
    return commit_us.empty() ? 0.0 : commit_us[std::min(commit_us.size() - 1, static_cast<std::size_t>(p * static_cast<double>(commit_us.size())))];
  };
  state.counters["trades_per_s"] = benchmark::Counter(static_cast<double>(trades), benchmark::Counter::kIsRate);
  state.counters["commit_p50_us"] = pct(0.50);
  state.counters["commit_p99_us"] = pct(0.99);
  state.counters["journal_kb_per_batch"] =
      static_cast<double>(journal) / 1024.0 / static_cast<double>(std::max<std::size_t>(1, commit_us.size()));
  state.counters["open_orders"] = static_cast<double>(w.ledger->open_orders());
  state.SetLabel(d == Durability::full ? "full" : "none");
}

}  // namespace

// Iterations are fixed per batch size (Google Benchmark's estimation runs
// would otherwise add runs of their own to the shared ledger).
#define LEDGER_BENCH(batch, d, iters)                                                     \
  BENCHMARK(BM_Settle)                                                                    \
      ->Name("ledger_settle/batch:" #batch "/" #d)                                        \
      ->Args({batch, std::string_view(#d) == "full" ? 0 : 1})                             \
      ->Iterations(iters)                                                                 \
      ->Repetitions(5)                                                                    \
      ->UseRealTime()                                                                     \
      ->Unit(benchmark::kMillisecond)

LEDGER_BENCH(1, full, 2000);
LEDGER_BENCH(16, full, 800);
LEDGER_BENCH(256, full, 200);
LEDGER_BENCH(4096, full, 40);
LEDGER_BENCH(1, none, 4000);
LEDGER_BENCH(16, none, 1500);
LEDGER_BENCH(256, none, 300);
LEDGER_BENCH(4096, none, 40);

int main(int argc, char** argv) {
  std::string dir_arg;
  bool keep = false;
  std::vector<char*> rest;
  for (int k = 0; k < argc; ++k) {
    const std::string a = argv[k];
    if (a.rfind("--ledger_dir=", 0) == 0) dir_arg = a.substr(13);
    else if (a == "--ledger_keep") keep = true;
    else rest.push_back(argv[k]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  std::string tmpl = dir_arg.empty() ? (std::filesystem::temp_directory_path() / "haihe-ledger-bench-XXXXXX").string()
                                     : dir_arg + "/haihe-ledger-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("ledger_bench: mkdtemp");
    return 1;
  }
  g_root = tmpl;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (keep) {
    std::fprintf(stderr, "ledger_bench: data kept in %s\n", g_root.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(g_root, ec);
  }
  return 0;
}
