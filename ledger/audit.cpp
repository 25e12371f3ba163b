// haihe::ledger::audit — verify, fold, dump and reports. See audit.h.
#include "ledger/audit.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "ledger/format.h"
#include "ledger/wal.h"
#include "ledger/lmdb_raii.h"
#include "ledger/sha256.h"
#include "ledger/state_check.h"

namespace haihe::ledger::audit {

using format::Table;

namespace {

std::string str(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
std::span<const std::byte> span_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string seq_key(Seq s) {
  std::string k(8, '\0');
  std::byte* p = reinterpret_cast<std::byte*>(k.data());
  format::put_u64be(p, s);
  return k;
}

const char* const kAppendTables[] = {format::kJournal, format::kChain, format::kTrades,
                                     format::kMovements, format::kSnapshots, format::kReservations};

}  // namespace

std::vector<std::string> table_names() {
  std::vector<std::string> out;
  for (const Table t : format::kStateTables) out.emplace_back(format::table_name(t));
  for (const char* n : kAppendTables) out.emplace_back(n);
  return out;
}

// ================================================================ Reader

struct Reader::Impl {
  std::filesystem::path dir;
  lmdb::Env env;
  lmdb::Txn txn;
  std::map<std::string, MDB_dbi> dbi;

  MDB_dbi get_dbi(const std::string& name) const {
    const auto it = dbi.find(name);
    if (it == dbi.end()) throw LedgerError("no table " + name + " in " + dir.string());
    return it->second;
  }
  std::optional<std::string> get(const std::string& table, std::string_view key) const {
    MDB_val k = lmdb::val(key.data(), key.size()), v;
    const int rc = mdb_get(txn.get(), get_dbi(table), &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    lmdb::check(rc, "reading " + table);
    return str(lmdb::bytes(v));
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

Reader Reader::open(const std::filesystem::path& dir) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  std::error_code ec;
  if (!std::filesystem::exists(dir / "data.mdb", ec)) {
    throw LedgerError("no ledger in " + dir.string() + " (no data.mdb there): give the exchange's data directory");
  }
  MDB_env* e = nullptr;
  lmdb::check(mdb_env_create(&e), "creating the environment");
  impl->env = lmdb::Env(e);
  lmdb::check(mdb_env_set_maxdbs(e, 16), "mdb_env_set_maxdbs");
  int rc = mdb_env_open(e, dir.c_str(), MDB_RDONLY | MDB_NORDAHEAD, 0644);
  if (rc == EACCES || rc == EROFS) {
    // A directory we may not write the lock file in (e.g. a read-only copy):
    // read without locks, which is only safe when nobody writes it.
    impl->env.reset();
    lmdb::check(mdb_env_create(&e), "creating the environment");
    impl->env = lmdb::Env(e);
    lmdb::check(mdb_env_set_maxdbs(e, 16), "mdb_env_set_maxdbs");
    rc = mdb_env_open(e, dir.c_str(), MDB_RDONLY | MDB_NORDAHEAD | MDB_NOLOCK, 0644);
  }
  if (rc != MDB_SUCCESS) lmdb::fail(rc, "opening " + dir.string() + " read-only");
  for (;;) {
    MDB_txn* t = nullptr;
    rc = mdb_txn_begin(e, nullptr, MDB_RDONLY, &t);
    if (rc == MDB_MAP_RESIZED) {  // the writer grew the map since we opened
      lmdb::check(mdb_env_set_mapsize(e, 0), "adopting the new map size");
      continue;
    }
    lmdb::check(rc, "beginning a read transaction");
    impl->txn = lmdb::Txn(t);
    break;
  }
  MDB_txn* t = impl->txn.get();
  std::vector<std::string> names = table_names();
  for (const auto& n : names) {
    MDB_dbi d = 0;
    if (lmdb::open_dbi(t, n.c_str(), false, d)) impl->dbi[n] = d;
  }
  if (impl->dbi.count("meta") == 0) {
    throw LedgerError(dir.string() + " holds an LMDB environment that is not a haihe ledger (no meta table)");
  }
  const auto ver = impl->get("meta", "format_version");
  if (!ver) throw LedgerError(dir.string() + " is not a haihe ledger (no format_version)");
  std::uint32_t v = 0;
  if (ver->size() == 4) std::memcpy(&v, ver->data(), 4);
  if (v != format::kVersion) {
    throw LedgerError("the ledger in " + dir.string() + " has storage format " + std::to_string(v) +
                      "; this haihe reads format " + std::to_string(format::kVersion) +
                      ": use the haihe version that wrote it");
  }
  for (const auto& n : names) {
    if (impl->dbi.count(n) == 0) throw LedgerError("the ledger in " + dir.string() + " has no table " + n);
  }
  return Reader(std::move(impl));
}

std::string Reader::rules_text() const { return impl_->get("meta", "rules_toml").value_or(""); }
void Reader::read_journal(Seq from, const std::function<void(Seq, TimestampNs, Bytes)>& fn) const {
  lmdb::Cursor c(impl_->txn.get(), impl_->get_dbi(format::kJournal));
  std::byte key[8];
  std::byte* kp = key;
  format::put_u64be(kp, from);
  MDB_val k = lmdb::val(key, 8), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
    format::JournalView j;
    if (!format::parse_journal(lmdb::bytes(v), j)) {
      throw LedgerError("damaged journal record in " + impl_->dir.string() + ": run haihe audit verify");
    }
    fn(j.header.seq, j.header.ts_ns, j.input);
  }
}
std::string Reader::rules_sha256() const { return impl_->get("meta", "rules_sha256").value_or(""); }
Seq Reader::head_seq() const {
  lmdb::Cursor c(impl_->txn.get(), impl_->get_dbi(format::kChain));
  MDB_val k, v;
  return c.get(k, v, MDB_LAST) == MDB_SUCCESS ? format::get_u64be(lmdb::bytes(k).data()) : 0;
}
Hash Reader::head_hash() const {
  lmdb::Cursor c(impl_->txn.get(), impl_->get_dbi(format::kChain));
  MDB_val k, v;
  Hash h{};
  if (c.get(k, v, MDB_LAST) == MDB_SUCCESS && v.mv_size == 32) std::memcpy(h.data(), v.mv_data, 32);
  return h;
}

// ================================================================ verify

std::string VerifyResult::summary() const {
  std::string out;
  out += "head " + to_hex(head) + "\n";
  out += "batches " + std::to_string(batches) + ", trades " + std::to_string(trades) + ", movements " +
         std::to_string(movements) + ", records " + std::to_string(records) + ", open orders " +
         std::to_string(open_orders) + "\n";
  if (waiting_in_log > 0) {
    out += std::to_string(waiting_in_log) +
           " committed batches after these wait in the write-ahead log (wal): the exchange applies them at its "
           "next checkpoint, or when it next opens the directory\n";
  }
  if (ok) return out + "ok\n";
  switch (mismatch.kind) {
    case Mismatch::Kind::none: break;
    case Mismatch::Kind::format: out += "FAILED: " + mismatch.detail + "\n"; break;
    case Mismatch::Kind::batch:
      out += "FAILED at batch " + std::to_string(mismatch.batch) +
             (mismatch.table.empty() ? std::string() : " (table " + mismatch.table + ")") + ": " +
             mismatch.detail + "\n";
      break;
    case Mismatch::Kind::record:
      out += "FAILED in table " + mismatch.table + ", " + mismatch.key + ": " + mismatch.detail + "\n";
      break;
  }
  for (const auto& v : violations) out += "FAILED law: " + v + "\n";
  return out;
}

namespace {

struct Folded {
  std::string value;
  Seq last = 0;
};

class Verifier {
 public:
  Verifier(const Reader::Impl& r, VerifyResult& out) : r_(r), out_(out) {}

