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

void encode_trade(const TradeRecord& t, std::byte* p) {
  std::byte* const start = p;
  put_le<std::uint64_t>(p, t.seq);
  put_le<std::int64_t>(p, t.ts_ns);
  put_le<std::uint32_t>(p, t.instrument);
  put_le<std::uint32_t>(p, t.buyer);
  put_le<std::uint32_t>(p, t.seller);
  put_le<std::uint32_t>(p, t.beneficiary);
  put_le<std::uint32_t>(p, t.fund);
  put_le<std::uint32_t>(p, t.zone);
  put_le<std::uint64_t>(p, t.buy_order);
  put_le<std::uint64_t>(p, t.sell_order);
  put_le<std::int64_t>(p, t.qty);
  put_le<std::int64_t>(p, t.delivered_qty);
  put_le<std::int64_t>(p, t.price_fen);
  put_le<std::int64_t>(p, t.buyer_fee_fen);
  put_le<std::int64_t>(p, t.seller_fee_fen);
  put_le<std::int64_t>(p, t.compensation_fen);
  put_le<std::int64_t>(p, t.levy_fen);
  assert(p - start == static_cast<std::ptrdiff_t>(kTradeSize));
  (void)start;
}

TradeRecord decode_trade(std::uint64_t id, const std::byte* p) {
  TradeRecord t;
  t.id = id;
  t.seq = get_le<std::uint64_t>(p);
  t.ts_ns = get_le<std::int64_t>(p);
  t.instrument = get_le<std::uint32_t>(p);
  t.buyer = get_le<std::uint32_t>(p);
  t.seller = get_le<std::uint32_t>(p);
  t.beneficiary = get_le<std::uint32_t>(p);
  t.fund = get_le<std::uint32_t>(p);
  t.zone = get_le<std::uint32_t>(p);
  t.buy_order = get_le<std::uint64_t>(p);
  t.sell_order = get_le<std::uint64_t>(p);
  t.qty = get_le<std::int64_t>(p);
  t.delivered_qty = get_le<std::int64_t>(p);
  t.price_fen = get_le<std::int64_t>(p);
  t.buyer_fee_fen = get_le<std::int64_t>(p);
  t.seller_fee_fen = get_le<std::int64_t>(p);
  t.compensation_fen = get_le<std::int64_t>(p);
  t.levy_fen = get_le<std::int64_t>(p);
  // Stored records were range-checked when settled; recompute the value.
  __extension__ typedef __int128 i128;
  t.value_fen = static_cast<Fen>(static_cast<i128>(t.qty) * t.price_fen);
  return t;
}

void encode_movement(const MovementRecord& m, std::byte* p) {
  put_le<std::uint64_t>(p, m.seq);
  put_le<std::int64_t>(p, m.ts_ns);
  put_le<std::uint8_t>(p, static_cast<std::uint8_t>(m.kind));
  put_le<std::uint32_t>(p, m.party);
  put_le<std::uint32_t>(p, m.counterparty);
  put_le<std::uint32_t>(p, m.instrument);
  put_le<std::int64_t>(p, m.amount);
}

MovementRecord decode_movement(std::uint64_t id, const std::byte* p) {
  MovementRecord m;
  m.id = id;
  m.seq = get_le<std::uint64_t>(p);
  m.ts_ns = get_le<std::int64_t>(p);
  m.kind = static_cast<MovementKind>(get_le<std::uint8_t>(p));
  m.party = get_le<std::uint32_t>(p);
  m.counterparty = get_le<std::uint32_t>(p);
  m.instrument = get_le<std::uint32_t>(p);
  m.amount = get_le<std::int64_t>(p);
  return m;
}

void encode_order(const OrderReservation& o, std::byte* p) {
  put_le<std::uint32_t>(p, o.party);
  put_le<std::uint32_t>(p, o.instrument);
  put_le<std::uint8_t>(p, static_cast<std::uint8_t>(o.side));
  put_le<std::int64_t>(p, o.limit_fen);
  put_le<std::int64_t>(p, o.qty);
  put_le<std::int64_t>(p, o.cash_fen);
}

OrderReservation decode_order(const std::byte* p) {
  OrderReservation o;
  o.party = get_le<std::uint32_t>(p);
  o.instrument = get_le<std::uint32_t>(p);
  o.side = static_cast<Side>(get_le<std::uint8_t>(p));
  o.limit_fen = get_le<std::int64_t>(p);
  o.qty = get_le<std::int64_t>(p);
  o.cash_fen = get_le<std::int64_t>(p);
  return o;
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
