#include "gateway/inbound.h"

#include <chrono>
#include <cstdio>

#include "gateway/codes.h"
#include "gateway/fix_build.h"
#include "gateway/translate.h"

namespace haihe::gateway {

using exchange::InstrumentIndex;
using exchange::PartyIndex;
using rules::kNone;

namespace {
constexpr int kSecListOrder[] = {55,   107,   20010, 20001, 969,   561,   20009, 20012,
                                 20008, 20007, 20006, 20011, 20002, 20003, 20004, 20005, 0};
}  // namespace

Inbound::Inbound(Shared& shared, PasswordFile passwords)
    : shared_(shared), rules_(shared.rules), passwords_(std::move(passwords)) {
  throttles_.resize(shared_.sessions.size());
  for (PartyIndex p = 0; p < shared_.sessions.size(); ++p) {
    auto& slot = throttles_[p];
    slot = std::make_unique<ThrottleSlot>();
    if (!shared_.sessions[p].has_session) continue;
    slot->throttle.reset(rules_.parties[p].max_msgs_per_s);
    if (passwords_.has(rules_.parties[p].id)) ++passwords_count_;
  }
}

// ---------------------------------------------------------------- sessions

void Inbound::onLogon(const FIX::SessionID& sid) {
  const PartyIndex p = shared_.sessions.party_of(sid);
  if (p != kNone) std::fprintf(stderr, "fix: %s logged on\n", rules_.parties[p].id.c_str());
}

void Inbound::onLogout(const FIX::SessionID& sid) {
  const PartyIndex p = shared_.sessions.party_of(sid);
  if (p == kNone) return;
  shared_.md.drop_party(p);
}

void Inbound::fromAdmin(const FIX::Message& msg, const FIX::SessionID& sid) {
  if (msg.getHeader().getField(FIX::FIELD::MsgType) != "A") return;
  const PartyIndex p = shared_.sessions.party_of(sid);
  if (p == kNone) throw FIX::RejectLogon("logon refused: unknown CompID");
  if (!msg.isSetField(553) || !msg.isSetField(554)) {
    throw FIX::RejectLogon("logon refused: Username (553) and Password (554) are required");
  }
  const std::string& user = msg.getField(553);
  const std::string& password = msg.getField(554);
  const auto& party = rules_.parties[p];
  if (!passwords_.has(party.id)) {
    std::fprintf(stderr, "fix: %s: logon refused: no password set\n", party.id.c_str());
    throw FIX::RejectLogon("logon refused: no password set for this party (haihe passwd)");
  }
  if (user != party.id || passwords_.check(party.id, password) != PasswordCheck::ok) {
    std::fprintf(stderr, "fix: %s: logon refused: wrong username or password\n", party.id.c_str());
    throw FIX::RejectLogon("logon refused: wrong username or password");
  }
}

void Inbound::fromApp(const FIX::Message& msg, const FIX::SessionID& sid) {
  const PartyIndex p = shared_.sessions.party_of(sid);
  if (p == kNone) return;  // cannot happen: every session is a party's
  const std::string& type = msg.getHeader().getField(FIX::FIELD::MsgType);
  if (type == "j") {
    // The party refuses one of ours: noted, never answered (a reject of a
    // reject could loop between two engines).
    std::fprintf(stderr, "fix: %s: BusinessMessageReject of our %s (seq %s): 380=%s %s\n",
                 rules_.parties[p].id.c_str(), opt(msg, 372).c_str(), opt(msg, 45).c_str(), opt(msg, 380).c_str(),
                 opt(msg, 58).c_str());
    return;
  }
  {
    ThrottleSlot& slot = *throttles_[p];
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    std::lock_guard lock(slot.mutex);
    if (!slot.throttle.allow(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count())) {
      shared_.counters.throttled.fetch_add(1, std::memory_order_relaxed);
      return refuse_generic(msg, sid, type, "throttle exceeded", kBizOther, kOrdRejOther, kCxlRejOther);
    }
  }
  if (!accepting_.load(std::memory_order_relaxed)) {
    return refuse_generic(msg, sid, type, "exchange stopping", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
  }
  if (type == "V") return market_data_request(msg, sid, p);
  if (type == "x") return security_list(msg, sid);
  // Order entry, positions, and every other type (translate() answers those
  // with BusinessMessageReject 380=3).
  order_entry(msg, sid, p, type);
}

// ---------------------------------------------------------------- the gateway's own answers

void Inbound::send_business_reject(const FIX::Message& msg, const FIX::SessionID& sid, int reason,
                                   const std::string& text) {
  auto r = new_message("j");
  if (msg.getHeader().isSetField(34)) set(r, 45, msg.getHeader().getField(34));
  set(r, 372, msg.getHeader().getField(FIX::FIELD::MsgType));
  for (int tag : {11, 262, 320, 584, 710, 790}) {
    if (msg.isSetField(tag)) {
      set(r, 379, msg.getField(tag));
      break;
    }
  }
  set(r, 380, i2s(reason));
  set(r, 58, text);
  send(r, sid);
}

void Inbound::send_order_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code, const std::string& text,
                                const char* exec_type) {
  auto r = new_message("8");
  set(r, 37, msg.isSetField(37) ? msg.getField(37) : "NONE");
  std::string exec = "G";  // gateway-made: no core sequence number
  exec += i2s(static_cast<std::int64_t>(shared_.next_ref() & 0x7fffffffffffffffull));
  set(r, 17, exec);
  set(r, 150, exec_type);
  set(r, 39, "8");
  set(r, 103, i2s(code));
  for (int tag : {11, 1, 38, 40, 44, 59, 432, 790}) {
    if (msg.isSetField(tag)) set(r, tag, msg.getField(tag));
  }
  set(r, 55, msg.isSetField(55) ? msg.getField(55) : "NONE");
  set(r, 54, msg.isSetField(54) ? msg.getField(54) : "1");
  set(r, 151, "0");
  set(r, 14, "0");
  set(r, 6, "0");
  set(r, 60, fix_time(wall_clock_ns()));
  set(r, 58, text);
  send(r, sid);
}

void Inbound::send_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type, int code,
                                 const std::string& text) {
  auto r = new_message("9");
  set(r, 37, msg.isSetField(37) ? msg.getField(37) : "NONE");
  set(r, 11, msg.isSetField(11) ? msg.getField(11) : "NONE");
  set(r, 41, msg.isSetField(41) ? msg.getField(41) : "NONE");
  set(r, 39, "8");
  if (msg.isSetField(1)) set(r, 1, msg.getField(1));
  set(r, 434, type == "G" ? "2" : "1");
  set(r, 102, i2s(code));
  set(r, 58, text);
  send(r, sid);
}

