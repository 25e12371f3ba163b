#include "gateway/fix_build.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace haihe::gateway {

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

FIX::Message new_message(const char* type) {
  FIX::Message m;
  m.getHeader().setField(FIX::FIELD::MsgType, type);
  return m;
}

std::string fix_time(std::int64_t ts_ns) {
  const auto lt = exchange::local_time(ts_ns, 0);
  const std::int64_t ms_total = floor_div(ts_ns, 1'000'000);
  const std::int64_t ms_of_minute = ms_total - floor_div(ms_total, 60'000) * 60'000;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%08u-%02u:%02u:%02lld.%03lld", lt.date, lt.minute / 60, lt.minute % 60,
                static_cast<long long>(ms_of_minute / 1000), static_cast<long long>(ms_of_minute % 1000));
  return buf;
}

std::string local_date(std::int64_t ts_ns, std::int32_t utc_offset_min) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", exchange::local_time(ts_ns, utc_offset_min).date);
  return buf;
}

std::string cl_text(const exchange::ClOrdId& id) {
  return std::string(id.chars.data(), strnlen(id.chars.data(), id.chars.size()));
}

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send(FIX::Message& m, const FIX::SessionID& sid) {
  try {
    FIX::Session::sendToTarget(m, sid);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fix: cannot send to %s: %s\n", sid.getTargetCompID().getValue().c_str(), e.what());
  }
}

}  // namespace haihe::gateway
