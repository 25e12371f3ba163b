// haihe::sim — what a run is measured by, and statistics across seeds.
//
// MarketObserver follows the public side of a market from the core's
// events (book levels, trades, reference and band, trade reports with
// their compensation): every agent's price view and every metric that needs
// no private values come from it. Metrics that need values (efficiency,
// savings) come from the agents' schedules (sim/valuation.h).
//
// Definitions (per instrument):
//   price RMSE       sqrt(mean over trades of (price - p*)^2), fen, p* the
//                    competitive equilibrium price (charges included)
//   mean spread      mean of best ask - best bid over the samples taken
//                    after each core step when both sides are quoted and
//                    the book is not crossed (fen)
//   volatility       standard deviation of the log returns between
//                    consecutive trade prices, in percent
//   time to eq       seconds of simulated time from the start to the first
//                    trade within 1% of p*
// Across seeds: the mean and a 95% confidence interval from Student's t
// (n - 1 degrees of freedom); NaN values (e.g. no trades) are left out.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "exchange/core.h"
#include "sim/agents.h"

namespace haihe::sim {

struct TradeObs {
  exchange::TimestampNs ts_ns = 0;
  Fen price_fen = 0;
  Qty qty = 0;
};

class MarketObserver {
 public:
  explicit MarketObserver(const rules::MarketRules& rules);

  /// Any event (party events are ignored).
  void on_event(const exchange::Event& e);
  /// After a step: samples the spread of every instrument.
  void sample();

  struct Book {
    std::map<Fen, Qty, std::greater<>> bids;
    std::map<Fen, Qty> asks;
    Fen reference_fen = 0;
    Fen band_lo_fen = 0;  // lowest limit accepted (floor and band)
    Fen band_hi_fen = 0;
    std::optional<Fen> last_trade_fen;
    std::vector<TradeObs> trades;  // from the trade reports, in order
    double spread_sum_fen = 0;
    std::uint64_t spread_samples = 0;
  };
  const Book& book(rules::InstrumentIndex i) const { return books_[i]; }
  InstrumentView view(rules::InstrumentIndex i) const;
  /// Compensation received per party (index = PartyIndex), fen.
  const std::vector<Fen>& compensation_fen() const { return compensation_; }

 private:
  const rules::MarketRules* rules_;
  std::vector<Book> books_;
  std::vector<Fen> compensation_;
};

double price_rmse_fen(std::span<const TradeObs> trades, double ce_price_fen);
double volatility_pct(std::span<const TradeObs> trades);
/// Seconds after `start_ns` of the first trade within `tolerance` (0.01 =
/// 1%) of the price; NaN if none.
double time_to_within_s(std::span<const TradeObs> trades, double price_fen, double tolerance,
                        exchange::TimestampNs start_ns);
double vwap_fen(std::span<const TradeObs> trades);
double mean_spread_fen(const MarketObserver::Book& b);

struct Stat {
  double mean = 0;
  double ci_lo = 0;  // 95% confidence interval of the mean
  double ci_hi = 0;
  double sd = 0;
  std::size_t n = 0;  // values that were not NaN
};
/// NaN fields when n == 0; the interval is the mean itself when n == 1.
Stat summarize(std::span<const double> values);

}  // namespace haihe::sim
