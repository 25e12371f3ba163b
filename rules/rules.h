// haihe::rules — the market-rules file as an immutable, validated value.
//
// The rules file (TOML, schema in rules/README.md) is the law of the market:
// regions and water source zones, parties, instruments, caps, water transfer
// rules, ecological compensation, levies, fees, the trading day and the
// genesis allocations. `load_rules*` parse and validate it completely; a
// `MarketRules` that exists is valid, and nothing changes it afterwards.
//
// Identifiers. Every region, zone, party and instrument has a string id from
// the file and a dense index (its position in the vector below, in file
// order). The rest of the system keys everything by those indices:
// `PartyIndex` is the engine's and the ledger's account id, `InstrumentIndex`
// the instrument id. Lookups by string id go through the `find_*` functions
// (sorted, deterministic; never on a hot path).
//
// Units. Money in fen (0.01 CNY), int64. Quantities in the instrument's base
// unit (m3 for water, t or kg for emissions as the instrument says), int64.
// Prices in fen per one base unit. Rates in basis points (1/10000), charges
// computed as floor(value * bps / 10000). Times of day in minutes after local
// midnight, local time fixed UTC+8 (China has no daylight saving).
//
// Semantics the ledger and the core implement (documented here once):
// - Party holding limit: the quantity of one instrument a party holds, free +
//   reserved, plus what its resting buy orders could still bring in, never
//   exceeds `Instrument::party_limit_qty` (or a `PartyCap` override).
// - Region cap: the total of one instrument held by all parties located in a
//   region (plus their resting buy orders' reach) never exceeds the region's
//   `RegionCap::cap_qty` for it.
// - Zone cap (sustainable yield): for one source zone and vintage, the total
//   of every water instrument drawn from that zone held by all parties, free +
//   reserved, excluding the zone's conveyance-loss account, never exceeds
//   `ZoneCap::cap_qty`. Trades never increase this total (a transfer can only
//   move or lose water), so only issuance checks it.
// - Water transfers: a trade between a seller and a buyer in the same region
//   delivers 1:1. Otherwise the buyer's region must either be the city the
//   source zone lies in (delivered 1:1) or have a `TransferRule` from the
//   zone; the buyer receives floor(qty * num / den) and the rest is booked to
//   the zone's conveyance-loss account. No rule: the trade is not allowed.
// - Compensation: when water from a zone settles to a buyer located in one of
//   a route's `buyer_regions`, the buyer pays, on top of the price,
//   `fen_per_unit * qty + floor(value * bps / 10000)` to the route's
//   beneficiary (a city government).
// - Levies: an emission trade pays floor(value * bps / 10000) from the
//   seller's proceeds to the levy's fund.
// - Fees: the buyer pays floor(value * buyer_fee_bps / 10000) on top of the
//   price, the seller floor(value * seller_fee_bps / 10000) out of the
//   proceeds; both go to the exchange party.
//
// Integer ranges (checked by the loader, so plain int64 arithmetic is safe):
// every price, floor, ceiling, reference and compensation fen_per_unit is
// <= kMaxPriceFen; every quantity (lot, limit, cap, allocation, and an
// instrument's total issuance) <= kMaxQty; an order or trade of one instrument
// is at most `max_order_qty`, chosen so that max_order_qty * ceiling_fen and
// max_order_qty * fen_per_unit are <= kMaxTradeValueFen; therefore value * bps
// (bps <= 10000) < 2^63. Opening cash in total is <= kMaxCashFen. Seller fee
// plus the levy that applies never exceed 10000 bps, so proceeds are >= 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace haihe::rules {

using Fen = std::int64_t;
using Qty = std::int64_t;
using RegionIndex = std::uint32_t;
using ZoneIndex = std::uint32_t;
using PartyIndex = std::uint32_t;
using InstrumentIndex = std::uint32_t;
inline constexpr std::uint32_t kNone = 0xFFFFFFFFu;

// Bounds the loader enforces (see "Integer ranges" above).
inline constexpr Fen kMaxPriceFen = 10'000'000'000;          // 100 million yuan per unit
inline constexpr Qty kMaxQty = 10'000'000'000'000;           // 1e13 base units
inline constexpr Fen kMaxTradeValueFen = 100'000'000'000'000;  // 1e14 fen = 1 trillion yuan
inline constexpr Fen kMaxCashFen = 1'000'000'000'000'000;    // 1e15 fen, all opening cash
inline constexpr std::uint32_t kBpsDenominator = 10'000;     // 100% in basis points
// Price levels from floor to ceiling: (ceiling_fen - floor_fen) / tick_fen + 1
// never exceeds this, so an order book with one level per tick stays small.
inline constexpr std::int64_t kMaxPriceLevels = std::int64_t{1} << 20;

/// Which tier of government a region is.
enum class RegionLevel : std::uint8_t { municipality, prefecture_city };

