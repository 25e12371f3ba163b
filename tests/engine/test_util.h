// Engine test helpers: an event recorder, readable event printing, params.
#pragma once

#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "engine/engine.h"

namespace haihe::engine::test {

using Event = std::variant<Accepted, Rejected, Trade, Cancelled, Replaced, Expired, LevelChanged,
                           StateChanged, ReferenceChanged, Indicative>;

/// Records every event in order.
struct Recorder {
  std::vector<Event> events;
  void on_accepted(const Accepted& e) { events.emplace_back(e); }
  void on_rejected(const Rejected& e) { events.emplace_back(e); }
  void on_trade(const Trade& e) { events.emplace_back(e); }
  void on_cancelled(const Cancelled& e) { events.emplace_back(e); }
  void on_replaced(const Replaced& e) { events.emplace_back(e); }
  void on_expired(const Expired& e) { events.emplace_back(e); }
  void on_level(const LevelChanged& e) { events.emplace_back(e); }
  void on_state(const StateChanged& e) { events.emplace_back(e); }
  void on_reference(const ReferenceChanged& e) { events.emplace_back(e); }
  void on_indicative(const Indicative& e) { events.emplace_back(e); }
  std::vector<Event> take() {
    std::vector<Event> out;
    out.swap(events);
    return out;
  }
};

inline std::string describe(const Event& ev) {
  std::ostringstream s;
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Accepted>) {
          s << "Accepted{i" << e.instrument << " #" << e.order << " a" << e.account << " "
            << to_string(e.side) << " " << to_string(e.type) << " " << to_string(e.tif) << " "
            << to_string(e.stp) << (e.post_only ? " post" : "") << " " << e.qty << "@" << e.price_fen
            << " exp" << e.expire_date << "}";
        } else if constexpr (std::is_same_v<T, Rejected>) {
          s << "Rejected{i" << e.instrument << " #" << e.order << " a" << e.account << " "
            << to_string(e.command) << " " << to_string(e.reason) << "}";
        } else if constexpr (std::is_same_v<T, Trade>) {
          s << "Trade{i" << e.instrument << " t" << e.trade_id << " " << e.qty << "@" << e.price_fen
            << " aggr " << to_string(e.aggressor_side) << " #" << e.aggressor_order << " a"
            << e.aggressor_account << " leaves " << e.aggressor_leaves_qty << " rest #"
            << e.resting_order << " a" << e.resting_account << " leaves " << e.resting_leaves_qty << "}";
        } else if constexpr (std::is_same_v<T, Cancelled>) {
          s << "Cancelled{i" << e.instrument << " #" << e.order << " a" << e.account << " "
            << to_string(e.side) << " @" << e.price_fen << " qty " << e.cancelled_qty << " filled "
            << e.filled_qty << " " << to_string(e.cause) << "}";
        } else if constexpr (std::is_same_v<T, Replaced>) {
          s << "Replaced{i" << e.instrument << " #" << e.order << " a" << e.account << " "
            << to_string(e.side) << " @" << e.old_price_fen << "->" << e.price_fen << " qty " << e.qty
            << " leaves " << e.leaves_qty << " filled " << e.filled_qty
            << (e.priority_kept ? " kept" : " lost") << "}";
        } else if constexpr (std::is_same_v<T, Expired>) {
          s << "Expired{i" << e.instrument << " #" << e.order << " a" << e.account << " "
            << to_string(e.side) << " @" << e.price_fen << " qty " << e.expired_qty << " filled "
            << e.filled_qty << " " << to_string(e.tif) << "}";
        } else if constexpr (std::is_same_v<T, LevelChanged>) {
          s << "Level{i" << e.instrument << " " << to_string(e.side) << " @" << e.price_fen << " = "
            << e.qty << "}";
        } else if constexpr (std::is_same_v<T, StateChanged>) {
          s << "State{i" << e.instrument << " " << to_string(e.previous) << "->" << to_string(e.state)
            << "}";
        } else if constexpr (std::is_same_v<T, ReferenceChanged>) {
          s << "Reference{i" << e.instrument << " " << e.reference_fen << " band [" << e.band_low_fen
            << ", " << e.band_high_fen << "]}";
        } else {
          s << "Indicative{i" << e.instrument << " " << e.volume_qty << "@" << e.price_fen << " imb "
            << e.imbalance_qty << "}";
        }
      },
      ev);
  return s.str();
}

inline std::string describe(const std::vector<Event>& evs) {
  std::string out;
  for (const auto& e : evs) out += "  " + describe(e) + "\n";
  return out;
}

}  // namespace haihe::engine::test

namespace haihe::engine {
// GoogleTest prints events readably (found by argument-dependent lookup).
inline void PrintTo(const test::Event& e, std::ostream* os) { *os << test::describe(e); }
}  // namespace haihe::engine

namespace haihe::engine::test {

/// A simple instrument: tick 5 fen, lot 10, floor 50, ceiling 1000,
/// reference 500, band 10% ([450, 550]).
inline InstrumentParams simple_params(InstrumentId id = 0) {
  InstrumentParams p;
  p.id = id;
  p.tick_fen = 5;
  p.lot_qty = 10;
  p.floor_fen = 50;
  p.ceiling_fen = 1000;
  p.reference_fen = 500;
  p.band_bps = 1000;
  p.max_orders = 64;
  p.max_levels = 1024;
  p.max_order_qty = 1'000'000;
  return p;
}

}  // namespace haihe::engine::test
