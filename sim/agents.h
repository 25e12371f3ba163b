// haihe::sim — the agents: zero-intelligence traders (Gode & Sunder 1993),
// emission-permit firms, water users and a simple market maker.
//
// An agent is one party trading one instrument. On its turn it looks at
// what it knows (its own orders, fills and holdings, and the public market:
// best prices, last trade, the price band) and appends 0..2 commands; it
// learns the outcome from its own execution events after the core's step.
// It keeps at most one live order per side and re-quotes by replacing it
// (or cancelling it when it changes side).
//
// Traders with a `Schedule` (sim/valuation.h) quote for their next lots:
//   ZI-C: a buy price uniform on the tick grid between the lowest accepted
//         price and the highest at which the lot, charges included, still
//         costs no more than it is worth; a sell price between the lowest
//         at which the proceeds cover its cost and the highest accepted.
//   ZI-U: any accepted price, whatever the value; still only for units it
//         has (a buyer its wanted units in order, a seller what it holds).
// A buyer's lots are bought in order (the most valuable first), a seller's
// sold in order (the cheapest first). An order of q lots is priced by the
// q-th lot's value or cost, so no lot of it trades at a loss (ZI-C).
// Emission firms and water users are ZI-C traders whose schedules come from
// abatement costs and the marginal value of water; a firm may buy or sell
// (each turn it picks one side at random among those it can quote).
//
// The market maker quotes a bid and an ask `half_spread_fen` around the
// mean of the last 20 trade prices (else the mid, else the reference: a
// single print of zero-intelligence traders is too noisy), shifted down by
// `skew_fen` per lot it holds above its start; it never holds more than
// `max_inventory_lots` above its start (its bid shrinks as it nears the
// limit) and asks only what it holds.
//
// Everything random comes from the agent's own Rng (sim/rng.h).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "exchange/core.h"
#include "sim/rng.h"
#include "sim/scenario.h"
#include "sim/valuation.h"

namespace haihe::sim {

/// The public state of the agent's instrument between two steps.
struct InstrumentView {
  Fen lo_fen = 0;  // lowest limit accepted now (floor, band), on the tick
  Fen hi_fen = 0;  // highest
  Fen reference_fen = 0;
  std::optional<Fen> best_bid_fen;
  std::optional<Fen> best_ask_fen;
  std::optional<Fen> last_trade_fen;
  std::optional<Fen> recent_price_fen;  // mean of the last (up to) 20 trade prices
};

class Agent {
 public:
  /// `schedule` is empty for a market maker. `start_holdings_qty` is what
  /// the ledger holds for it when trading starts.
  Agent(const AgentSpec& spec, std::uint32_t index, rules::PartyIndex party, rules::InstrumentIndex instrument,
        Strategy strategy, Schedule schedule, Qty start_holdings_qty, std::uint64_t seed);

  /// Its turn: appends the commands it sends (0, 1 or 2).
  void act(const InstrumentView& view, std::vector<exchange::Command>& out);
  /// One of its own execution events (audience party, party == party()).
  void on_event(const exchange::Event& e);

  rules::PartyIndex party() const { return party_; }
  rules::InstrumentIndex instrument() const { return instrument_; }
  AgentKind kind() const { return kind_; }
  const Schedule& schedule() const { return schedule_; }
  /// Lots bought minus lots sold.
  std::int64_t position_lots() const { return position_lots_; }
  /// Holdings as its fills say (start + delivered bought - sold).
  Qty holdings_qty() const { return holdings_qty_; }
  Qty start_holdings_qty() const { return start_holdings_qty_; }
  /// Its gain in fen from its trades (schedule worth of its position).
  Fen surplus_fen() const { return schedule_.worth(position_lots_); }
  std::uint64_t orders_sent() const { return orders_sent_; }      // new orders and replaces
  std::uint64_t commands_sent() const { return commands_sent_; }  // all commands
  std::uint64_t rejects() const { return rejects_; }              // orders the exchange refused
  std::uint64_t cancel_rejects() const { return cancel_rejects_; }
  std::uint64_t fills() const { return fills_; }

 private:
  struct Slot {
    bool live = false;
    exchange::ClOrdId cl{};
    Fen price_fen = 0;
    Qty leaves_qty = 0;
    Qty cum_qty = 0;
  };
  struct Quote {
    exchange::Side side = exchange::Side::buy;
    Fen price_fen = 0;
    std::int64_t lots = 0;
  };

  std::optional<Quote> trader_quote(const InstrumentView& v, exchange::Side side);
  void market_maker(const InstrumentView& v, std::vector<exchange::Command>& out);
  /// Places, replaces or keeps the order on q.side (cancels the other side when `exclusive`).
  void place(const Quote& q, bool exclusive, std::vector<exchange::Command>& out);
  void cancel(exchange::Side side, std::vector<exchange::Command>& out);
  exchange::ClOrdId next_cl();
  exchange::Command base_command(exchange::CommandKind kind, exchange::Side side) const;
  Slot& slot(exchange::Side s) { return slots_[static_cast<int>(s)]; }

  const AgentSpec* spec_;
  std::uint32_t index_;
  rules::PartyIndex party_;
  rules::InstrumentIndex instrument_;
  AgentKind kind_;
  Strategy strategy_;
  Role role_;
  Schedule schedule_;
  Qty lot_qty_;
  Fen tick_fen_;
  Qty start_holdings_qty_;
  Rng rng_;
  Slot slots_[2];
  std::int64_t position_lots_ = 0;
  Qty holdings_qty_ = 0;
  std::uint64_t next_cl_ = 1;
  std::uint64_t orders_sent_ = 0;
  std::uint64_t commands_sent_ = 0;
  std::uint64_t rejects_ = 0;
  std::uint64_t cancel_rejects_ = 0;
  std::uint64_t fills_ = 0;
};

}  // namespace haihe::sim
