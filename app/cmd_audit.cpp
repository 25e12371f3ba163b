// haihe audit verify|report — the regulator's tools (issue 4). Read-only:
// they open the data directory with MDB_RDONLY and run safely while the
// exchange writes, or on a copy made with mdb_copy.
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/commands.h"
#include "exchange/core.h"
#include "ledger/audit.h"
#include "ledger/ledger.h"
#include "rules/rules.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;
namespace audit = haihe::ledger::audit;
using haihe::ledger::TimestampNs;
using haihe::rules::InstrumentIndex;
using haihe::rules::PartyIndex;
using haihe::rules::RegionIndex;
using haihe::rules::ZoneIndex;

constexpr const char* kUsage =
    "usage: haihe audit verify --data DIR\n"
    "       haihe audit report --data DIR [--party ID] [--city REGION] [--instrument SYMBOL]\n"
    "                          [--from TIME] [--to TIME] [--section LIST] [--format table|csv|json]\n";

// "YYYY-MM-DD[(T| )HH:MM[:SS]]" in local time (UTC+8), or "@NANOSECONDS".
std::optional<TimestampNs> parse_time(const std::string& s, std::int32_t utc_offset_min) {
  if (!s.empty() && s[0] == '@') {
    try {
      std::size_t used = 0;
      const long long v = std::stoll(s.substr(1), &used);
      if (used + 1 != s.size()) return std::nullopt;
      return static_cast<TimestampNs>(v);
    } catch (...) {
      return std::nullopt;
    }
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char sep = 'T';
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return std::nullopt;
  if (static_cast<std::size_t>(n) != s.size()) {
    int n2 = 0;
    if (std::sscanf(s.c_str() + n, "%c%2d:%2d%n", &sep, &h, &mi, &n2) != 3 || (sep != 'T' && sep != ' ')) {
      return std::nullopt;
    }
    n += n2;
    if (static_cast<std::size_t>(n) != s.size()) {
      int n3 = 0;
      if (std::sscanf(s.c_str() + n, ":%2d%n", &sec, &n3) != 1) return std::nullopt;
      n += n3;
    }
    if (static_cast<std::size_t>(n) != s.size()) return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0) {
    return std::nullopt;
  }
  if (y < 0) return std::nullopt;
  const auto date = static_cast<std::uint32_t>(y * 10000 + mo * 100 + d);
  return exchange::local_to_utc(date, static_cast<std::uint32_t>(h * 60 + mi), utc_offset_min) +
         std::int64_t{sec} * 1'000'000'000;
}

std::string format_time(TimestampNs ns, std::int32_t utc_offset_min) {
  const auto lt = exchange::local_time(ns, utc_offset_min);
  const std::int64_t ms_total = ns / 1'000'000 - (ns % 1'000'000 < 0 ? 1 : 0);
  const std::int64_t ms_of_minute = ((ms_total % 60'000) + 60'000) % 60'000;
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}", lt.date / 10000, lt.date / 100 % 100,
                     lt.date % 100, lt.minute / 60, lt.minute % 60, ms_of_minute / 1000, ms_of_minute % 1000);
}