void Inbound::send_mass_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code,
                                      const std::string& text) {
  auto r = new_message("r");
  if (msg.isSetField(11)) set(r, 11, msg.getField(11));
  set(r, 37, "NONE");
  set(r, 530, msg.isSetField(530) ? msg.getField(530) : "7");
  set(r, 531, "0");
  set(r, 532, i2s(code));
  if (msg.isSetField(55)) set(r, 55, msg.getField(55));
  set(r, 58, text);
  send(r, sid);
}

/// A refusal before the core (throttle, busy, stopping) in the answer the message type calls for.
void Inbound::refuse_generic(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type,
                             const std::string& text, int biz, int ord_rej, int cxl_rej) {
  shared_.counters.rejected.fetch_add(1, std::memory_order_relaxed);
  if (type == "D") return send_order_reject(msg, sid, ord_rej, text, "8");
  if (type == "F" || type == "G") return send_cancel_reject(msg, sid, type, cxl_rej, text);
  if (type == "q") return send_mass_cancel_reject(msg, sid, 99, text);
  send_business_reject(msg, sid, biz, text);
}

void Inbound::md_reject(const FIX::Message& msg, const FIX::SessionID& sid, const char* reason,
                        const std::string& text) {
  shared_.counters.rejected.fetch_add(1, std::memory_order_relaxed);
  auto r = new_message("Y");
  set(r, 262, msg.isSetField(262) ? msg.getField(262) : "NONE");
  if (reason) set(r, 281, reason);
  set(r, 58, text);
  send(r, sid);
}

// ---------------------------------------------------------------- order entry