  bool run();
  detail::RawState state() const {
    detail::RawState s;
    for (const Table t : format::kStateTables) {
      for (const auto& [k, f] : fold_[static_cast<int>(t)]) s.tables[static_cast<int>(t)].emplace(k, f.value);
    }
    for (const auto& [id, f] : orders_) {
      OrderReservation o;
      format::decode_order(span_of(f.value), o);  // checked when folded
      s.orders.emplace(id, o);
    }
    return s;
  }

 private:
  bool fail_batch(Seq seq, std::string table, std::string detail) {
    out_.mismatch = {Mismatch::Kind::batch, seq, std::move(table), "", std::move(detail)};
    return false;
  }
  bool fail_record(const std::string& table, std::string key, Seq last, std::string detail) {
    out_.mismatch = {Mismatch::Kind::record, last, table, std::move(key), std::move(detail)};
    return false;
  }
  bool compare_state();
  std::string image_of_orders() const {
    std::string img(8, '\0');
    std::byte* p = reinterpret_cast<std::byte*>(img.data());
    format::put_le<std::uint64_t>(p, orders_.size());
    for (const auto& [id, f] : orders_) {
      img += seq_key(id);
      img += static_cast<char>(f.value.size());
      img += f.value;
    }
    return img;
  }

  const Reader::Impl& r_;
  VerifyResult& out_;
  std::map<std::string, Folded> fold_[10];
  std::map<OrderId, Folded> orders_;
};

// A cursor over an append-only table that walks forward.
class Walk {
 public:
  Walk(MDB_txn* t, MDB_dbi d) : c_(t, d) { advance(MDB_FIRST); }
  bool done() const { return done_; }
  std::uint64_t key() const { return key_; }
  bool key_ok() const { return k_.mv_size == 8; }
  std::span<const std::byte> raw_key() const { return lmdb::bytes(k_); }
  std::span<const std::byte> value() const { return lmdb::bytes(v_); }
  void next() { advance(MDB_NEXT); }