// "#N" for an index the rules do not know, "" for none.
std::string unknown_index(std::uint32_t i) {
  if (i == rules::kNone) return {};
  std::string out(1, '#');
  out.append(std::to_string(i));
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// A section of the report: a name, columns, rows of cells. Numbers are
// marked so JSON prints them unquoted.
struct Cell {
  std::string text;
  bool number = false;
};
struct Section {
  std::string name;
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

Cell num(std::int64_t v) { return {std::to_string(v), true}; }
Cell txt(std::string s) { return {std::move(s), false}; }

void print_table(const std::vector<Section>& sections, const std::string& header) {
  std::printf("%s", header.c_str());
  for (const auto& s : sections) {
    std::printf("\n== %s (%zu)\n", s.name.c_str(), s.rows.size());
    std::vector<std::size_t> w(s.columns.size());
    for (std::size_t c = 0; c < w.size(); ++c) w[c] = s.columns[c].size();
    for (const auto& r : s.rows) {
      for (std::size_t c = 0; c < w.size(); ++c) w[c] = std::max(w[c], r[c].text.size());
    }
    auto line = [&](auto&& cell) {
      std::string out;
      for (std::size_t c = 0; c < w.size(); ++c) {
        const auto [text, right] = cell(c);
        if (c) out += "  ";
        const std::string pad(w[c] - text.size(), ' ');
        out += right ? pad + text : text + pad;
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      std::printf("%s\n", out.c_str());
    };
    line([&](std::size_t c) { return std::pair<std::string, bool>{s.columns[c], false}; });
    for (const auto& r : s.rows) line([&](std::size_t c) { return std::pair<std::string, bool>{r[c].text, r[c].number}; });
  }
}

void print_csv(const std::vector<Section>& sections) {
  bool first = true;
  for (const auto& s : sections) {
    if (!first) std::printf("\n");
    first = false;
    std::printf("# %s\n", s.name.c_str());
    std::string h;
    for (std::size_t c = 0; c < s.columns.size(); ++c) {
      if (c) h += ',';
      h += s.columns[c];
    }
    std::printf("%s\n", h.c_str());
    for (const auto& r : s.rows) {
      std::string line;
      for (std::size_t c = 0; c < r.size(); ++c) {
        if (c) line += ',';
        line += csv_escape(r[c].text);
      }
      std::printf("%s\n", line.c_str());
    }
  }
}

void print_json(const std::vector<Section>& sections, const std::vector<std::pair<std::string, Cell>>& head) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : head) {
    out += first ? "\n  " : ",\n  ";
    out += json_escape(k);
    out += ": ";
    out += v.number ? v.text : json_escape(v.text);
    first = false;
  }
  for (const auto& s : sections) {
    out += first ? "\n  " : ",\n  ";
    out += json_escape(s.name);
    out += ": [";
    first = false;
    for (std::size_t r = 0; r < s.rows.size(); ++r) {
      out += r ? ",\n    {" : "\n    {";
      for (std::size_t c = 0; c < s.columns.size(); ++c) {
        const Cell& cell = s.rows[r][c];
        if (c) out += ", ";
        out += json_escape(s.columns[c]);
        out += ": ";
        out += cell.number ? cell.text : json_escape(cell.text);
      }
      out += "}";
    }
    out += s.rows.empty() ? "]" : "\n  ]";
  }
  out += "\n}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "haihe audit: %s\n%s", msg.c_str(), kUsage);
  return kExitUsage;
}

// Parses args into vm; the error text when they do not fit opts.
std::optional<std::string> parse_options(const std::vector<std::string>& args,
                                         const po::options_description& opts, po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

int run_verify(const std::vector<std::string>& args) {
  po::options_description opts("haihe audit verify: recompute the audit chain and check every stored record");
  opts.add_options()("help,h", "show this help")("data", po::value<std::string>(), "the data directory (required)");
  po::variables_map vm;
  if (auto err = parse_options(args, opts, vm)) return usage_error(*err);
  if (vm.count("help")) {
    std::cout << "usage: haihe audit verify --data DIR\n\n"
                 "Opens DIR read-only (safe while the exchange runs), recomputes the hash\n"
                 "chain of every batch, folds the batches' write-sets from genesis and\n"
                 "compares them with every stored record, then checks the ledger's laws.\n"
                 "Prints the chain head, the batch count and ok (exit 0), or the first\n"
                 "mismatch: the batch, or the table and key and the batch that last wrote\n"
                 "it (exit 1).\n\n"
              << opts;
    return kExitOk;
  }
  if (!vm.count("data")) return usage_error("verify needs --data DIR");
  try {
    const auto result = audit::verify(vm["data"].as<std::string>());
    const std::string text = result.summary();
    std::fwrite(text.data(), 1, text.size(), result.ok ? stdout : stderr);
    return result.ok ? kExitOk : kExitRejected;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe audit verify: %s\n", e.what());
    return kExitRejected;
  }
}

int run_report(const std::vector<std::string>& args) {
  po::options_description opts("haihe audit report: holdings, caps, compensation, levies, fees and trades");
  opts.add_options()("help,h", "show this help")("data", po::value<std::string>(), "the data directory (required)")(
      "party", po::value<std::string>(), "only this party (its id in the rules)")(
      "city", po::value<std::string>(), "only this region (id, e.g. CHENGDE): its parties, caps, zones, government")(
      "instrument", po::value<std::string>(), "only this instrument (symbol)")(
      "from", po::value<std::string>(), "trades and flows from this time: YYYY-MM-DD[THH:MM[:SS]] UTC+8, or @NS")(
      "to", po::value<std::string>(), "... up to (excluding) this time")(
      "section", po::value<std::string>()->default_value("all"),
      "comma-separated: holdings,cash,regions,zones,compensation,levies,fees,trades,movements, or all")(
      "format", po::value<std::string>()->default_value("table"), "table, csv or json");
  po::variables_map vm;
  if (auto err = parse_options(args, opts, vm)) return usage_error(*err);
  if (vm.count("help")) {
    std::cout << kUsage
              << "\nHoldings, cash and cap usage are as of the last committed batch; the\n"
                 "compensation, levy and fee sums, trades and movements cover [--from, --to).\n\n"
              << opts;
    return kExitOk;
  }
  if (!vm.count("data")) return usage_error("report needs --data DIR");
  const std::string fmt_name = vm["format"].as<std::string>();
  if (fmt_name != "table" && fmt_name != "csv" && fmt_name != "json") {
    return usage_error("--format must be table, csv or json, not '" + fmt_name + "'");
  }
  const std::vector<std::string> all = {"holdings", "cash", "regions", "zones", "compensation",
                                        "levies", "fees", "trades", "movements"};
  std::vector<std::string> want;
  {
    std::string list = vm["section"].as<std::string>();
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t end = std::min(list.find(',', start), list.size());
      const std::string item = list.substr(start, end - start);
      if (item == "all") {
        want = all;
      } else if (std::find(all.begin(), all.end(), item) != all.end()) {
        want.push_back(item);
      } else {
        return usage_error("unknown --section '" + item + "'; allowed: all or " +
                           "holdings,cash,regions,zones,compensation,levies,fees,trades,movements");
      }
      start = end + 1;
    }
  }
  auto wanted = [&](const std::string& s) { return std::find(want.begin(), want.end(), s) != want.end(); };

  try {
    const audit::Reader reader = audit::Reader::open(vm["data"].as<std::string>());
    std::shared_ptr<const rules::MarketRules> rules_ptr;
    try {
      rules_ptr = rules::load_rules_text(reader.rules_text(), "<rules stored in the ledger>");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "haihe audit report: the rules stored in the ledger do not load: %s\n", e.what());
      return kExitRejected;
    }
    const rules::MarketRules& r = *rules_ptr;
    audit::ReportFilter f;
    if (vm.count("party")) {
      const auto p = r.find_party(vm["party"].as<std::string>());
      if (p == rules::kNone) return usage_error("no party '" + vm["party"].as<std::string>() + "' in the rules");
      f.party = p;
    }
    if (vm.count("city")) {
      const auto c = r.find_region(vm["city"].as<std::string>());
      if (c == rules::kNone) return usage_error("no region '" + vm["city"].as<std::string>() + "' in the rules");
      f.city = c;
    }
    if (vm.count("instrument")) {
      const auto i = r.find_instrument(vm["instrument"].as<std::string>());
      if (i == rules::kNone) {
        return usage_error("no instrument '" + vm["instrument"].as<std::string>() + "' in the rules");
      }
      f.instrument = i;
    }
    for (const char* key : {"from", "to"}) {
      if (!vm.count(key)) continue;
      const auto t = parse_time(vm[key].as<std::string>(), r.utc_offset_min);
      if (!t) {
        return usage_error(std::string("--") + key + " '" + vm[key].as<std::string>() +
                           "' is not a time; use YYYY-MM-DD[THH:MM[:SS]] (UTC+8) or @NANOSECONDS");
      }
      (std::string(key) == "from" ? f.from_ns : f.to_ns) = *t;
    }
    const audit::Report rep = audit::build_report(reader, r, f);

    auto party = [&](PartyIndex p) -> std::string {
      return p < r.parties.size() ? r.parties[p].id : unknown_index(p);
    };
    auto inst = [&](InstrumentIndex i) -> std::string {
      return i < r.instruments.size() ? r.instruments[i].symbol : unknown_index(i);
    };
    auto region = [&](RegionIndex g) -> std::string {
      return g < r.regions.size() ? r.regions[g].id : unknown_index(g);
    };
    auto zone = [&](ZoneIndex z) -> std::string {
      return z < r.zones.size() ? r.zones[z].id : unknown_index(z);
    };
    auto cap = [](std::int64_t c) { return c < 0 ? txt("none") : num(c); };
    std::vector<Section> sections;
    if (wanted("holdings")) {
      Section s{"holdings", {"party", "region", "instrument", "free", "reserved", "incoming", "unit"}, {}};
      for (const auto& h : rep.holdings) {
        s.rows.push_back({txt(party(h.party)), txt(region(h.party < r.parties.size() ? r.parties[h.party].region : rules::kNone)),
                          txt(inst(h.instrument)), num(h.h.free_qty), num(h.h.reserved_qty), num(h.h.incoming_qty),
                          txt(h.instrument < r.instruments.size() ? r.instruments[h.instrument].unit : "")});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("cash")) {
      Section s{"cash", {"party", "free_fen", "reserved_fen"}, {}};
      for (const auto& c : rep.cash) s.rows.push_back({txt(party(c.party)), num(c.c.free_fen), num(c.c.reserved_fen)});
      sections.push_back(std::move(s));
    }
    if (wanted("regions")) {
      Section s{"regions", {"region", "instrument", "held", "incoming", "cap", "headroom"}, {}};
      for (const auto& g : rep.regions) {
        s.rows.push_back({txt(region(g.region)), txt(inst(g.instrument)), num(g.u.held_qty), num(g.u.incoming_qty),
                          cap(g.cap), g.cap < 0 ? txt("") : num(g.cap - g.u.held_qty - g.u.incoming_qty)});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("zones")) {
      Section s{"zones", {"zone", "vintage", "held", "cap", "headroom", "conveyance_loss"}, {}};
      for (const auto& z : rep.zones) {
        s.rows.push_back({txt(zone(z.zone)), num(z.vintage), num(z.held), cap(z.cap),
                          z.cap < 0 ? txt("") : num(z.cap - z.held), num(z.loss)});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("compensation")) {
      Section s{"compensation", {"city_government", "region", "fen", "trades", "qty"}, {}};
      for (const auto& c : rep.compensation) {
        s.rows.push_back({txt(party(c.city)), txt(region(c.city < r.parties.size() ? r.parties[c.city].region : rules::kNone)),
                          num(c.fen), num(static_cast<std::int64_t>(c.trades)), num(c.qty)});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("levies")) {
      Section s{"levies", {"fund", "fen", "trades"}, {}};
      for (const auto& l : rep.levies) s.rows.push_back({txt(party(l.fund)), num(l.fen), num(static_cast<std::int64_t>(l.trades))});
      sections.push_back(std::move(s));
    }
    if (wanted("fees")) {
      Section s{"fees", {"instrument", "buyer_fees_fen", "seller_fees_fen", "trades", "value_fen"}, {}};
      for (const auto& x : rep.fees) {
        s.rows.push_back({txt(inst(x.instrument)), num(x.buyer_fen), num(x.seller_fen),
                          num(static_cast<std::int64_t>(x.trades)), num(x.value_fen)});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("trades")) {
      Section s{"trades",
                {"id", "batch", "time", "instrument", "buyer", "seller", "qty", "delivered", "price_fen", "value_fen",
                 "buyer_fee_fen", "seller_fee_fen", "compensation_fen", "beneficiary", "levy_fen", "fund"},
                {}};
      for (const auto& t : rep.trades) {
        s.rows.push_back({num(static_cast<std::int64_t>(t.id)), num(static_cast<std::int64_t>(t.seq)),
                          txt(format_time(t.ts_ns, r.utc_offset_min)), txt(inst(t.instrument)), txt(party(t.buyer)),
                          txt(party(t.seller)), num(t.qty), num(t.delivered_qty), num(t.price_fen), num(t.value_fen),
                          num(t.buyer_fee_fen), num(t.seller_fee_fen), num(t.compensation_fen),
                          txt(party(t.beneficiary)), num(t.levy_fen), txt(party(t.fund))});
      }
      sections.push_back(std::move(s));
    }
    if (wanted("movements")) {
      Section s{"movements", {"id", "batch", "time", "kind", "party", "from", "instrument", "amount"}, {}};
      static constexpr const char* kKinds[] = {"?", "issue", "retire", "deposit", "withdraw", "grant"};
      for (const auto& m : rep.movements) {
        const auto k = static_cast<unsigned>(m.kind);
        s.rows.push_back({num(static_cast<std::int64_t>(m.id)), num(static_cast<std::int64_t>(m.seq)),
                          txt(format_time(m.ts_ns, r.utc_offset_min)), txt(k < 6 ? kKinds[k] : "?"),
                          txt(party(m.party)), txt(party(m.counterparty)), txt(inst(m.instrument)), num(m.amount)});
      }
      sections.push_back(std::move(s));
    }
    const std::string head_hex = ledger::to_hex(rep.head);
    if (fmt_name == "json") {
      print_json(sections, {{"head", txt(head_hex)},
                            {"batches", num(static_cast<std::int64_t>(rep.head_seq))},
                            {"as_of", txt(format_time(rep.head_ts_ns, r.utc_offset_min))},
                            {"market", txt(r.name)}});
    } else if (fmt_name == "csv") {
      print_csv(sections);
    } else {
      print_table(sections, fmt::format("market {}\nhead {}  batch {}  as of {} (UTC+8)\n", r.name, head_hex,
                                        rep.head_seq, format_time(rep.head_ts_ns, r.utc_offset_min)));
    }
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "haihe audit report: %s\n", e.what());
    return kExitRejected;
  }
}

}  // namespace

int cmd_audit(Args args) {
  std::vector<std::string> rest;
  for (std::size_t i = 2; i < args.size(); ++i) rest.emplace_back(args[i]);
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "verify") return run_verify(rest);
  if (sub == "report") return run_report(rest);
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::cout << kUsage
              << "\n  verify   recompute the audit chain and compare every stored record\n"
                 "  report   holdings, cap usage, compensation, levies, fees, trades\n\n"
                 "Both open the data directory read-only and may run while the exchange runs.\n"
                 "Run 'haihe audit verify --help' or 'haihe audit report --help' for options.\n";
    return kExitOk;
  }
  return usage_error(sub.empty() ? "missing subcommand" : "unknown subcommand '" + sub + "'");
}

}  // namespace haihe::app