struct Region {
  std::string id;        // e.g. "BJ", "TJ", "CHENGDE"
  std::string name;      // e.g. "Beijing"
  std::string province;  // "Beijing", "Tianjin" or "Hebei"
  RegionLevel level = RegionLevel::municipality;
};

struct SourceZone {
  std::string id;    // e.g. "MIYUN"
  std::string name;  // e.g. "Miyun reservoir upstream basin (Chao and Bai rivers)"
  RegionIndex region = kNone;  // the city the zone lies in
};

enum class PartyKind : std::uint8_t {
  enterprise,       // trades; located in a region
  city_government,  // receives compensation and grants; may trade if allowed
  fund,             // special fund of the cross-regional organisation
  exchange,         // the exchange itself: receives fees (exactly one)
  regulator,        // read-only: drop copy, audit; holds nothing
  other,            // e.g. an environmental NGO that buys and retires rights
};

enum class InstrumentKind : std::uint8_t { water, emission };

enum class Pollutant : std::uint8_t { so2, nox, cod, nh3n, pm, co2 };

struct Party {
  std::string id;    // e.g. "SHOUGANG_STEEL"
  std::string name;  // readable name
  PartyKind kind = PartyKind::enterprise;
  // Where the party is located (its holdings count against this region's
  // caps). Required for enterprises and city governments (a city government
  // is the government of its region, at most one per region); optional for
  // funds, the exchange, regulators and others (kNone: not in any region).
  RegionIndex region = kNone;
  std::string fix_comp_id;     // FIX SenderCompID; empty: no FIX session
  // Instruments this party may trade (resolved from symbols and kinds in the
  // file); sorted ascending. Empty: may not trade.
  std::vector<InstrumentIndex> may_trade;
  std::uint32_t max_msgs_per_s = 0;  // FIX throttle; 0 for parties without FIX
};

enum class TradingMode : std::uint8_t { continuous, batch, call };

/// A trading session of the day, [start, end) in local minutes after midnight.
struct Session {
  std::uint16_t start_min = 0;
  std::uint16_t end_min = 0;
};

struct TradingDay {
  std::uint16_t pre_open_min = 0;  // orders may be entered (call phase) from here
  std::vector<Session> sessions;   // ascending, non-overlapping; gaps are breaks
};

struct Instrument {
  std::string symbol;  // e.g. "WATER.MIYUN.IND.2027", "NOX.BJ.2027"
  std::string name;
  InstrumentKind kind = InstrumentKind::water;
  // Water: the source zone and use class ("industrial", "agricultural",
  // "municipal", "ecological"). Emission: the pollutant and its region.
  ZoneIndex zone = kNone;
  std::string use_class;
  Pollutant pollutant = Pollutant::so2;
  RegionIndex region = kNone;
  std::uint16_t vintage = 0;  // year
  std::string unit;           // "m3", "t" or "kg"
  Qty lot_qty = 1;
  Fen tick_fen = 1;
  std::uint32_t band_bps = 0;  // listed-trade band around the reference; 0: none
  Qty block_min_qty = 0;       // negotiated block trades from this size; 0: none
  std::uint32_t block_band_bps = 0;
  Fen floor_fen = 0;      // no trade below (e.g. Hebei floor prices)
  Fen ceiling_fen = 0;    // no trade above
  Fen reference_fen = 0;  // opening reference price
  TradingMode mode = TradingMode::continuous;
  std::uint32_t batch_interval_ms = 0;  // mode == batch
  std::vector<std::uint16_t> call_times_min;  // mode == call: uncross times
  TradingDay day;                             // the instrument's sessions
  Qty party_limit_qty = 0;  // default per-party holding limit; 0: none
  std::uint32_t buyer_fee_bps = 0;
  std::uint32_t seller_fee_bps = 0;
  // Largest quantity of one order or trade (a multiple of lot_qty); the
  // loader always sets it (> 0), by default to the largest lot multiple with
  // max_order_qty * ceiling_fen <= kMaxTradeValueFen. 0 (hand-built): none.
  Qty max_order_qty = 0;
};

/// Per-party override of an instrument's holding limit.
struct PartyCap {
  PartyIndex party = kNone;
  InstrumentIndex instrument = kNone;
  Qty limit_qty = 0;
};

struct RegionCap {
  RegionIndex region = kNone;
  InstrumentIndex instrument = kNone;
  Qty cap_qty = 0;
};

struct ZoneCap {
  ZoneIndex zone = kNone;
  std::uint16_t vintage = 0;
  Qty cap_qty = 0;
};

struct TransferRule {
  ZoneIndex zone = kNone;
  RegionIndex buyer_region = kNone;
  std::int64_t num = 1;  // delivered = floor(qty * num / den); 0 < num <= den
  std::int64_t den = 1;
};