 private:
  void advance(MDB_cursor_op op) {
    done_ = c_.get(k_, v_, op) != MDB_SUCCESS;
    key_ = (!done_ && k_.mv_size == 8) ? format::get_u64be(lmdb::bytes(k_).data()) : ~std::uint64_t{0};
  }
  lmdb::Cursor c_;
  MDB_val k_{}, v_{};
  std::uint64_t key_ = 0;
  bool done_ = true;
};

bool Verifier::run() {
  MDB_txn* t = r_.txn.get();
  Walk journal(t, r_.get_dbi(format::kJournal));
  Walk chain(t, r_.get_dbi(format::kChain));
  Walk trades(t, r_.get_dbi(format::kTrades));
  Walk movements(t, r_.get_dbi(format::kMovements));
  Walk snapshots(t, r_.get_dbi(format::kSnapshots));
  Walk images(t, r_.get_dbi(format::kReservations));
  Sha256 sha;
  Hash prev{};
  Seq expect = 1;
  TradeId next_trade = 1;
  std::uint64_t next_movement = 1;
  for (; !journal.done(); journal.next(), ++expect) {
    const Seq seq = journal.key();
    if (!journal.key_ok() || seq != expect) {
      return fail_batch(expect, format::kJournal,
                        seq > expect ? "the journal record of this batch is missing (the next is batch " +
                                           std::to_string(seq) + ")"
                                     : "the journal has a record with a malformed or repeated key");
    }
    format::JournalView j;
    if (!format::parse_journal(journal.value(), j) || j.header.seq != seq) {
      return fail_batch(seq, format::kJournal, "the journal record is malformed");
    }
    const auto& h = j.header;
    sha.reset();
    sha.update(prev.data(), prev.size());
    sha.update(journal.value());
    if (h.first_trade != next_trade) {
      return fail_batch(seq, format::kJournal, "its trades do not continue the trade ids (expected " +
                                                   std::to_string(next_trade) + ")");
    }
    TradeRecord tr;
    for (std::uint32_t n = 0; n < h.trade_count; ++n, ++next_trade, trades.next()) {
      if (trades.done() || trades.key() != next_trade || !format::decode_trade(next_trade, trades.value(), tr)) {
        return fail_batch(seq, format::kTrades, "trade " + std::to_string(next_trade) + " is missing or malformed");
      }
      const auto len = static_cast<std::uint8_t>(trades.value().size());
      sha.update(trades.raw_key());
      sha.update(&len, 1);
      sha.update(trades.value());
    }
    if (h.first_movement != next_movement) {
      return fail_batch(seq, format::kJournal, "its movements do not continue the movement ids");
    }
    MovementRecord mv;
    for (std::uint32_t n = 0; n < h.movement_count; ++n, ++next_movement, movements.next()) {
      if (movements.done() || movements.key() != next_movement ||
          !format::decode_movement(next_movement, movements.value(), mv)) {
        return fail_batch(seq, format::kMovements,
                          "movement " + std::to_string(next_movement) + " is missing or malformed");
      }
      const auto len = static_cast<std::uint8_t>(movements.value().size());
      sha.update(movements.raw_key());
      sha.update(&len, 1);
      sha.update(movements.value());
    }
    auto optional_record = [&](Walk& w, bool flagged, const char* table) -> bool {
      if (!w.done() && w.key() < seq) {
        return fail_record(table, "batch " + std::to_string(w.key()), 0, "record not written by any batch");
      }
      const bool present = !w.done() && w.key() == seq;
      if (flagged && !present) return fail_batch(seq, table, "its record in table " + std::string(table) + " is missing");
      if (!flagged && present) {
        return fail_record(table, "batch " + std::to_string(seq), 0, "record not written by any batch");
      }
      if (flagged) {
        const std::uint64_t n = w.value().size();
        sha.update(&n, 8);
        sha.update(w.value());
      }
      return true;
    };
    if (!optional_record(snapshots, (h.flags & format::kFlagSnapshot) != 0, format::kSnapshots)) return false;
    if (!optional_record(images, (h.flags & format::kFlagReservations) != 0, format::kReservations)) return false;
    const Hash computed = sha.finish();
    if (chain.done() || chain.key() != seq) {
      return fail_batch(seq, format::kChain, "its chain record is missing");
    }
    if (chain.value().size() != 32 || std::memcmp(chain.value().data(), computed.data(), 32) != 0) {
      return fail_batch(seq, "",
                        "the stored chain hash differs from the one recomputed from the batch's journal record, "
                        "trades, movements and snapshots: one of them, or the chain record, was altered");
    }
    // Fold the write-set.
    bool ok = true;
    std::string fail_detail;
    std::pair<int, std::string> last_key{-1, ""};
    const bool parsed = format::for_each_write(j.writes, h.write_count, [&](const format::WriteEntry& e) {
      if (!ok) return;
      const int tn = static_cast<int>(e.table);
      std::pair<int, std::string> key{tn, str(e.key)};
      if (tn < 1 || tn > 9 || !(last_key < key)) {
        ok = false;
        fail_detail = "its write-set is not in canonical order";
        return;
      }
      last_key = key;
      if (e.table == Table::orders) {
        OrderReservation decoded;
        if (e.key.size() != 8 || (!e.deleted && !format::decode_order(e.value, decoded))) {
          ok = false;
          fail_detail = "its write-set has a malformed order entry";
          return;
        }
        const OrderId id = format::get_u64be(e.key.data());
        if (e.deleted) {
          if (orders_.erase(id) == 0) {
            ok = false;
            fail_detail = "its write-set closes order " + std::to_string(id) + ", which is not open";
          }
        } else {
          orders_[id] = Folded{str(e.value), seq};
        }
        return;
      }
      auto& m = fold_[tn];
      if (e.deleted) {
        if (m.erase(key.second) == 0) {
          ok = false;
          fail_detail = "its write-set deletes " + std::string(format::table_name(e.table)) + " " +
                        format::describe_key(e.table, e.key) + ", which does not exist";
        }
      } else {
        m[key.second] = Folded{str(e.value), seq};
      }
    });
    if (!parsed) return fail_batch(seq, format::kJournal, "its write-set is malformed");
    if (!ok) return fail_batch(seq, format::kJournal, fail_detail);
    if (h.flags & format::kFlagReservations) {
      if (str(images.value()) != image_of_orders()) {
        return fail_batch(seq, format::kReservations,
                          "the reservation image differs from the orders folded from the journal");
      }
    }
    if (h.flags & format::kFlagSnapshot) snapshots.next();
    if (h.flags & format::kFlagReservations) images.next();
    chain.next();
    prev = computed;
    out_.batches = seq;
    out_.head = computed;
  }
  out_.trades = next_trade - 1;
  out_.movements = next_movement - 1;
  auto extra = [&](Walk& w, const char* table) {
    if (w.done()) return true;
    return fail_record(table, (std::string(table) == format::kTrades ? "trade " : std::string(table) == format::kMovements ? "movement " : "batch ") +
                                  std::to_string(w.key()),
                       0, "record not written by any batch");
  };
  if (!extra(chain, format::kChain) || !extra(trades, format::kTrades) || !extra(movements, format::kMovements) ||
      !extra(snapshots, format::kSnapshots) || !extra(images, format::kReservations)) {
    return false;
  }
  out_.open_orders = orders_.size();
  return compare_state();
}

bool Verifier::compare_state() {
  MDB_txn* t = r_.txn.get();
  for (const Table tb : format::kStateTables) {
    const std::string name = format::table_name(tb);
    const auto& m = fold_[static_cast<int>(tb)];
    lmdb::Cursor c(t, r_.get_dbi(name));
    MDB_val k, v;
    auto it = m.begin();
    int rc = c.get(k, v, MDB_FIRST);
    while (rc == MDB_SUCCESS || it != m.end()) {
      const bool have_live = rc == MDB_SUCCESS;
      const std::string lk = have_live ? str(lmdb::bytes(k)) : std::string();
      if (have_live && (it == m.end() || lk < it->first)) {
        return fail_record(name, format::describe_key(tb, lmdb::bytes(k)), 0, "stored record was not written by any batch");
      }
      if (!have_live || it->first < lk) {
        return fail_record(name, format::describe_key(tb, span_of(it->first)), it->second.last,
                           "record last written by batch " + std::to_string(it->second.last) + " is missing");
      }
      if (str(lmdb::bytes(v)) != it->second.value) {
        return fail_record(name, format::describe_key(tb, lmdb::bytes(k)), it->second.last,
                           "stored value differs from the value batch " + std::to_string(it->second.last) +
                               " wrote");
      }
      ++out_.records;
      ++it;
      rc = c.get(k, v, MDB_NEXT);
    }
  }
  return true;
}

}  // namespace

VerifyResult verify(const std::filesystem::path& dir, const rules::MarketRules* rules) {
  VerifyResult out;
  std::error_code ec;
  if (!std::filesystem::exists(dir / "data.mdb", ec)) Reader::open(dir);  // throws: nothing to verify
  std::optional<Reader> opened;
  try {
    opened.emplace(Reader::open(dir));
  } catch (const LedgerError& e) {
    out.mismatch = {Mismatch::Kind::format, 0, "meta", "", e.what()};
    return out;
  }
  Reader& reader = *opened;
  Verifier v(reader.impl(), out);
  if (!v.run()) return out;
  out.waiting_in_log = wal::waiting(dir / "wal", out.batches, out.head);
  std::shared_ptr<const rules::MarketRules> loaded;
  if (rules == nullptr) {
    try {
      loaded = rules::load_rules_text(reader.rules_text(), "<rules stored in the ledger>");
      rules = loaded.get();
    } catch (const std::exception& e) {
      out.violations.push_back(std::string("the rules stored in the ledger do not load: ") + e.what());
      return out;
    }
  }
  out.violations = detail::check_state(*rules, v.state());
  out.ok = out.violations.empty();
  return out;
}

// ================================================================ fold_into

Hash fold_into(const std::filesystem::path& src, const std::filesystem::path& dst) {
  Reader reader = Reader::open(src);
  const Reader::Impl& r = reader.impl();
  std::error_code ec;
  std::filesystem::create_directories(dst, ec);
  if (std::filesystem::exists(dst / "data.mdb")) throw LedgerError("fold_into: " + dst.string() + " is not empty");
  MDB_env* e = nullptr;
  lmdb::check(mdb_env_create(&e), "creating the environment");
  lmdb::Env env(e);
  lmdb::check(mdb_env_set_maxdbs(e, 16), "mdb_env_set_maxdbs");
  const auto src_size = std::filesystem::file_size(src / "data.mdb", ec);
  lmdb::check(mdb_env_set_mapsize(e, static_cast<std::size_t>((ec ? 0 : src_size) * 2 + (std::uint64_t{1} << 30))),
              "mdb_env_set_mapsize");
  lmdb::check(mdb_env_open(e, dst.c_str(), MDB_NOSYNC, 0644), "opening " + dst.string());
  std::map<std::string, MDB_dbi> dbi;
  {
    lmdb::Txn txn(e, 0, "creating the tables");
    for (const auto& n : table_names()) lmdb::open_dbi(txn.get(), n.c_str(), true, dbi[n]);
    lmdb::check(txn.commit(), "creating the tables");
  }
  MDB_txn* rt = r.txn.get();
  Walk journal(rt, r.get_dbi(format::kJournal));
  lmdb::Cursor trades(rt, r.get_dbi(format::kTrades)), movements(rt, r.get_dbi(format::kMovements));
  Sha256 sha;
  Hash prev{};
  for (; !journal.done(); journal.next()) {
    format::JournalView j;
    if (!format::parse_journal(journal.value(), j)) throw LedgerError("fold_into: malformed journal record");
    const auto& h = j.header;
    lmdb::Txn txn(e, 0, "folding a batch");
    MDB_txn* t = txn.get();
    const std::string k = seq_key(h.seq);
    MDB_val key = lmdb::val(k.data(), 8);
    bool ok = format::for_each_write(j.writes, h.write_count, [&](const format::WriteEntry& w) {
      if (w.table == Table::orders) return;
      MDB_val wk = lmdb::val(w.key);
      const MDB_dbi d = dbi.at(format::table_name(w.table));
      if (w.deleted) {
        lmdb::check(mdb_del(t, d, &wk, nullptr), "fold: delete");
      } else {
        MDB_val wv = lmdb::val(w.value);
        lmdb::check(mdb_put(t, d, &wk, &wv, 0), "fold: put");
      }
    });
    if (!ok) throw LedgerError("fold_into: malformed write-set");
    sha.reset();
    sha.update(prev.data(), prev.size());
    sha.update(journal.value());
    auto copy_range = [&](lmdb::Cursor& c, const char* name, std::uint64_t first, std::uint32_t count) {
      const std::string fk = seq_key(first);
      MDB_val ck = lmdb::val(fk.data(), 8), cv;
      for (std::uint32_t n = 0; n < count; ++n) {
        if (c.get(ck, cv, n == 0 ? MDB_SET_KEY : MDB_NEXT) != MDB_SUCCESS) {
          throw LedgerError(std::string("fold_into: missing record in ") + name);
        }
        const auto len = static_cast<std::uint8_t>(cv.mv_size);
        sha.update(lmdb::bytes(ck));
        sha.update(&len, 1);
        sha.update(lmdb::bytes(cv));
        lmdb::check(mdb_put(t, dbi.at(name), &ck, &cv, MDB_APPEND), "fold: append");
      }
    };
    copy_range(trades, format::kTrades, h.first_trade, h.trade_count);
    copy_range(movements, format::kMovements, h.first_movement, h.movement_count);
    auto copy_one = [&](const char* name) {
      const auto v = r.get(name, k);
      if (!v) throw LedgerError(std::string("fold_into: missing record in ") + name);
      const std::uint64_t n = v->size();
      sha.update(&n, 8);
      sha.update(span_of(*v));
      MDB_val vv = lmdb::val(v->data(), v->size());
      lmdb::check(mdb_put(t, dbi.at(name), &key, &vv, MDB_APPEND), "fold: append");
    };
    if (h.flags & format::kFlagSnapshot) copy_one(format::kSnapshots);
    if (h.flags & format::kFlagReservations) copy_one(format::kReservations);
    MDB_val jv = lmdb::val(journal.value());
    lmdb::check(mdb_put(t, dbi.at(format::kJournal), &key, &jv, MDB_APPEND), "fold: journal");
    prev = sha.finish();
    MDB_val hv = lmdb::val(prev.data(), prev.size());
    lmdb::check(mdb_put(t, dbi.at(format::kChain), &key, &hv, MDB_APPEND), "fold: chain");
    lmdb::check(txn.commit(), "fold: commit");
  }
  lmdb::check(mdb_env_sync(e, 1), "fold: sync");
  return prev;
}

std::vector<std::pair<std::string, std::string>> dump_table(const std::filesystem::path& dir,
                                                            const std::string& table) {
  Reader reader = Reader::open(dir);
  const Reader::Impl& r = reader.impl();
  std::vector<std::pair<std::string, std::string>> out;
  lmdb::Cursor c(r.txn.get(), r.get_dbi(table));
  MDB_val k, v;
  for (int rc = c.get(k, v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
    out.emplace_back(str(lmdb::bytes(k)), str(lmdb::bytes(v)));
  }
  return out;
}

// ================================================================ reports

Report build_report(const Reader& reader, const rules::MarketRules& rules, const ReportFilter& f) {
  using namespace format;
  const Reader::Impl& r = reader.impl();
  MDB_txn* t = r.txn.get();
  Report rep;
  rep.head_seq = reader.head_seq();
  rep.head = reader.head_hash();
  const auto nP = rules.parties.size();
  auto region_of = [&](PartyIndex p) { return p < nP ? rules.parties[p].region : rules::kNone; };
  auto party_ok = [&](PartyIndex p) {
    if (f.party && *f.party != p) return false;
    if (f.city && region_of(p) != *f.city) return false;
    return true;
  };
  auto inst_ok = [&](InstrumentIndex i) { return !f.instrument || *f.instrument == i; };
  auto scan = [&](const char* table, auto&& fn) {
    lmdb::Cursor c(t, r.get_dbi(table));
    MDB_val k, v;
    for (int rc = c.get(k, v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.get(k, v, MDB_NEXT)) {
      fn(lmdb::bytes(k), lmdb::bytes(v));
    }
  };
  scan("holdings", [&](auto k, auto v) {
    Holding h;
    if (k.size() != 8 || !decode_holding(v, h)) return;
    const PartyIndex p = get_u32be(k.data());
    const InstrumentIndex i = get_u32be(k.data() + 4);
    if (!party_ok(p) || !inst_ok(i)) return;
    rep.holdings.push_back({p, i, h});
  });
  scan("cash", [&](auto k, auto v) {
    Cash c;
    if (k.size() != 4 || !decode_cash(v, c)) return;
    const PartyIndex p = get_u32be(k.data());
    if (!party_ok(p)) return;
    rep.cash.push_back({p, c});
  });
  // Region usage: every stored usage plus every cap, so unused caps show.
  std::map<std::pair<RegionIndex, InstrumentIndex>, RegionUsage> usage;
  scan("region_usage", [&](auto k, auto v) {
    RegionUsage u;
    if (k.size() != 8 || !decode_region_usage(v, u)) return;
    usage[{get_u32be(k.data()), get_u32be(k.data() + 4)}] = u;
  });
  for (const auto& c : rules.region_caps) usage.try_emplace({c.region, c.instrument});
  if (!f.party) {
    for (const auto& [key, u] : usage) {
      if ((f.city && *f.city != key.first) || !inst_ok(key.second)) continue;
      const auto* cap = rules.region_cap(key.first, key.second);
      rep.regions.push_back({key.first, key.second, u, cap ? cap->cap_qty : -1});
    }
  }
  std::map<std::pair<ZoneIndex, std::uint16_t>, std::pair<Qty, Qty>> zones;  // held, loss
  scan("zone_usage", [&](auto k, auto v) {
    Qty q = 0;
    if (k.size() != 6 || !decode_qty(v, q)) return;
    zones[{get_u32be(k.data()), get_u16be(k.data() + 4)}].first = q;
  });
  for (const auto& c : rules.zone_caps) zones.try_emplace({c.zone, c.vintage});
  for (const auto& in : rules.instruments) {
    if (in.kind == rules::InstrumentKind::water && in.zone != rules::kNone) zones.try_emplace({in.zone, in.vintage});
  }
  scan("loss", [&](auto k, auto v) {
    Qty q = 0;
    if (k.size() != 8 || !decode_qty(v, q)) return;
    const InstrumentIndex i = get_u32be(k.data() + 4);
    if (i >= rules.instruments.size() || !inst_ok(i)) return;
    zones[{get_u32be(k.data()), rules.instruments[i].vintage}].second += q;
  });
  if (!f.party) {
    for (const auto& [key, hl] : zones) {
      if (key.first >= rules.zones.size()) continue;
      if (f.city && rules.zones[key.first].region != *f.city) continue;
      if (f.instrument) {
        const auto& in = rules.instruments[*f.instrument];
        if (in.kind != rules::InstrumentKind::water || in.zone != key.first || in.vintage != key.second) continue;
      }
      const auto* cap = rules.zone_cap(key.first, key.second);
      rep.zones.push_back({key.first, key.second, hl.first, cap ? cap->cap_qty : -1, hl.second});
    }
  }
  // Trades in the time range and the flows they carry.
  std::map<PartyIndex, Report::CompensationRow> comp;
  std::map<PartyIndex, Report::LevyRow> levy;
  std::map<InstrumentIndex, Report::FeeRow> fees;
  scan("trades", [&](auto k, auto v) {
    TradeRecord tr;
    if (k.size() != 8 || !decode_trade(get_u64be(k.data()), v, tr)) return;
    if (tr.ts_ns < f.from_ns || tr.ts_ns >= f.to_ns || !inst_ok(tr.instrument)) return;
    const bool parties = (f.party || f.city) ? (party_ok(tr.buyer) || party_ok(tr.seller)) : true;
    const bool receiver_comp = tr.beneficiary != rules::kNone && party_ok(tr.beneficiary);
    const bool receiver_levy = tr.fund != rules::kNone && (!f.party || *f.party == tr.fund) && !f.city;
    if (parties) {
      rep.trades.push_back(tr);
      auto& fr = fees.try_emplace(tr.instrument, Report::FeeRow{tr.instrument, 0, 0, 0, 0}).first->second;
      fr.buyer_fen += tr.buyer_fee_fen;
      fr.seller_fen += tr.seller_fee_fen;
      fr.value_fen += tr.value_fen;
      ++fr.trades;
    }
    if (tr.compensation_fen != 0 && (receiver_comp || (parties && !f.party && !f.city))) {
      auto& c = comp.try_emplace(tr.beneficiary, Report::CompensationRow{tr.beneficiary, 0, 0, 0}).first->second;
      c.fen += tr.compensation_fen;
      c.qty += tr.qty;
      ++c.trades;
    }
    if (tr.levy_fen != 0 && (receiver_levy || (parties && !f.party && !f.city))) {
      auto& l = levy.try_emplace(tr.fund, Report::LevyRow{tr.fund, 0, 0}).first->second;
      l.fen += tr.levy_fen;
      ++l.trades;
    }
  });
  for (auto& [p, c] : comp) rep.compensation.push_back(c);
  for (auto& [p, l] : levy) rep.levies.push_back(l);
  for (auto& [i, fr] : fees) rep.fees.push_back(fr);
  scan("movements", [&](auto k, auto v) {
    MovementRecord m;
    if (k.size() != 8 || !decode_movement(get_u64be(k.data()), v, m)) return;
    if (m.ts_ns < f.from_ns || m.ts_ns >= f.to_ns) return;
    if (f.instrument && m.instrument != *f.instrument) return;
    if ((f.party || f.city) && !party_ok(m.party) && !(m.counterparty != rules::kNone && party_ok(m.counterparty))) return;
    rep.movements.push_back(m);
  });
  {
    lmdb::Cursor c(t, r.get_dbi(kJournal));
    MDB_val k, v;
    format::JournalView j;
    if (c.get(k, v, MDB_LAST) == MDB_SUCCESS && format::parse_journal(lmdb::bytes(v), j)) {
      rep.head_ts_ns = j.header.ts_ns;
    }
  }
  return rep;
}

}  // namespace haihe::ledger::audit
