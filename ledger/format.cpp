// Storage format helpers, SHA-256 and LMDB error handling for haihe::ledger.
#include "ledger/format.h"

#include <openssl/evp.h>

#include <cassert>
#include <cerrno>
#include <string>

#include "ledger/lmdb_raii.h"
#include "ledger/sha256.h"

namespace haihe::ledger {

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::ok: return "ok";
    case Reason::unknown_account: return "unknown account";
    case Reason::unknown_instrument: return "unknown instrument";
    case Reason::unknown_order: return "unknown order";
    case Reason::duplicate_order: return "duplicate order";
    case Reason::invalid_order: return "invalid order id";
    case Reason::invalid_quantity: return "invalid quantity";
    case Reason::invalid_price: return "invalid price";
    case Reason::insufficient_holdings: return "insufficient holdings";
    case Reason::insufficient_cash: return "insufficient cash";
    case Reason::party_cap: return "party holding limit";
    case Reason::region_cap: return "region cap";
    case Reason::zone_cap: return "source zone cap";
    case Reason::transfer_not_allowed: return "transfer not allowed";
    case Reason::not_permitted: return "not permitted";
    case Reason::order_mismatch: return "order mismatch";
    case Reason::overflow: return "amount overflow";
    case Reason::snapshot_exists: return "snapshot already stored in this batch";
  }
  return "?";
}

