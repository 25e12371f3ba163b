// Test support for the exchange core: temporary directories, a core on the
// default market driven by a manual clock, and a deterministic generator of
// multi-party command streams.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "exchange/core.h"
#include "rules/rules.h"
#include "tests/temp_dir.h"

namespace haihe::exchange::test {

/// A temporary directory named haihe-core-XXXXXX (tests/temp_dir.h).
class TempDir : public haihe::test::TempDir {
 public:
  TempDir() : haihe::test::TempDir("haihe-core") {}
};

/// Monday 2027-03-15 at hh:mm, Beijing time.
inline TimestampNs beijing(std::uint32_t hh, std::uint32_t mm, std::uint32_t date = 20270315) {
  return local_to_utc(date, hh * 60 + mm, 480);
}
inline constexpr std::int64_t kMs = 1'000'000;

inline std::shared_ptr<const rules::MarketRules> default_rules() {
  static const auto r = rules::load_default_rules();
  return r;
}

inline CoreOptions core_options(const std::filesystem::path& dir, Clock* clock) {
  CoreOptions o;
  o.data_dir = dir;
  o.rules = default_rules();
  o.rules_text = std::string(rules::default_rules_text());
  o.durability = ledger::Durability::none;
  o.clock = clock;
  o.max_orders_per_book = 1u << 14;
  o.snapshot_min_commands = 2000;
  o.image_min_entries = 256;
  return o;
}

/// Drives a core step by step and keeps every event (a regulator
/// subscription sees them all).
struct Driver {
  explicit Driver(const CoreOptions& o) : core(Core::open(o)) {
    all = core->subscribe(Audience::regulator, rules::kNone, 1u << 20);
  }
  std::size_t step() {
    const auto n = core->step();
    Event e;
    while (all->poll(e)) events.push_back(e);
    return n;
  }
  std::unique_ptr<Core> core;
  std::shared_ptr<Subscription> all;
  std::vector<Event> events;
};

/// Random multi-party command streams over the default market.
class Generator {
 public:
  Generator(const rules::MarketRules& rules, std::uint64_t seed, std::string prefix = "")
      : rules_(rules), rng_(seed), prefix_(std::move(prefix)) {
    for (PartyIndex p = 0; p < rules.parties.size(); ++p) {
      if (!rules.parties[p].may_trade.empty()) traders_.push_back(p);
    }
  }

  /// The next command; `ref` gives each instrument's current reference.
  Command next(const std::function<Fen(InstrumentIndex)>& ref) {
    const auto roll = pick(100);
    const PartyIndex party = traders_[pick(traders_.size())];
    auto& open = open_inst_[party];
    if (roll < 12 && !open.empty()) {  // cancel
      Command c{};
      c.kind = CommandKind::cancel;
      c.party = party;
      c.orig_cl_ord_id = *ClOrdId::from(open[pick(open.size())].second);
      return c;
    }
    if (roll < 20 && !open.empty()) {  // replace
      auto& [inst, id] = open[pick(open.size())];
      Command c{};
      c.kind = CommandKind::replace;
      c.party = party;
      c.instrument = inst;
      c.orig_cl_ord_id = *ClOrdId::from(id);
      c.cl_ord_id = fresh(party, inst);
      c.price_fen = price(inst, ref(inst));
      c.qty = rules_.instruments[inst].lot_qty * static_cast<Qty>(1 + pick(20));
      id = std::string(c.cl_ord_id.view());
      return c;
    }
    if (roll == 20) {
      Command c{};
      c.kind = CommandKind::mass_cancel;
      c.party = party;
      c.instrument = pick(2) ? rules::kNone : rules_.parties[party].may_trade[0];
      c.cl_ord_id = *ClOrdId::from(std::string("M").append(std::to_string(counter_++)));
      return c;
    }
    if (roll == 21) {
      Command c{};
      c.kind = CommandKind::position_request;
      c.party = party;
      return c;
    }
    if (roll == 22) {
      Command c{};
      c.kind = CommandKind::order_status;
      c.party = party;
      return c;
    }
    if (roll == 23) {  // a duplicate ClOrdID
      if (!used_.empty()) {
        Command c{};
        c.kind = CommandKind::new_order;
        c.party = used_.back().first;
        c.instrument = rules_.parties[c.party].may_trade[0];
        c.cl_ord_id = *ClOrdId::from(used_.back().second);
        c.qty = rules_.instruments[c.instrument].lot_qty;
        c.price_fen = ref(c.instrument);
        return c;
      }
    }
    if (roll == 24) {  // a party that may not trade, or a bad instrument
      Command c{};
      c.kind = CommandKind::new_order;
      c.party = pick(2) ? 0u : party;
      c.instrument = pick(2) ? 999u : rules_.parties[party].may_trade[0];
      c.cl_ord_id = fresh(party, 0);
      c.qty = 0;
      return c;
    }
    const auto& may = rules_.parties[party].may_trade;
    const InstrumentIndex inst = may[pick(may.size())];
    Command c{};
    c.kind = CommandKind::new_order;
    c.party = party;
    c.instrument = inst;
    c.side = pick(2) ? Side::buy : Side::sell;
    const auto t = pick(20);
    c.type = t == 0 ? OrderType::market : OrderType::limit;
    c.tif = c.type == OrderType::market ? TimeInForce::ioc
            : t == 1                    ? TimeInForce::ioc
            : t == 2                    ? TimeInForce::fok
            : t < 8                     ? TimeInForce::gtc
                                        : TimeInForce::day;
    c.stp = static_cast<StpMode>(pick(3));
    c.price_fen = price(inst, ref(inst));
    c.qty = rules_.instruments[inst].lot_qty * static_cast<Qty>(1 + pick(20));
    c.cl_ord_id = fresh(party, inst);
    if (c.tif == TimeInForce::day || c.tif == TimeInForce::gtc) {
      open.push_back({inst, std::string(c.cl_ord_id.view())});
      if (open.size() > 64) open.erase(open.begin());
    }
    return c;
  }

  std::uint64_t pick(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

 private:
  Fen price(InstrumentIndex i, Fen ref) {
    const auto& ins = rules_.instruments[i];
    const Fen span = std::max<Fen>(ins.tick_fen, ref * ins.band_bps / 10000 / 2);
    Fen p = ref + static_cast<Fen>(pick(static_cast<std::uint64_t>(2 * span + 1))) - span;
    p -= p % ins.tick_fen;
    return std::max(p, ins.tick_fen);
  }
  ClOrdId fresh(PartyIndex party, InstrumentIndex) {
    std::string s(prefix_);
    s.append("C").append(std::to_string(counter_++));
    used_.push_back({party, s});
    if (used_.size() > 16) used_.erase(used_.begin());
    return *ClOrdId::from(s);
  }

  const rules::MarketRules& rules_;
  std::mt19937_64 rng_;
  std::vector<PartyIndex> traders_;
  std::map<PartyIndex, std::vector<std::pair<InstrumentIndex, std::string>>> open_inst_;
  std::vector<std::pair<PartyIndex, std::string>> used_;
  std::string prefix_;
  std::uint64_t counter_ = 1;
};

}  // namespace haihe::exchange::test
