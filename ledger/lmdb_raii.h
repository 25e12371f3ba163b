// Small RAII wrappers over the LMDB C API (internal to haihe::ledger).
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "ledger/ledger.h"

namespace haihe::ledger::lmdb {

/// Throws LedgerError "<what>: <mdb_strerror(rc)>" with a hint for the
/// failures a person can act on (disk full, permissions, map full).
[[noreturn]] void fail(int rc, std::string_view what);
inline void check(int rc, std::string_view what) {
  if (rc != MDB_SUCCESS) fail(rc, what);
}

inline MDB_val val(const void* p, std::size_t n) { return MDB_val{n, const_cast<void*>(p)}; }
inline MDB_val val(std::span<const std::byte> s) { return val(s.data(), s.size()); }
inline std::span<const std::byte> bytes(const MDB_val& v) {
  return {static_cast<const std::byte*>(v.mv_data), v.mv_size};
}

class Env {
 public:
  Env() = default;
  explicit Env(MDB_env* e) : env_(e) {}
  Env(Env&& o) noexcept : env_(std::exchange(o.env_, nullptr)) {}
  Env& operator=(Env&& o) noexcept {
    if (this != &o) {
      reset();
      env_ = std::exchange(o.env_, nullptr);
    }
    return *this;
  }
  ~Env() { reset(); }
  void reset() {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = nullptr;
  }
  MDB_env* get() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

class Txn {
 public:
  Txn() = default;
  Txn(MDB_env* env, unsigned flags, std::string_view what) {
    check(mdb_txn_begin(env, nullptr, flags, &txn_), what);
  }
  explicit Txn(MDB_txn* adopt) : txn_(adopt) {}
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  ~Txn() { abort(); }
  void abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  /// Returns the LMDB code; the handle is gone either way.
  int commit() { return mdb_txn_commit(std::exchange(txn_, nullptr)); }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { check(mdb_cursor_open(txn, dbi, &c_), "mdb_cursor_open"); }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() { mdb_cursor_close(c_); }
  /// MDB_SUCCESS or MDB_NOTFOUND; anything else throws.
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
    const int rc = mdb_cursor_get(c_, &k, &v, op);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) fail(rc, "mdb_cursor_get");
    return rc;
  }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
};

/// Opens a named database; with `create` it is created if missing. Returns
/// false (read-only, not created) when it does not exist.
bool open_dbi(MDB_txn* txn, const char* name, bool create, MDB_dbi& out);

}  // namespace haihe::ledger::lmdb
