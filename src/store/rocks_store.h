// Store implemented on one RocksDB: owns the DB, its column family handles, the writer
// (BatchWriter), the reader pool and the retention filters.
//
// Every public call passes a gate (an atomic count of callers inside plus a closing flag) so
// that Close() can stop accepting without a mutex on the hot path: once Close() has seen the
// count drop to zero, nothing more reaches the queue or the pool. A call that arrives after
// Close() began completes at once, on the caller's thread, with kInternal "store: closed".
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "chatroomd/store/store.h"
#include "store/batch_writer.h"
#include "store/column_families.h"
#include "store/retention_filter.h"
#include "store/store_reader.h"

namespace chatroomd::store {

class RocksStore final : public Store {
 public:
  static Result<std::unique_ptr<RocksStore>> Open(const StoreOptions& options);
  ~RocksStore() override;

  void Submit(std::unique_ptr<WriteRequest> request) override;
  void LoadRoom(std::string room, uint32_t window_size, uint32_t priority_size, Loop* done_loop,
                std::function<void(Result<RoomSnapshot>)> done) override;
  void History(std::string room, std::optional<uint64_t> before, uint32_t limit, Loop* done_loop,
               std::function<void(Result<HistoryPage>)> done) override;
  void ReadMessage(std::string room, uint64_t seq, Loop* done_loop,
                   std::function<void(Result<std::optional<MessageRecord>>)> done) override;
  void PriorityAfter(std::string room, uint64_t after, uint32_t limit, Loop* done_loop,
                     std::function<void(Result<std::vector<MessageRecord>>)> done) override;
  void LookupDedup(std::string room, std::string sender, std::string client_msg_id, Loop* done_loop,
                   std::function<void(Result<std::optional<uint64_t>>)> done) override;
  void ReadCounters(
      std::string room, std::vector<CounterKey> keys, Loop* done_loop,
      std::function<void(Result<std::vector<std::optional<std::string>>>)> done) override;
  StoreStats Stats() const override;
  void Close() override;

  // Tests only, blocking: flushes every column family and compacts it fully, so the retention
  // filter has seen every entry.
  Status CompactAllForTesting();
  // Tests only, blocking: every entry in a column family, expired or not.
  Result<uint64_t> CountEntriesForTesting(std::string_view column_family);

 private:
  RocksStore(const StoreOptions& options, Clock clock);
  Status OpenDb();
  rocksdb::ColumnFamilyHandle* Handle(std::string_view name) const;

  // The gate: Enter() is false once Close() has begun; a true Enter() needs a Leave().
  bool Enter();
  void Leave();

  const StoreOptions options_;
  const Clock clock_;
  // The filters and cache are referenced by the DB's options: declared before db_ so that
  // they are destroyed after it.
  std::shared_ptr<RetentionFilterFactory> message_retention_;
  std::shared_ptr<RetentionFilterFactory> dedup_retention_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // owned; destroyed in Close()
  ColumnFamilies cfs_;
  std::unique_ptr<StoreReader> reader_;
  std::unique_ptr<BatchWriter> writer_;
  std::unique_ptr<boost::asio::thread_pool> readers_;

  std::atomic<bool> closing_{false};
  std::atomic<int64_t> callers_{0};
  std::mutex close_mu_;  // serializes Close() calls only
  bool closed_ = false;
};

}  // namespace chatroomd::store