struct CompensationRoute {
  std::string id;  // e.g. "MIYUN-BJ-2022"
  ZoneIndex zone = kNone;
  std::vector<RegionIndex> buyer_regions;  // sorted
  PartyIndex beneficiary = kNone;          // a city government
  Fen fen_per_unit = 0;                    // per base unit sold (the trade qty, before conveyance loss)
  std::uint32_t bps = 0;                   // of trade value
};

struct Levy {
  std::string id;
  InstrumentKind kind = InstrumentKind::emission;
  std::optional<Pollutant> pollutant;  // none: every emission instrument
  PartyIndex fund = kNone;             // a fund party
  std::uint32_t bps = 0;               // of trade value, paid by the seller
};

struct GenesisHolding {
  PartyIndex party = kNone;
  InstrumentIndex instrument = kNone;
  Qty qty = 0;
};

struct GenesisCash {
  PartyIndex party = kNone;
  Fen fen = 0;
};

struct MarketRules {
  std::string name;              // e.g. "Beijing-Tianjin-Hebei default market"
  std::int32_t utc_offset_min = 480;  // fixed UTC+8
  std::vector<Region> regions;
  std::vector<SourceZone> zones;
  std::vector<Party> parties;
  std::vector<Instrument> instruments;
  std::vector<PartyCap> party_caps;
  std::vector<RegionCap> region_caps;
  std::vector<ZoneCap> zone_caps;
  std::vector<TransferRule> transfers;
  std::vector<CompensationRoute> compensation;
  std::vector<Levy> levies;
  std::vector<GenesisHolding> genesis_holdings;
  std::vector<GenesisCash> genesis_cash;
  std::string source_sha256_hex;  // SHA-256 of the file's bytes as loaded

  // Lookups by string id; kNone when absent. O(log n), deterministic.
  RegionIndex find_region(std::string_view id) const;
  ZoneIndex find_zone(std::string_view id) const;
  PartyIndex find_party(std::string_view id) const;
  PartyIndex find_party_by_comp_id(std::string_view comp_id) const;
  InstrumentIndex find_instrument(std::string_view symbol) const;
  PartyIndex exchange_party() const;  // the one party of kind exchange

  // Derived queries the ledger and the core use.
  Qty party_limit(PartyIndex p, InstrumentIndex i) const;  // 0: none
  const RegionCap* region_cap(RegionIndex r, InstrumentIndex i) const;
  const ZoneCap* zone_cap(ZoneIndex z, std::uint16_t vintage) const;
  const TransferRule* transfer(ZoneIndex z, RegionIndex buyer_region) const;
  const CompensationRoute* compensation_for(ZoneIndex z, RegionIndex buyer_region) const;
  const Levy* levy_for(const Instrument& i) const;
  bool may_trade(PartyIndex p, InstrumentIndex i) const;

  // Sorted (id, index) tables behind the find_* functions; filled by the loader.
  std::vector<std::pair<std::string, std::uint32_t>> region_index, zone_index,
      party_index, comp_id_index, instrument_index;
};

/// Names as written in the rules file ("enterprise", "NH3-N", "batch", ...).
std::string_view name_of(RegionLevel v);
std::string_view name_of(PartyKind v);
std::string_view name_of(InstrumentKind v);
std::string_view name_of(Pollutant v);
std::string_view name_of(TradingMode v);

/// One problem found in a rules file: where, which field, what is wrong.
struct RulesError {
  std::string file;  // as given
  std::uint32_t line = 0;    // 1-based; 0 when unknown
  std::uint32_t column = 0;  // 1-based; 0 when unknown
  std::string field;   // dotted path, e.g. "instruments[3].tick_fen"
  std::string message; // what is wrong and what is allowed
  // "FILE:LINE:COLUMN: field: message"; "FILE: field: message" when the
  // line is unknown (e.g. the file cannot be read).
  std::string to_string() const;
};

/// Thrown by the loaders when the file is not valid; holds every error found.
class RulesLoadError : public std::runtime_error {
 public:
  explicit RulesLoadError(std::vector<RulesError> errors);
  const std::vector<RulesError>& errors() const noexcept { return errors_; }

 private:
  std::vector<RulesError> errors_;
};

/// Parses and validates TOML text. `file` names it in errors. Throws
/// RulesLoadError listing every problem found; never crashes on any input.
std::shared_ptr<const MarketRules> load_rules_text(std::string_view text,
                                                    std::string_view file = "<text>");

/// Reads and loads a file. Throws RulesLoadError (unreadable file included).
std::shared_ptr<const MarketRules> load_rules_file(const std::filesystem::path& path);

/// The default Beijing–Tianjin–Hebei market, compiled into the binary from
/// rules/default_market.toml.
std::string_view default_rules_text();
std::shared_ptr<const MarketRules> load_default_rules();

}  // namespace haihe::rules
