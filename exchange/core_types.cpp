// Small pieces of exchange/core.h: ClOrdId, names, local time, clocks.
#include <chrono>
#include <string>

#include "exchange/core.h"

namespace haihe::exchange {

std::optional<ClOrdId> ClOrdId::from(std::string_view s) {
  if (s.empty() || s.size() > kMaxLen) return std::nullopt;
  ClOrdId id;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (ch < 0x21 || ch > 0x7e) return std::nullopt;
    id.chars[i] = ch;
  }
  return id;
}

std::string_view ClOrdId::view() const {
  std::size_t n = 0;
  while (n < kMaxLen && chars[n] != '\0') ++n;
  return {chars.data(), n};
}

std::string_view to_string(CommandKind k) {
  switch (k) {
    case CommandKind::new_order: return "new_order";
    case CommandKind::cancel: return "cancel";
    case CommandKind::replace: return "replace";
    case CommandKind::mass_cancel: return "mass_cancel";
    case CommandKind::order_status: return "order_status";
    case CommandKind::position_request: return "position_request";
    case CommandKind::book_request: return "book_request";
    case CommandKind::halt: return "halt";
    case CommandKind::resume: return "resume";
    case CommandKind::set_reference: return "set_reference";
    case CommandKind::issue: return "issue";
    case CommandKind::retire: return "retire";
    case CommandKind::deposit: return "deposit";
    case CommandKind::withdraw: return "withdraw";
    case CommandKind::grant: return "grant";
    case CommandKind::session_open: return "session_open";
    case CommandKind::session_close: return "session_close";
    case CommandKind::schedule: return "schedule";
    case CommandKind::uncross: return "uncross";
  }
  return "unknown";
}

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::none: return "none";
    case Phase::pre_open: return "pre_open";
    case Phase::open: return "open";
    case Phase::midday_break: return "midday_break";
    case Phase::end_of_day: return "end_of_day";
  }
  return "unknown";
}

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::order_accepted: return "order_accepted";
    case EventKind::order_rejected: return "order_rejected";
    case EventKind::order_fill: return "order_fill";
    case EventKind::order_cancelled: return "order_cancelled";
    case EventKind::order_replaced: return "order_replaced";
    case EventKind::order_expired: return "order_expired";
    case EventKind::order_status: return "order_status";
    case EventKind::cancel_rejected: return "cancel_rejected";
    case EventKind::mass_cancel_done: return "mass_cancel_done";
    case EventKind::position: return "position";
    case EventKind::cash: return "cash";
    case EventKind::book_level: return "book_level";
    case EventKind::admin_done: return "admin_done";
    case EventKind::admin_rejected: return "admin_rejected";
    case EventKind::level: return "level";
    case EventKind::trade: return "trade";
    case EventKind::state: return "state";
    case EventKind::reference: return "reference";
    case EventKind::indicative: return "indicative";
    case EventKind::trade_report: return "trade_report";
  }
  return "unknown";
}

std::string_view to_string(CoreReject r) {
  switch (r) {
    case CoreReject::none: return "none";
    case CoreReject::unknown_party: return "unknown_party";
    case CoreReject::unknown_instrument: return "unknown_instrument";
    case CoreReject::not_permitted: return "not_permitted";
    case CoreReject::invalid_cl_ord_id: return "invalid_cl_ord_id";
    case CoreReject::duplicate_cl_ord_id: return "duplicate_cl_ord_id";
    case CoreReject::unknown_order: return "unknown_order";
    case CoreReject::invalid_command: return "invalid_command";
    case CoreReject::invalid_amount: return "invalid_amount";
    case CoreReject::invalid_state: return "invalid_state";
  }
  return "unknown";
}

std::string_view to_string(SubmitResult r) {
  switch (r) {
    case SubmitResult::ok: return "ok";
    case SubmitResult::busy: return "busy";
    case SubmitResult::stopped: return "stopped";
    case SubmitResult::invalid: return "invalid";
  }
  return "unknown";
}

std::string reject_text(RejectSource source, std::uint8_t code) {
  switch (source) {
    case RejectSource::none: return "none";
    case RejectSource::core: return "core: " + std::string(to_string(static_cast<CoreReject>(code)));
    case RejectSource::engine:
      return "engine: " + std::string(engine::to_string(static_cast<engine::RejectReason>(code)));
    case RejectSource::ledger:
      return "ledger: " + std::string(ledger::to_string(static_cast<ledger::Reason>(code)));
  }
  return "unknown";
}

namespace {
// Days since 1970-01-01 <-> civil date (Howard Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? static_cast<unsigned>(-3) : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}
constexpr std::int64_t kMinuteNs = 60'000'000'000;
constexpr std::int64_t kDayNs = 1440 * kMinuteNs;
}  // namespace

LocalTime local_time(TimestampNs ts_ns, std::int32_t utc_offset_min) {
  const std::int64_t local = ts_ns + std::int64_t{utc_offset_min} * kMinuteNs;
  std::int64_t days = local / kDayNs;
  std::int64_t rem = local % kDayNs;
  if (rem < 0) {
    rem += kDayNs;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  LocalTime t;
  t.date = static_cast<std::uint32_t>(y * 10000 + m * 100 + d);
  t.minute = static_cast<std::uint32_t>(rem / kMinuteNs);
  // 1970-01-01 was a Thursday (3 with Monday = 0).
  t.weekday = static_cast<std::uint32_t>(((days % 7) + 7 + 3) % 7);
  return t;
}

TimestampNs local_to_utc(std::uint32_t date, std::uint32_t minute, std::int32_t utc_offset_min) {
  const std::int64_t days = days_from_civil(date / 10000, (date / 100) % 100, date % 100);
  return days * kDayNs + std::int64_t{minute} * kMinuteNs - std::int64_t{utc_offset_min} * kMinuteNs;
}

TimestampNs SystemClock::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace haihe::exchange
