// A synthetic market for benchmarks and load tests: n emission instruments
// of one region (NOX0.BJ.2027 ...: reference 100.00 yuan/t, tick 1 fen, lot
// 1 t, band +-20%), an exchange party and `parties` enterprises E0.. that
// may trade them all, each holding 10^9 t of every instrument and 10^11 yuan,
// no caps, trading every weekday from 00:01 to 23:59 Beijing time.
#pragma once

#include <string>

namespace haihe::bench {

inline std::string market_text(int parties, int instruments) {
  std::string t =
      "[market]\nname = \"synthetic bench market\"\nschema_version = 1\nutc_offset_min = 480\n"
      "pre_open = \"00:00\"\nsessions = [\"00:01-23:59\"]\nbuyer_fee_bps = 5\nseller_fee_bps = 5\n\n"
      "[[regions]]\nid = \"BJ\"\nname = \"Beijing\"\nprovince = \"Beijing\"\nlevel = \"municipality\"\n\n"
      "[[parties]]\nid = \"EXCHANGE\"\nkind = \"exchange\"\nregion = \"BJ\"\n\n";
  auto num = [](int k) { return std::to_string(k); };
  for (int p = 0; p < parties; ++p) {
    t.append("[[parties]]\nid = \"E").append(num(p)).append(
        "\"\nkind = \"enterprise\"\nregion = \"BJ\"\nmay_trade = [\"emission\"]\n\n");
  }
  for (int i = 0; i < instruments; ++i) {
    t.append("[[instruments]]\nsymbol = \"NOX").append(num(i)).append(
        ".BJ.2027\"\nkind = \"emission\"\npollutant = \"NOx\"\nregion = \"BJ\"\nvintage = 2027\nunit = \"t\"\n"
        "lot_qty = 1\ntick_fen = 1\nfloor_fen = 1\nceiling_fen = 200000\nreference_fen = 10000\nband_bps = 2000\n\n");
  }
  t.append("[genesis]\nholdings = [\n");
  for (int p = 0; p < parties; ++p) {
    for (int i = 0; i < instruments; ++i) {
      t.append("  { party = \"E").append(num(p)).append("\", instrument = \"NOX").append(num(i)).append(
          ".BJ.2027\", qty = 1000000000 },\n");
    }
  }
  t.append("]\ncash = [\n");
  for (int p = 0; p < parties; ++p) t.append("  { party = \"E").append(num(p)).append("\", fen = 10000000000000 },\n");
  t.append("]\n");
  return t;
}

}  // namespace haihe::bench