// ---------------------------------------------------------------- SHA-256

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) throw LedgerError("OpenSSL: cannot allocate a digest context");
  reset();
}
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::reset() {
  if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw LedgerError("OpenSSL: SHA-256 init failed");
}
void Sha256::update(const void* p, std::size_t n) {
  if (n != 0 && EVP_DigestUpdate(ctx_, p, n) != 1) throw LedgerError("OpenSSL: SHA-256 update failed");
}
Hash Sha256::finish() {
  Hash h{};
  unsigned len = 0;
  if (EVP_DigestFinal_ex(ctx_, h.data(), &len) != 1 || len != h.size()) {
    throw LedgerError("OpenSSL: SHA-256 final failed");
  }
  return h;
}
Hash sha256(std::span<const std::byte> s) {
  Sha256 h;
  h.update(s);
  return h.finish();
}
std::string to_hex(std::span<const std::uint8_t> h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(h.size() * 2);
  for (const std::uint8_t b : h) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// ---------------------------------------------------------------- LMDB

namespace lmdb {

void fail(int rc, std::string_view what) {
  std::string msg = "LMDB ";
  msg += what;
  msg += ": ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case ENOSPC: msg += " (the disk is full: free space on the data directory's file system)"; break;
    case EACCES:
    case EPERM: msg += " (check the data directory's permissions)"; break;
    case MDB_MAP_FULL: msg += " (the data directory reached its map size)"; break;
    case MDB_READERS_FULL: msg += " (too many concurrent readers)"; break;
    case MDB_INVALID:
    case MDB_CORRUPTED: msg += " (the data file is damaged or not an LMDB file: restore it from a copy)"; break;
    case MDB_VERSION_MISMATCH: msg += " (the data was written by another LMDB version)"; break;
    default: break;
  }
  throw LedgerError(msg);
}

bool open_dbi(MDB_txn* txn, const char* name, bool create, MDB_dbi& out) {
  const int rc = mdb_dbi_open(txn, name, create ? MDB_CREATE : 0u, &out);
  if (rc == MDB_NOTFOUND && !create) return false;
  check(rc, std::string("opening table ") + name);
  return true;
}

}  // namespace lmdb

// ---------------------------------------------------------------- records

namespace format {

const char* table_name(Table t) {
  switch (t) {
    case Table::meta: return "meta";
    case Table::accounts: return "accounts";
    case Table::holdings: return "holdings";
    case Table::cash: return "cash";
    case Table::region_usage: return "region_usage";
    case Table::zone_usage: return "zone_usage";
    case Table::loss: return "loss";
    case Table::supply: return "supply";
    case Table::orders: return "orders";
  }
  return "?";
}

std::size_t encode_trade(const TradeRecord& t, std::byte* out) {
  std::byte* p = out;
  put_u(p, t.seq);
  put_s(p, t.ts_ns);
  put_u(p, t.instrument);
  put_u(p, t.buyer);
  put_u(p, t.seller);
  put_n(p, t.beneficiary);
  put_n(p, t.fund);
  put_n(p, t.zone);
  put_u(p, t.buy_order);
  put_u(p, t.sell_order);
  put_s(p, t.qty);
  put_s(p, t.delivered_qty);
  put_s(p, t.price_fen);
  put_s(p, t.buyer_fee_fen);
  put_s(p, t.seller_fee_fen);
  put_s(p, t.compensation_fen);
  put_s(p, t.levy_fen);
  return static_cast<std::size_t>(p - out);
}

bool decode_trade(std::uint64_t id, std::span<const std::byte> in, TradeRecord& t) {
  VarReader r(in);
  t.id = id;
  t.seq = r.u();
  t.ts_ns = r.s();
  t.instrument = r.u32();
  t.buyer = r.u32();
  t.seller = r.u32();
  t.beneficiary = r.n();
  t.fund = r.n();
  t.zone = r.n();
  t.buy_order = r.u();
  t.sell_order = r.u();
  t.qty = r.s();
  t.delivered_qty = r.s();
  t.price_fen = r.s();
  t.buyer_fee_fen = r.s();
  t.seller_fee_fen = r.s();
  t.compensation_fen = r.s();
  t.levy_fen = r.s();
  __extension__ typedef __int128 i128;
  const i128 value = static_cast<i128>(t.qty) * t.price_fen;  // range-checked when settled
  t.value_fen = value > INT64_MAX || value < INT64_MIN ? 0 : static_cast<Fen>(value);
  return r.done();
}

std::size_t encode_movement(const MovementRecord& m, std::byte* out) {
  std::byte* p = out;
  put_u(p, m.seq);
  put_s(p, m.ts_ns);
  put_u(p, static_cast<std::uint8_t>(m.kind));
  put_u(p, m.party);
  put_n(p, m.counterparty);
  put_n(p, m.instrument);
  put_s(p, m.amount);
  return static_cast<std::size_t>(p - out);
}

bool decode_movement(std::uint64_t id, std::span<const std::byte> in, MovementRecord& m) {
  VarReader r(in);
  m.id = id;
  m.seq = r.u();
  m.ts_ns = r.s();
  m.kind = static_cast<MovementKind>(r.u32());
  m.party = r.u32();
  m.counterparty = r.n();
  m.instrument = r.n();
  m.amount = r.s();
  return r.done();
}

std::size_t encode_order(const OrderReservation& o, std::byte* out) {
  std::byte* p = out;
  put_u(p, o.party);
  put_u(p, o.instrument);
  put_u(p, static_cast<std::uint8_t>(o.side));
  put_s(p, o.limit_fen);
  put_s(p, o.qty);
  put_s(p, o.cash_fen);
  return static_cast<std::size_t>(p - out);
}

bool decode_order(std::span<const std::byte> in, OrderReservation& o) {
  VarReader r(in);
  o.party = r.u32();
  o.instrument = r.u32();
  const std::uint32_t side = r.u32();
  o.side = static_cast<Side>(side);
  o.limit_fen = r.s();
  o.qty = r.s();
  o.cash_fen = r.s();
  return r.done() && (side == 1 || side == 2);
}

namespace {
template <class... F>
std::size_t put_all(std::byte* out, F... fields) {
  std::byte* p = out;
  (put_s(p, fields), ...);
  return static_cast<std::size_t>(p - out);
}
}  // namespace

std::size_t encode_holding(const Holding& v, std::byte* out) {
  return put_all(out, v.free_qty, v.reserved_qty, v.incoming_qty);
}
bool decode_holding(std::span<const std::byte> in, Holding& v) {
  VarReader r(in);
  v.free_qty = r.s();
  v.reserved_qty = r.s();
  v.incoming_qty = r.s();
  return r.done();
}
std::size_t encode_cash(const Cash& v, std::byte* out) { return put_all(out, v.free_fen, v.reserved_fen); }
bool decode_cash(std::span<const std::byte> in, Cash& v) {
  VarReader r(in);
  v.free_fen = r.s();
  v.reserved_fen = r.s();
  return r.done();
}
std::size_t encode_region_usage(const RegionUsage& v, std::byte* out) {
  return put_all(out, v.held_qty, v.incoming_qty);
}
bool decode_region_usage(std::span<const std::byte> in, RegionUsage& v) {
  VarReader r(in);
  v.held_qty = r.s();
  v.incoming_qty = r.s();
  return r.done();
}
std::size_t encode_supply(const Supply& v, std::byte* out) { return put_all(out, v.issued_qty, v.retired_qty); }
bool decode_supply(std::span<const std::byte> in, Supply& v) {
  VarReader r(in);
  v.issued_qty = r.s();
  v.retired_qty = r.s();
  return r.done();
}
std::size_t encode_qty(Qty v, std::byte* out) { return put_all(out, v); }
bool decode_qty(std::span<const std::byte> in, Qty& v) {
  VarReader r(in);
  v = r.s();
  return r.done();
}

void encode_journal_header(const JournalHeader& h, std::byte* p) {
  put_le<std::uint32_t>(p, kJournalMagic);
  put_le<std::uint64_t>(p, h.seq);
  put_le<std::int64_t>(p, h.ts_ns);
  put_le<std::uint64_t>(p, h.first_trade);
  put_le<std::uint32_t>(p, h.trade_count);
  put_le<std::uint64_t>(p, h.first_movement);
  put_le<std::uint32_t>(p, h.movement_count);
  put_le<std::uint8_t>(p, h.flags);
  put_le<std::uint32_t>(p, h.input_len);
  put_le<std::uint32_t>(p, h.write_count);
}

bool parse_journal(std::span<const std::byte> rec, JournalView& out) {
  if (rec.size() < kJournalHeader) return false;
  const std::byte* p = rec.data();
  if (get_le<std::uint32_t>(p) != kJournalMagic) return false;
  JournalHeader& h = out.header;
  h.seq = get_le<std::uint64_t>(p);
  h.ts_ns = get_le<std::int64_t>(p);
  h.first_trade = get_le<std::uint64_t>(p);
  h.trade_count = get_le<std::uint32_t>(p);
  h.first_movement = get_le<std::uint64_t>(p);
  h.movement_count = get_le<std::uint32_t>(p);
  h.flags = get_le<std::uint8_t>(p);
  h.input_len = get_le<std::uint32_t>(p);
  h.write_count = get_le<std::uint32_t>(p);
  const std::size_t rest = rec.size() - kJournalHeader;
  if (h.input_len > rest) return false;
  out.input = rec.subspan(kJournalHeader, h.input_len);
  out.writes = rec.subspan(kJournalHeader + h.input_len);
  return true;
}

std::string describe_key(Table t, std::span<const std::byte> k) {
  auto u32 = [&](std::size_t off) { return std::to_string(get_u32be(k.data() + off)); };
  switch (t) {
    case Table::meta: {
      std::string out;
      out.reserve(k.size() + 2);
      out.push_back('"');
      out.append(reinterpret_cast<const char*>(k.data()), k.size());
      out.push_back('"');
      return out;
    }
    case Table::accounts:
    case Table::cash:
      if (k.size() == 4) return "party " + u32(0);
      break;
    case Table::holdings:
      if (k.size() == 8) return "party " + u32(0) + ", instrument " + u32(4);
      break;
    case Table::region_usage:
      if (k.size() == 8) return "region " + u32(0) + ", instrument " + u32(4);
      break;
    case Table::zone_usage:
      if (k.size() == 6) return "zone " + u32(0) + ", vintage " + std::to_string(get_u16be(k.data() + 4));
      break;
    case Table::loss:
      if (k.size() == 8) return "zone " + u32(0) + ", instrument " + u32(4);
      break;
    case Table::supply:
      if (k.size() == 4) {
        return get_u32be(k.data()) == kCashKey ? std::string("cash") : "instrument " + u32(0);
      }
      break;
    case Table::orders:
      if (k.size() == 8) return "order " + std::to_string(get_u64be(k.data()));
      break;
  }
  return "key of " + std::to_string(k.size()) + " bytes " +
         to_hex({reinterpret_cast<const std::uint8_t*>(k.data()), k.size()});
}

}  // namespace format
}  // namespace haihe::ledger