void Inbound::order_entry(const FIX::Message& msg, const FIX::SessionID& sid, PartyIndex p, const std::string& type) {
  Translation t = translate(msg, rules_, p);
  if (!t.ok) {
    shared_.counters.rejected.fetch_add(1, std::memory_order_relaxed);
    switch (t.reject.reply) {
      case ReplyKind::execution_report:
        return send_order_reject(msg, sid, t.reject.code, t.reject.text, type == "H" ? "I" : "8");
      case ReplyKind::cancel_reject: return send_cancel_reject(msg, sid, type, t.reject.code, t.reject.text);
      case ReplyKind::mass_cancel_report: return send_mass_cancel_reject(msg, sid, t.reject.code, t.reject.text);
      case ReplyKind::business_reject: return send_business_reject(msg, sid, t.reject.code, t.reject.text);
    }
    return;
  }
  // Requests whose answers need a text the core does not carry.
  std::uint64_t ref = 0;
  if (type == "F" || (type == "H" && msg.isSetField(790)) || type == "AN" || type == "AF") {
    ref = shared_.next_ref();
    Pending pending;
    if (type == "F") pending.cl_ord_id = msg.getField(11);
    if (type == "H") pending.req_id = msg.getField(790);
    if (type == "AN") pending.req_id = msg.getField(710);
    if (type == "AF") {
      pending.req_id = msg.getField(584);  // translate() checked it is there
      pending.mass_status = true;
    }
    shared_.pending.put(ref, std::move(pending));
  }
  t.command.user_ref = ref;
  const auto r = shared_.core.submit(t.command);
  if (r == exchange::SubmitResult::ok) {
    shared_.counters.submitted.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (ref != 0) shared_.pending.erase(ref);
  if (r == exchange::SubmitResult::busy) {
    shared_.counters.busy.fetch_add(1, std::memory_order_relaxed);
    return refuse_generic(msg, sid, type, "exchange busy, retry", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
  }
  refuse_generic(msg, sid, type, "exchange stopping", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
}

// ---------------------------------------------------------------- market data

void Inbound::market_data_request(const FIX::Message& msg, const FIX::SessionID& sid, PartyIndex p) {
  MarketDataSubs& md = shared_.md;
  const std::string req_id = opt(msg, 262);
  const std::string sub_type = opt(msg, 263);
  if (req_id.empty()) return md_reject(msg, sid, nullptr, "MDReqID (262) missing");
  if (sub_type == "2") {
    std::size_t removed = 0;
    {
      std::lock_guard lock(md.mutex);
      for (auto it = md.subs.begin(); it != md.subs.end();) {
        if (it->second.party == p && it->second.req_id == req_id) {
          it = md.subs.erase(it);
          ++removed;
        } else {
          ++it;
        }
      }
      md.recount();
    }
    if (removed == 0) md_reject(msg, sid, "4", "no subscription with this MDReqID");
    return;
  }
  if (sub_type != "0" && sub_type != "1") return md_reject(msg, sid, "4", "SubscriptionRequestType (263) must be 0, 1 or 2");
  int depth = 0;
  try {
    depth = std::stoi(opt(msg, 264));
  } catch (...) {
    depth = -1;
  }
  if (depth < 0) return md_reject(msg, sid, "5", "MarketDepth (264) must be 0 (full) or a positive number of levels");
  if (msg.isSetField(265) && msg.getField(265) != "1") {
    return md_reject(msg, sid, "6", "MDUpdateType (265) must be 1 (incremental)");
  }
  if (msg.isSetField(266) && msg.getField(266) != "Y") {
    return md_reject(msg, sid, "7", "AggregatedBook (266) must be Y: the book is sent one entry per price");
  }
  MdSub proto;
  proto.party = p;
  proto.sid = sid;
  proto.req_id = req_id;
  proto.depth = depth;
  proto.updates = sub_type == "1";
  if (msg.isSetField(267)) {
    proto.bids = proto.offers = proto.trades = false;
    FIX::Group g(267, 269);
    const int n = std::atoi(msg.getField(267).c_str());
    for (int k = 1; k <= n; ++k) {
      try {
        msg.getGroup(static_cast<unsigned>(k), g);
      } catch (...) {
        break;
      }
      const std::string t = opt(g, 269);
      if (t == "0") {
        proto.bids = true;
      } else if (t == "1") {
        proto.offers = true;
      } else if (t == "2") {
        proto.trades = true;
      } else {
        return md_reject(msg, sid, "8", "MDEntryType (269) must be 0, 1 or 2");
      }
    }
  }
  std::vector<InstrumentIndex> instruments;
  {
    FIX::Group g(146, 55);
    const int n = msg.isSetField(146) ? std::atoi(msg.getField(146).c_str()) : 0;
    for (int k = 1; k <= n && k <= 1024; ++k) {
      try {
        msg.getGroup(static_cast<unsigned>(k), g);
      } catch (...) {
        break;
      }
      const auto i = rules_.find_instrument(opt(g, 55));
      if (i == kNone) return md_reject(msg, sid, "0", "unknown symbol '" + opt(g, 55) + "'");
      instruments.push_back(i);
    }
  }
  if (instruments.empty()) return md_reject(msg, sid, "0", "NoRelatedSym (146) lists no symbol");
  std::vector<std::uint64_t> tokens;
  {
    std::lock_guard lock(md.mutex);
    for (const auto& [tok, s] : md.subs) {
      if (s.party == p && s.req_id == req_id) {
        return md_reject(msg, sid, "1", "duplicate MDReqID: already subscribed");
      }
    }
    if (md.subs.size() >= MarketDataSubs::kMaxSubs) {
      return md_reject(msg, sid, nullptr, "too many market data subscriptions");
    }
    for (const auto i : instruments) {
      MdSub s = proto;
      s.instrument = i;
      const auto tok = shared_.next_ref();
      md.subs.emplace(tok, std::move(s));
      tokens.push_back(tok);
    }
    md.recount();
  }
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    exchange::Command c{};
    c.kind = exchange::CommandKind::book_request;
    c.party = p;
    c.instrument = instruments[k];
    c.user_ref = tokens[k];
    const auto r = shared_.core.submit(c);
    if (r != exchange::SubmitResult::ok) {
      {
        std::lock_guard lock(md.mutex);
        for (std::size_t j = k; j < tokens.size(); ++j) md.subs.erase(tokens[j]);
        md.recount();
      }
      if (r == exchange::SubmitResult::busy) shared_.counters.busy.fetch_add(1, std::memory_order_relaxed);
      return md_reject(msg, sid, nullptr,
                       r == exchange::SubmitResult::busy ? "exchange busy, retry" : "exchange stopping");
    }
    shared_.counters.submitted.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---------------------------------------------------------------- reference data

void Inbound::security_list(const FIX::Message& msg, const FIX::SessionID& sid) {
  const std::string type = opt(msg, 559);
  if (msg.isSetField(263) && msg.getField(263) != "0") {
    return send_business_reject(msg, sid, kBizOther,
                                "SubscriptionRequestType (263) must be 0: the security list is a snapshot");
  }
  std::vector<InstrumentIndex> list;
  if (type == "0") {
    const auto i = rules_.find_instrument(opt(msg, 55));
    if (i != kNone) list.push_back(i);
  } else if (type == "4") {
    for (InstrumentIndex i = 0; i < rules_.instruments.size(); ++i) list.push_back(i);
  } else {
    return send_business_reject(msg, sid, kBizOther, "SecurityListRequestType (559) must be 0 or 4");
  }
  auto r = new_message("y");
  set(r, 320, opt(msg, 320));
  std::string response_id = "SL";
  response_id += i2s(static_cast<std::int64_t>(shared_.next_ref() & 0x7fffffffffffffffull));
  set(r, 322, response_id);
  set(r, 560, list.empty() ? "2" : "0");
  set(r, 393, i2s(static_cast<std::int64_t>(list.size())));
  set(r, 893, "Y");
  for (const auto i : list) {
    const auto& ins = rules_.instruments[i];
    const auto& st = shared_.instruments[i];
    FIX::Group g(146, 55, kSecListOrder);
    set(g, 55, ins.symbol);
    set(g, 107, ins.name);
    set(g, 20010, std::string(rules::name_of(ins.kind)));
    set(g, 20001, ins.unit);
    set(g, 969, format_yuan(ins.tick_fen));
    set(g, 561, i2s(ins.lot_qty));
    set(g, 20009, i2s(ins.max_order_qty));
    set(g, 20012, i2s(ins.party_limit_qty));
    set(g, 20008, std::string(rules::name_of(ins.mode)));
    set(g, 20007, i2s(st.state.load()));
    set(g, 20006, format_yuan(st.reference_fen.load()));
    set(g, 20011, i2s(ins.band_bps));
    set(g, 20002, format_yuan(st.band_low_fen.load()));
    set(g, 20003, format_yuan(st.band_high_fen.load()));
    set(g, 20004, format_yuan(ins.floor_fen));
    set(g, 20005, format_yuan(ins.ceiling_fen));
    r.addGroup(g);
  }
  send(r, sid);
}

}  // namespace haihe::gateway
