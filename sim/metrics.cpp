// haihe::sim — the market observer and the statistics.
#include "sim/metrics.h"

#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace haihe::sim {

__extension__ typedef __int128 i128;

using exchange::Event;
using exchange::EventKind;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

MarketObserver::MarketObserver(const rules::MarketRules& rules)
    : rules_(&rules), books_(rules.instruments.size()), compensation_(rules.parties.size(), 0) {
  for (std::size_t i = 0; i < rules.instruments.size(); ++i) {
    const rules::Instrument& in = rules.instruments[i];
    Book& b = books_[i];
    b.reference_fen = in.reference_fen;
    const Fen width = static_cast<Fen>(static_cast<i128>(in.reference_fen) * in.band_bps / rules::kBpsDenominator);
    b.band_lo_fen = in.band_bps == 0 ? in.floor_fen : std::max(in.floor_fen, in.reference_fen - width);
    b.band_hi_fen = in.band_bps == 0 ? in.ceiling_fen : std::min(in.ceiling_fen, in.reference_fen + width);
  }
}

void MarketObserver::on_event(const Event& e) {
  if (e.instrument >= books_.size()) return;
  Book& b = books_[e.instrument];
  switch (e.kind) {
    case EventKind::level:
      if (e.side == exchange::Side::buy) {
        if (e.order_qty == 0) b.bids.erase(e.price_fen); else b.bids[e.price_fen] = e.order_qty;
      } else {
        if (e.order_qty == 0) b.asks.erase(e.price_fen); else b.asks[e.price_fen] = e.order_qty;
      }
      break;
    case EventKind::trade: b.last_trade_fen = e.price_fen; break;
    case EventKind::reference:
      b.reference_fen = e.price_fen;
      b.band_lo_fen = e.last_px_fen;
      b.band_hi_fen = e.aux_fen;
      break;
    case EventKind::trade_report:
      b.trades.push_back(TradeObs{e.ts_ns, e.price_fen, e.last_qty});
      if (e.beneficiary < compensation_.size()) compensation_[e.beneficiary] += e.compensation_fen;
      break;
    default: break;
  }
}

void MarketObserver::sample() {
  for (Book& b : books_) {
    if (b.bids.empty() || b.asks.empty()) continue;
    const Fen bid = b.bids.begin()->first;
    const Fen ask = b.asks.begin()->first;
    if (ask <= bid) continue;  // a crossed book (an auction collecting orders) has no spread
    b.spread_sum_fen += static_cast<double>(ask - bid);
    ++b.spread_samples;
  }
}

InstrumentView MarketObserver::view(rules::InstrumentIndex i) const {
  const Book& b = books_[i];
  InstrumentView v;
  v.lo_fen = b.band_lo_fen;
  v.hi_fen = b.band_hi_fen;
  v.reference_fen = b.reference_fen;
  if (!b.bids.empty()) v.best_bid_fen = b.bids.begin()->first;
  if (!b.asks.empty()) v.best_ask_fen = b.asks.begin()->first;
  v.last_trade_fen = b.last_trade_fen;
  if (!b.trades.empty()) {
    const std::size_t n = std::min<std::size_t>(20, b.trades.size());
    Fen sum = 0;
    for (std::size_t k = b.trades.size() - n; k < b.trades.size(); ++k) sum += b.trades[k].price_fen;
    v.recent_price_fen = sum / static_cast<Fen>(n);
  }
  return v;
}

double price_rmse_fen(std::span<const TradeObs> trades, double ce_price_fen) {
  if (trades.empty()) return kNaN;
  double sum = 0;
  for (const auto& t : trades) {
    const double d = static_cast<double>(t.price_fen) - ce_price_fen;
    sum += d * d;
  }
  return std::sqrt(sum / static_cast<double>(trades.size()));
}

double volatility_pct(std::span<const TradeObs> trades) {
  if (trades.size() < 3) return kNaN;  // at least two returns
  std::vector<double> r;
  r.reserve(trades.size() - 1);
  for (std::size_t k = 1; k < trades.size(); ++k) {
    r.push_back(std::log(static_cast<double>(trades[k].price_fen) / static_cast<double>(trades[k - 1].price_fen)));
  }
  double mean = 0;
  for (const double x : r) mean += x;
  mean /= static_cast<double>(r.size());
  double ss = 0;
  for (const double x : r) ss += (x - mean) * (x - mean);
  return 100.0 * std::sqrt(ss / static_cast<double>(r.size() - 1));
}

double time_to_within_s(std::span<const TradeObs> trades, double price_fen, double tolerance,
                        exchange::TimestampNs start_ns) {
  for (const auto& t : trades) {
    if (std::abs(static_cast<double>(t.price_fen) - price_fen) <= tolerance * price_fen) {
      return static_cast<double>(t.ts_ns - start_ns) / 1e9;
    }
  }
  return kNaN;
}

double vwap_fen(std::span<const TradeObs> trades) {
  double value = 0;
  double qty = 0;
  for (const auto& t : trades) {
    value += static_cast<double>(t.price_fen) * static_cast<double>(t.qty);
    qty += static_cast<double>(t.qty);
  }
  return qty > 0 ? value / qty : kNaN;
}

double mean_spread_fen(const MarketObserver::Book& b) {
  return b.spread_samples > 0 ? b.spread_sum_fen / static_cast<double>(b.spread_samples) : kNaN;
}

Stat summarize(std::span<const double> values) {
  Stat s;
  double sum = 0;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++s.n;
  }
  if (s.n == 0) {
    s.mean = s.ci_lo = s.ci_hi = s.sd = kNaN;
    return s;
  }
  s.mean = sum / static_cast<double>(s.n);
  if (s.n == 1) {
    s.ci_lo = s.ci_hi = s.mean;
    s.sd = 0;
    return s;
  }
  double ss = 0;
  for (const double v : values) {
    if (!std::isnan(v)) ss += (v - s.mean) * (v - s.mean);
  }
  s.sd = std::sqrt(ss / static_cast<double>(s.n - 1));
  const boost::math::students_t dist(static_cast<double>(s.n - 1));
  const double t = boost::math::quantile(boost::math::complement(dist, 0.025));
  const double half = t * s.sd / std::sqrt(static_cast<double>(s.n));
  s.ci_lo = s.mean - half;
  s.ci_hi = s.mean + half;
  return s;
}

}  // namespace haihe::sim
