// haihe::gateway (internal) — building and sending FIX messages.
//
// The small vocabulary shared by the inbound side (gateway/inbound.h: its
// rejects) and the publisher (gateway/publisher.h: every message made from a
// core event):
//
//     FIX::Message m = new_message("8");   // header MsgType only
//     set(m, 37, i2s(order_id));            // body fields as text
//     send(m, sid);                         // to the session's store and socket
//
// Values are written as the FIX text the exchange documents (gateway/README.md):
// prices through format_yuan (gateway/translate.h), times through fix_time.
#pragma once

#include <cstdint>
#include <string>

#include "exchange/core.h"
#include "gateway/quickfix.h"

namespace haihe::gateway {

/// A message with only its MsgType (35) set; QuickFIX adds the rest of the header.
FIX::Message new_message(const char* type);

inline void set(FIX::FieldMap& m, int tag, const std::string& v) { m.setField(tag, v); }

/// The field's text, or "" when absent.
inline std::string opt(const FIX::FieldMap& m, int tag) { return m.isSetField(tag) ? m.getField(tag) : std::string(); }

inline std::string i2s(std::int64_t v) { return std::to_string(v); }

/// UTCTimestamp "YYYYMMDD-HH:MM:SS.sss" of a core timestamp (ns since the epoch, UTC).
std::string fix_time(std::int64_t ts_ns);

/// LocalMktDate "YYYYMMDD" of a timestamp at the market's UTC offset.
std::string local_date(std::int64_t ts_ns, std::int32_t utc_offset_min);

/// A ClOrdID as text (empty when none).
std::string cl_text(const exchange::ClOrdId& id);

/// Wall clock, ns since the epoch: only for TransactTime of the gateway's own rejects.
std::int64_t wall_clock_ns();

/// Hands `m` to the session `sid` (QuickFIX stores it, logged on or not). A
/// failure (no such session) is printed to stderr, never thrown.
void send(FIX::Message& m, const FIX::SessionID& sid);

}  // namespace haihe::gateway
