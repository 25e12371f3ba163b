#include "gateway/publisher.h"

#include <cassert>
#include <cstdio>
#include <optional>
#include <span>

#include "engine/engine.h"
#include "gateway/codes.h"
#include "gateway/fix_build.h"
#include "gateway/translate.h"

namespace haihe::gateway {

namespace {

using exchange::Event;
using exchange::EventKind;
using exchange::PartyIndex;
using rules::kNone;

const char* side_char(exchange::Side s) { return s == exchange::Side::buy ? "1" : "2"; }

const char* tif_char(exchange::TimeInForce t) {
  switch (t) {
    case exchange::TimeInForce::day: return "0";
    case exchange::TimeInForce::gtc: return "1";
    case exchange::TimeInForce::gtd: return "6";
    case exchange::TimeInForce::ioc: return "3";
    case exchange::TimeInForce::fok: return "4";
  }
  return "0";
}

/// OrdStatus of a live or finished order from its quantities.
const char* ord_status(const Event& e) {
  if (e.leaves_qty > 0) return e.cum_qty > 0 ? "1" : "0";
  if (e.cum_qty >= e.order_qty && e.order_qty > 0) return "2";
  return "4";
}

std::string seq_text(const Event& e) { return i2s(static_cast<std::int64_t>(e.seq)); }

// Tag orders of the repeating groups (the delimiter first), 0-terminated.
constexpr int kMdFullOrder[] = {269, 270, 271, 0};
constexpr int kMdIncOrder[] = {279, 269, 55, 270, 271, 880, 20040, 0};
constexpr int kSidesOrder[] = {54, 37, 1, 12, 13, 0};
constexpr int kPositionsOrder[] = {703, 704, 0};
constexpr int kPosAmtOrder[] = {707, 708, 0};

/// A PositionReport's two entries (type, amount) of the group `count`:
/// NoPositions (PosType, LongQty) or NoPosAmt (PosAmtType, PosAmt).
void add_free_and_reserved(FIX::Message& m, int count, const int* order,
                           const std::pair<const char*, std::string>& free,
                           const std::pair<const char*, std::string>& reserved) {
  for (const auto& [type, amount] : {free, reserved}) {
    FIX::Group g(count, order[0], order);
    set(g, order[0], type);
    set(g, order[1], amount);
    m.addGroup(g);
  }
}

}  // namespace

Publisher::Publisher(Shared& shared, SentMarks& marks, std::shared_ptr<exchange::Subscription> stream)
    : shared_(shared), rules_(shared.rules), marks_(marks), stream_(std::move(stream)),
      answers_(shared.sessions.size()) {}

Publisher::~Publisher() { stop(); }

void Publisher::start() {
  running_.store(true);
  thread_ = std::thread([this] { loop(); });
}

void Publisher::stop() {
  if (!thread_.joinable()) return;
  running_.store(false);
  thread_.join();
}

void Publisher::end_recovery() {
  for (auto& a : answers_) {
    a.positions.clear();
    a.mass.clear();
    a.mass_ref = 0;
  }
}

void Publisher::loop() {
  std::vector<Event> buf(1024);
  MdOut md_out;
  bool cut_reported = false;
  for (;;) {
    const std::size_t n = stream_->poll(std::span<Event>(buf.data(), buf.size()));
    if (n == 0) {
      if (stream_->cut_off() && !cut_reported) {
        cut_reported = true;
        std::fprintf(stderr, "gateway: the event stream was cut off (%s); restart the server to deliver the rest\n",
                     stream_->cut_off_reason().c_str());
      }
      if (!running_.load()) break;  // stop() comes after core.stop(): nothing more will arrive
      stream_->wait(std::chrono::microseconds(2000));
      continue;
    }
    shared_.counters.events.fetch_add(n, std::memory_order_relaxed);
    for (std::size_t k = 0; k < n; ++k) route(buf[k], md_out);
    flush_md(md_out);
    marks_.flush();
  }
}

void Publisher::route(const Event& e, MdOut& md_out) {
  switch (e.audience) {
    case exchange::Audience::party: return party_event(e);
    case exchange::Audience::market: return market_event(e, md_out);
    case exchange::Audience::regulator: return drop_copy(e);
  }
}

std::string Publisher::exec_id(const Event& e) {
  const std::uint64_t n = marks_.hand_over(e.party, e.seq);
  return seq_text(e) + "." + i2s(static_cast<std::int64_t>(n));
}

void Publisher::deliver(FIX::Message& m, const FIX::SessionID& sid) {
  send(m, sid);
  shared_.counters.sent.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- party events

void Publisher::party_event(const Event& e) {
  if (e.party >= shared_.sessions.size() || !shared_.sessions[e.party].has_session) return;
  // Market data snapshots are not the party's execution stream: no ExecID slot.
  if (e.kind == EventKind::book_level) return snapshot_level(e);
  if (e.kind == EventKind::admin_done || e.kind == EventKind::admin_rejected) {
    exec_id(e);  // counted, so that fix-sent stays exact
    return;
  }
  const std::string id = exec_id(e);
  switch (e.kind) {
    case EventKind::order_accepted:
    case EventKind::order_rejected:
    case EventKind::order_fill:
    case EventKind::order_cancelled:
    case EventKind::order_replaced:
    case EventKind::order_expired: return execution_report(e, id);
    case EventKind::order_status:
      if (e.user_ref != 0) {
        if (auto p = shared_.pending.take(e.user_ref, false); p && p->mass_status) {
          return mass_status_report(e, id, p->req_id);
        }
      }
      return execution_report(e, id);
    case EventKind::cancel_rejected: return cancel_rejected(e);
    case EventKind::mass_cancel_done: return mass_cancel_done(e);
    case EventKind::position: {
      auto& positions = answers_[e.party].positions;
      if (positions.size() < rules_.instruments.size()) positions.push_back(e);
      return;
    }
    case EventKind::cash: return position_reports(e);
    default: return;
  }
}

/// One order_status event of an AF answer: collected until the last, then
/// every report is sent with 584, 911 and 912. The core's answer when the
/// party has no open order (one rejected event, unknown_order, no order id)
/// becomes one report with 911=0.
void Publisher::mass_status_report(const Event& e, std::string id, const std::string& req_id) {
  PartyAnswers& a = answers_[e.party];
  if (a.mass_ref != e.user_ref) {
    // The events of one command are contiguous in a party's stream: a
    // different ref means a new answer (the old one cannot be incomplete).
    assert(a.mass.empty());
    a.mass.clear();
    a.mass_ref = e.user_ref;
  }
  a.mass.emplace_back(e, std::move(id));
  if (!e.is_last) return;
  shared_.pending.take(e.user_ref, true);
  const bool none = a.mass.size() == 1 && a.mass[0].first.reject_source != exchange::RejectSource::none &&
                    a.mass[0].first.order_id == 0;
  const std::size_t total = none ? 0 : a.mass.size();
  for (std::size_t k = 0; k < a.mass.size(); ++k) {
    const MassReport r{&req_id, total, k + 1 == a.mass.size()};
    execution_report(a.mass[k].first, a.mass[k].second, &r);
  }
  a.mass.clear();
  if (a.mass.capacity() > 1024) a.mass.shrink_to_fit();
  a.mass_ref = 0;
}

void Publisher::execution_report(const Event& e, const std::string& id, const MassReport* mass) {
  const bool rejected = e.reject_source != exchange::RejectSource::none;
  auto m = new_message("8");
  set(m, 37, e.order_id != 0 ? i2s(static_cast<std::int64_t>(e.order_id)) : "NONE");
  set(m, 17, id);
  std::string cl = cl_text(e.cl_ord_id);
  std::string orig;
  const char* exec_type = "0";
  const char* status = "0";
  switch (e.kind) {
    case EventKind::order_accepted:
      exec_type = "0";
      status = "0";
      break;
    case EventKind::order_rejected:
      exec_type = "8";
      status = "8";
      break;
    case EventKind::order_fill:
      exec_type = "F";
      status = e.leaves_qty > 0 ? "1" : "2";
      break;
    case EventKind::order_cancelled:
      exec_type = "4";
      status = "4";
      if (e.command == exchange::CommandKind::cancel) {
        if (const auto p = shared_.pending.take(e.user_ref, true)) {
          orig = cl;
          cl = p->cl_ord_id;
        }
      }
      break;
    case EventKind::order_replaced:
      exec_type = "5";
      status = e.cum_qty > 0 ? "1" : "0";
      orig = cl_text(e.orig_cl_ord_id);
      break;
    case EventKind::order_expired:
      exec_type = "C";
      status = "C";
      break;
    case EventKind::order_status: {
      exec_type = "I";
      status = rejected ? "8" : ord_status(e);
      if (cl.empty()) cl = cl_text(e.orig_cl_ord_id);
      if (mass) {
        set(m, 584, *mass->req_id);
        set(m, 911, i2s(static_cast<std::int64_t>(mass->total)));
        set(m, 912, mass->last ? "Y" : "N");
      } else if (const auto p = shared_.pending.take(e.user_ref, e.is_last != 0)) {
        set(m, 790, p->req_id);
      }
      break;
    }
    default: break;
  }
  if (!cl.empty()) set(m, 11, cl);
  if (!orig.empty()) set(m, 41, orig);
  set(m, 150, exec_type);
  set(m, 39, status);
  if (rejected && mass) {
    set(m, 58, "no open orders");  // the only rejection of a mass status answer (911=0)
  } else if (rejected) {
    set(m, 103, i2s(ord_rej_reason(e.reject_source, e.reject_code)));
    set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
  } else if (e.kind == EventKind::order_cancelled) {
    set(m, 58, "cancel: " + std::string(engine::to_string(static_cast<engine::CancelCause>(e.cancel_cause))));
  }
  set(m, 1, rules_.parties[e.party].id);
  set(m, 55, e.instrument < rules_.instruments.size() ? rules_.instruments[e.instrument].symbol : "NONE");
  set(m, 54, side_char(e.side));
  set(m, 40, e.type == exchange::OrderType::market ? "1" : "2");
  if (e.type == exchange::OrderType::limit && e.price_fen > 0) set(m, 44, format_yuan(e.price_fen));
  if (e.order_qty > 0) set(m, 38, i2s(e.order_qty));
  set(m, 59, tif_char(e.tif));
  if (e.tif == exchange::TimeInForce::gtd && e.expire_date != 0) set(m, 432, i2s(e.expire_date));
  if (e.kind == EventKind::order_fill) {
    set(m, 32, i2s(e.last_qty));
    set(m, 31, format_yuan(e.last_px_fen));
    set(m, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
    set(m, 12, format_yuan(e.fee_fen));
    set(m, 13, "3");
    if (e.side == exchange::Side::buy) {
      set(m, 20022, format_yuan(e.compensation_fen));
      set(m, 20024, i2s(e.delivered_qty));
    } else {
      set(m, 20023, format_yuan(e.levy_fen));
    }
  }
  const bool done = rejected || e.kind == EventKind::order_cancelled || e.kind == EventKind::order_expired;
  set(m, 151, i2s(done ? 0 : std::max<exchange::Qty>(0, e.leaves_qty)));
  set(m, 14, i2s(e.cum_qty));
  set(m, 6, format_avg_px(e.cum_value_fen, e.cum_qty));
  set(m, 60, fix_time(e.ts_ns));
  set(m, 20040, seq_text(e));
  deliver(m, shared_.sessions[e.party].sid);
}

void Publisher::cancel_rejected(const Event& e) {
  shared_.pending.take(e.user_ref, true);
  auto m = new_message("9");
  set(m, 37, e.order_id != 0 ? i2s(static_cast<std::int64_t>(e.order_id)) : "NONE");
  const std::string cl = cl_text(e.cl_ord_id), orig = cl_text(e.orig_cl_ord_id);
  set(m, 11, cl.empty() ? "NONE" : cl);
  set(m, 41, orig.empty() ? "NONE" : orig);
  set(m, 39, e.order_id != 0 && e.order_qty > 0 ? ord_status(e) : "8");
  set(m, 1, rules_.parties[e.party].id);
  set(m, 434, e.command == exchange::CommandKind::replace ? "2" : "1");
  set(m, 102, i2s(cxl_rej_reason(e.reject_source, e.reject_code)));
  set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
  set(m, 20040, seq_text(e));
  deliver(m, shared_.sessions[e.party].sid);
}

void Publisher::mass_cancel_done(const Event& e) {
  auto m = new_message("r");
  const std::string cl = cl_text(e.cl_ord_id);
  if (!cl.empty()) set(m, 11, cl);
  set(m, 37, "MC" + seq_text(e));
  const char* type = e.instrument == kNone ? "7" : "1";
  set(m, 530, type);
  if (e.reject_source != exchange::RejectSource::none) {
    set(m, 531, "0");
    set(m, 532, e.reject_code == static_cast<std::uint8_t>(exchange::CoreReject::unknown_instrument) ? "1" : "99");
    set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
  } else {
    set(m, 531, type);
    set(m, 533, i2s(e.order_qty));
  }
  if (e.instrument < rules_.instruments.size()) set(m, 55, rules_.instruments[e.instrument].symbol);
  set(m, 20040, seq_text(e));
  deliver(m, shared_.sessions[e.party].sid);
}

void Publisher::position_reports(const Event& cash) {
  const auto pending = shared_.pending.take(cash.user_ref, true);
  auto& positions = answers_[cash.party].positions;
  const FIX::SessionID& sid = shared_.sessions[cash.party].sid;
  const auto total = static_cast<std::int64_t>(positions.size() + 1);
  const std::string& account = rules_.parties[cash.party].id;
  std::int64_t k = 0;
  const std::string business_date = local_date(cash.ts_ns, rules_.utc_offset_min);
  // FIX 4.4 requires a settlement price in every AP: the exchange settles at
  // the trade, so it gives the instrument's reference price (0.00 for cash).
  const auto header = [&](FIX::Message& m, exchange::Fen settl_fen) {
    set(m, 721, seq_text(cash) + "." + i2s(k++));
    if (pending) set(m, 710, pending->req_id);
    set(m, 728, "0");
    set(m, 727, i2s(total));
    set(m, 715, business_date);
    set(m, 1, account);
    set(m, 581, "1");  // AccountType: carried on the customer side of the books
    set(m, 730, format_yuan(settl_fen));
    set(m, 731, "2");  // SettlPriceType: theoretical
    set(m, 734, format_yuan(settl_fen));
    set(m, 20040, seq_text(cash));
  };
  for (const Event& e : positions) {
    auto m = new_message("AP");
    const bool known = e.instrument < rules_.instruments.size();
    header(m, known ? shared_.instruments[e.instrument].reference_fen.load() : 0);
    if (known) set(m, 55, rules_.instruments[e.instrument].symbol);
    add_free_and_reserved(m, 702, kPositionsOrder, {"FREE", i2s(e.cum_qty)}, {"RSVD", i2s(e.aux_fen)});
    deliver(m, sid);
  }
  positions.clear();
  auto m = new_message("AP");
  header(m, 0);
  add_free_and_reserved(m, 753, kPosAmtOrder, {"CASH", format_yuan(cash.cum_value_fen)},
                        {"CRSV", format_yuan(cash.aux_fen)});
  deliver(m, sid);
}

// ---------------------------------------------------------------- market data

void Publisher::snapshot_level(const Event& e) {
  MarketDataSubs& md = shared_.md;
  if (md.count.load(std::memory_order_relaxed) == 0) return;
  std::optional<std::pair<FIX::SessionID, FIX::Message>> out;
  {
    std::lock_guard lock(md.mutex);
    const auto it = md.subs.find(e.user_ref);
    if (it == md.subs.end() || it->second.party != e.party) return;
    MdSub& s = it->second;
    if (e.reject_source == exchange::RejectSource::none && e.order_qty > 0 &&
        s.levels.size() < MarketDataSubs::kMaxLevels) {
      s.levels.push_back(e);
    }
    if (!e.is_last) return;
    auto m = new_message("W");
    set(m, 262, s.req_id);
    set(m, 55, rules_.instruments[s.instrument].symbol);
    set(m, 20040, seq_text(e));
    int bids = 0, offers = 0;
    for (const Event& l : s.levels) {
      const bool bid = l.side == exchange::Side::buy;
      if (bid ? !s.bids : !s.offers) continue;
      int& n = bid ? bids : offers;
      if (s.depth > 0 && n >= s.depth) continue;
      ++n;
      FIX::Group g(268, 269, kMdFullOrder);
      set(g, 269, bid ? "0" : "1");
      set(g, 270, format_yuan(l.price_fen));
      set(g, 271, i2s(l.order_qty));
      m.addGroup(g);
    }
    if (bids + offers == 0) set(m, 268, "0");
    s.levels.clear();
    s.levels.shrink_to_fit();
    s.snapshot_seq = e.seq;
    out.emplace(s.sid, std::move(m));
    if (s.updates) {
      s.live = true;
    } else {
      md.subs.erase(it);
      md.recount();
    }
  }
  deliver(out->second, out->first);
}

void Publisher::market_event(const Event& e, MdOut& md_out) {
  if (e.instrument >= shared_.instruments.size()) return;
  auto& st = shared_.instruments[e.instrument];
  if (e.kind == EventKind::state) {
    st.state.store(static_cast<std::uint8_t>(e.state));
    return;
  }
  if (e.kind == EventKind::reference) {
    st.reference_fen.store(e.price_fen);
    st.band_low_fen.store(e.last_px_fen);
    st.band_high_fen.store(e.aux_fen);
    return;
  }
  if (e.kind != EventKind::level && e.kind != EventKind::trade) return;
  MarketDataSubs& md = shared_.md;
  if (md.count.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard lock(md.mutex);
  for (auto& [tok, s] : md.subs) {
    if (!s.live || s.instrument != e.instrument || e.seq <= s.snapshot_seq) continue;
    const bool trade = e.kind == EventKind::trade;
    const bool bid = e.side == exchange::Side::buy;
    if (trade ? !s.trades : (bid ? !s.bids : !s.offers)) continue;
    // One X per (subscription, command): reuse the last message if it is ours.
    if (md_out.empty() || !(md_out.back().first == s.sid) || md_out.back().second.getField(262) != s.req_id ||
        md_out.back().second.getField(20040) != seq_text(e)) {
      auto m = new_message("X");
      set(m, 262, s.req_id);
      set(m, 20040, seq_text(e));  // removed before sending
      md_out.emplace_back(s.sid, std::move(m));
    }
    FIX::Group g(268, 279, kMdIncOrder);
    if (trade) {
      set(g, 279, "0");
      set(g, 269, "2");
      set(g, 271, i2s(e.last_qty));
      set(g, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
    } else {
      set(g, 279, e.order_qty > 0 ? "1" : "2");
      set(g, 269, bid ? "0" : "1");
      set(g, 271, i2s(e.order_qty));
    }
    set(g, 55, rules_.instruments[e.instrument].symbol);
    set(g, 270, format_yuan(e.price_fen));
    set(g, 20040, seq_text(e));
    md_out.back().second.addGroup(g);
  }
}

void Publisher::flush_md(MdOut& md_out) {
  for (auto& [sid, m] : md_out) {
    m.removeField(20040);
    deliver(m, sid);
  }
  md_out.clear();
}

// ---------------------------------------------------------------- drop copy

void Publisher::drop_copy(const Event& e) {
  const auto& regulators = shared_.sessions.regulators();
  if (e.kind != EventKind::trade_report || regulators.empty()) return;
  if (e.instrument >= rules_.instruments.size()) return;
  const auto& ins = rules_.instruments[e.instrument];
  auto m = new_message("AE");
  set(m, 571, i2s(static_cast<std::int64_t>(e.trade_id)));
  set(m, 570, "N");
  set(m, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
  set(m, 55, ins.symbol);
  set(m, 32, i2s(e.last_qty));
  set(m, 31, format_yuan(e.last_px_fen));
  set(m, 75, local_date(e.ts_ns, rules_.utc_offset_min));
  set(m, 60, fix_time(e.ts_ns));
  set(m, 20024, i2s(e.delivered_qty));
  set(m, 20022, format_yuan(e.compensation_fen));
  if (e.beneficiary < rules_.parties.size()) set(m, 20025, rules_.parties[e.beneficiary].id);
  set(m, 20023, format_yuan(e.levy_fen));
  if (const auto* levy = rules_.levy_for(ins); levy && levy->fund < rules_.parties.size()) {
    set(m, 20026, rules_.parties[levy->fund].id);
  }
  set(m, 20040, seq_text(e));
  const auto side = [&](const char* s, PartyIndex party, exchange::OrderId order, exchange::Fen fee) {
    FIX::Group g(552, 54, kSidesOrder);
    set(g, 54, s);
    set(g, 37, i2s(static_cast<std::int64_t>(order)));
    if (party < rules_.parties.size()) set(g, 1, rules_.parties[party].id);
    set(g, 12, format_yuan(fee));
    set(g, 13, "3");
    m.addGroup(g);
  };
  side("1", e.party, e.order_id, e.fee_fen);
  side("2", e.counterparty, e.other_order_id, e.other_fee_fen);
  for (const PartyIndex r : regulators) {
    FIX::Message copy = m;
    deliver(copy, shared_.sessions[r].sid);
  }
}

}  // namespace haihe::gateway
