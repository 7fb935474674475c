#include "store/rocks_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "store/status.h"

namespace chatroomd::store {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
// The messages memtable takes the bulk of the writes; the index column families hold a few
// bytes per message, so smaller memtables flush them about as often.
constexpr size_t kMessagesWriteBuffer = 16 * kMiB;
constexpr size_t kIndexWriteBuffer = 4 * kMiB;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Compaction runs when files are written; a file nobody rewrites would keep expired entries
// on disk forever. Periodic compaction rewrites files older than this. Half the ttl keeps
// disk use near the ttl; the floor avoids rewriting everything every few minutes when the
// ttl is short, the cap keeps a long ttl from letting garbage sit for days.
uint64_t PeriodicCompactionSeconds(int64_t ttl_ms) {
  if (ttl_ms <= 0) return 0;  // nothing expires: never needed
  constexpr int64_t kFloor = 3600;
  constexpr int64_t kCap = 24 * 3600;
  return static_cast<uint64_t>(std::clamp<int64_t>(ttl_ms / 2000, kFloor, kCap));
}

Error ClosedError() { return MakeError(ErrorCode::kInternal, "store: closed"); }

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  auto store = RocksStore::Open(options);
  if (!store.ok()) return store.take_error();
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<RocksStore>> RocksStore::Open(const StoreOptions& options) {
  if (options.data_dir.empty()) {
    return MakeError(ErrorCode::kInternal, "store: data_dir is empty");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kInternal,
                     "store: create " + options.data_dir + ": " + ec.message());
  }
  Clock clock = options.now_ms ? options.now_ms : Clock(&SystemNowMs);
  std::unique_ptr<RocksStore> store(new RocksStore(options, std::move(clock)));
  Status opened = store->OpenDb();
  if (!opened.ok()) return opened.take_error();
  return store;
}

RocksStore::RocksStore(const StoreOptions& options, Clock clock)
    : options_(options), clock_(std::move(clock)) {}

RocksStore::~RocksStore() { Close(); }

Status RocksStore::OpenDb() {
  message_retention_ = std::make_shared<RetentionFilterFactory>(clock_, options_.retention_ms);
  dedup_retention_ = std::make_shared<RetentionFilterFactory>(clock_, options_.dedup_window_ms);

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 5;
  // A column family that rarely flushes (rooms, dedup) pins the WAL files holding its oldest
  // writes; past store.max_wal_mb RocksDB flushes it so old WAL files can go.
  db_options.max_total_wal_size = uint64_t{std::max<uint32_t>(options_.max_wal_mb, 1)} * kMiB;
  // Ceiling on all memtables together (store.write_buffer_mb): past it RocksDB flushes the
  // largest, so memory stays bounded however many column families are busy.
  db_options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
      std::max<size_t>(options_.write_buffer_mb, 1) * kMiB);

  // One block cache for every column family, holding index and filter blocks too, so that
  // block_cache_mb bounds the read-side memory (L0's are pinned: they are read on every get).
  std::shared_ptr<rocksdb::Cache> cache =
      rocksdb::NewLRUCache(std::max<size_t>(options_.block_cache_mb, 1) * kMiB);
  rocksdb::BlockBasedTableOptions plain_table;
  plain_table.block_cache = cache;
  plain_table.cache_index_and_filter_blocks = true;
  plain_table.pin_l0_filter_and_index_blocks_in_cache = true;
  rocksdb::BlockBasedTableOptions bloom_table = plain_table;
  bloom_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  std::shared_ptr<rocksdb::TableFactory> plain_factory(
      rocksdb::NewBlockBasedTableFactory(plain_table));
  std::shared_ptr<rocksdb::TableFactory> bloom_factory(
      rocksdb::NewBlockBasedTableFactory(bloom_table));

  auto cf_options = [&](size_t write_buffer, bool bloom) {
    rocksdb::ColumnFamilyOptions cf;
    cf.write_buffer_size = write_buffer;
    cf.max_write_buffer_number = 2;
    cf.level_compaction_dynamic_level_bytes = true;
    cf.table_factory = bloom ? bloom_factory : plain_factory;
    return cf;
  };
  // The default column family is required by RocksDB but unused.
  rocksdb::ColumnFamilyOptions default_cf = cf_options(kIndexWriteBuffer, false);
  rocksdb::ColumnFamilyOptions messages_cf = cf_options(kMessagesWriteBuffer, true);
  messages_cf.compaction_filter_factory = message_retention_;
  messages_cf.periodic_compaction_seconds = PeriodicCompactionSeconds(options_.retention_ms);
  rocksdb::ColumnFamilyOptions priority_cf = cf_options(kIndexWriteBuffer, true);
  priority_cf.compaction_filter_factory = message_retention_;
  priority_cf.periodic_compaction_seconds = messages_cf.periodic_compaction_seconds;
  rocksdb::ColumnFamilyOptions rooms_cf = cf_options(kIndexWriteBuffer, true);
  rocksdb::ColumnFamilyOptions dedup_cf = cf_options(kIndexWriteBuffer, true);
  dedup_cf.compaction_filter_factory = dedup_retention_;
  dedup_cf.periodic_compaction_seconds = PeriodicCompactionSeconds(options_.dedup_window_ms);
  // Audience counters: a few small writes per room and flush period, read by point lookups.
  rocksdb::ColumnFamilyOptions counters_cf = cf_options(kIndexWriteBuffer, true);
  counters_cf.compaction_filter_factory =
      std::make_shared<CounterRetentionFilterFactory>(clock_, options_.audience_retention_days);
  counters_cf.periodic_compaction_seconds = 24 * 3600;  // old hours go within a day or so
  // Mutes and kicks: a few bytes per entry, scanned once per room load.
  rocksdb::ColumnFamilyOptions moderation_cf = cf_options(kIndexWriteBuffer, false);
  moderation_cf.compaction_filter_factory = std::make_shared<ModerationFilterFactory>(clock_);
  moderation_cf.periodic_compaction_seconds = 24 * 3600;  // entries past their end go in a day

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, default_cf},
      {kMessagesCf, messages_cf},
      {kPriorityCf, priority_cf},
      {kRoomsCf, rooms_cf},
      {kDedupCf, dedup_cf},
      {kCountersCf, counters_cf},
      {kModerationCf, moderation_cf},
  };
  // RocksDB refuses to open a DB without naming every column family in it. Others may be
  // added by later versions (counters, say): open those with defaults rather than fail.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options_.data_dir, &existing).ok()) {
    for (const std::string& name : existing) {
      bool known = std::any_of(descriptors.begin(), descriptors.end(),
                               [&](const auto& d) { return d.name == name; });
      if (!known) descriptors.emplace_back(name, cf_options(kIndexWriteBuffer, false));
    }
  }

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options_.data_dir, descriptors, &handles_, &db);
  if (!s.ok()) return StoreError("open " + options_.data_dir, s);
  db_.reset(db);
  cfs_.messages = Handle(kMessagesCf);
  cfs_.priority = Handle(kPriorityCf);
  cfs_.rooms = Handle(kRoomsCf);
  cfs_.dedup = Handle(kDedupCf);
  cfs_.counters = Handle(kCountersCf);
  cfs_.moderation = Handle(kModerationCf);

  reader_ =
      std::make_unique<StoreReader>(db_.get(), cfs_, clock_, options_.retention_ms,
                                    options_.dedup_window_ms, options_.audience_retention_days);
  writer_ = std::make_unique<BatchWriter>(db_.get(), cfs_, options_, clock_);
  readers_ =
      std::make_unique<boost::asio::thread_pool>(std::max<uint32_t>(options_.reader_threads, 1));
  return OkStatus();
}

rocksdb::ColumnFamilyHandle* RocksStore::Handle(std::string_view name) const {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    if (handle->GetName() == name) return handle;
  }
  return nullptr;
}

bool RocksStore::Enter() {
  // seq_cst on both sides (here and in Close) so that either this call sees closing_ or
  // Close sees this caller counted: never neither.
  callers_.fetch_add(1, std::memory_order_seq_cst);
  if (closing_.load(std::memory_order_seq_cst)) {
    Leave();
    return false;
  }
  return true;
}

void RocksStore::Leave() { callers_.fetch_sub(1, std::memory_order_release); }

void RocksStore::Submit(std::unique_ptr<WriteRequest> request) {
  if (!request) return;
  if (!Enter()) {
    if (request->done)
      Complete<Status>(request->done_loop, std::move(request->done), ClosedError());
    return;
  }
  writer_->Push(std::move(request));
  Leave();
}

void RocksStore::LoadRoom(std::string room, uint32_t window_size, uint32_t priority_size,
                          Loop* done_loop, std::function<void(Result<RoomSnapshot>)> done) {
  using R = Result<RoomSnapshot>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(*readers_, [this, room = std::move(room), window_size, priority_size, done_loop,
                                done = std::move(done)]() mutable {
    Complete<R>(done_loop, std::move(done), reader_->LoadRoom(room, window_size, priority_size));
  });
  Leave();
}

void RocksStore::History(std::string room, std::optional<uint64_t> before, uint32_t limit,
                         Loop* done_loop, std::function<void(Result<HistoryPage>)> done) {
  using R = Result<HistoryPage>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(*readers_, [this, room = std::move(room), before, limit, done_loop,
                                done = std::move(done)]() mutable {
    Complete<R>(done_loop, std::move(done), reader_->History(room, before, limit));
  });
  Leave();
}

void RocksStore::ReadMessage(std::string room, uint64_t seq, Loop* done_loop,
                             std::function<void(Result<std::optional<MessageRecord>>)> done) {
  using R = Result<std::optional<MessageRecord>>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(
      *readers_, [this, room = std::move(room), seq, done_loop, done = std::move(done)]() mutable {
        Complete<R>(done_loop, std::move(done), reader_->ReadMessage(room, seq));
      });
  Leave();
}

void RocksStore::PriorityAfter(std::string room, uint64_t after, uint32_t limit, Loop* done_loop,
                               std::function<void(Result<std::vector<MessageRecord>>)> done) {
  using R = Result<std::vector<MessageRecord>>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(*readers_, [this, room = std::move(room), after, limit, done_loop,
                                done = std::move(done)]() mutable {
    Complete<R>(done_loop, std::move(done), reader_->PriorityAfter(room, after, limit));
  });
  Leave();
}

void RocksStore::LookupDedup(std::string room, std::string sender, std::string client_msg_id,
                             Loop* done_loop,
                             std::function<void(Result<std::optional<uint64_t>>)> done) {
  using R = Result<std::optional<uint64_t>>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(*readers_, [this, room = std::move(room), sender = std::move(sender),
                                client_msg_id = std::move(client_msg_id), done_loop,
                                done = std::move(done)]() mutable {
    Complete<R>(done_loop, std::move(done), reader_->LookupDedup(room, sender, client_msg_id));
  });
  Leave();
}

void RocksStore::ReadCounters(
    std::string room, std::vector<CounterKey> keys, Loop* done_loop,
    std::function<void(Result<std::vector<std::optional<std::string>>>)> done) {
  using R = Result<std::vector<std::optional<std::string>>>;
  if (!Enter()) return Complete<R>(done_loop, std::move(done), ClosedError());
  boost::asio::post(*readers_, [this, room = std::move(room), keys = std::move(keys), done_loop,
                                done = std::move(done)]() mutable {
    Complete<R>(done_loop, std::move(done), reader_->ReadCounters(room, keys));
  });
  Leave();
}

StoreStats RocksStore::Stats() const {
  if (!writer_)
    return StoreStats{.latency_buckets = std::vector<uint64_t>(std::size(kLatencyBucketsUs), 0),
                      .batch_size_buckets = {}};
  return writer_->Stats();
}

void RocksStore::Close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  closing_.store(true, std::memory_order_seq_cst);
  // Callers inside the gate are between two atomic operations and a non-blocking enqueue or
  // post: a short spin.
  while (callers_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
  if (writer_) writer_->Stop();    // completes every submitted write
  if (readers_) readers_->join();  // runs every posted read: the DB is still open
  if (!db_) return;
  rocksdb::Status s = db_->FlushWAL(/*sync=*/true);
  if (!s.ok()) spdlog::error("store: flush WAL on close: {}", s.ToString());
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    s = db_->DestroyColumnFamilyHandle(handle);
    if (!s.ok()) spdlog::error("store: destroy column family handle: {}", s.ToString());
  }
  handles_.clear();
  cfs_ = ColumnFamilies{};
  s = db_->Close();
  if (!s.ok()) spdlog::error("store: close: {}", s.ToString());
  db_.reset();
}

Status RocksStore::CompactAllForTesting() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handle);
    if (!s.ok()) return StoreError("flush", s);
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = db_->CompactRange(options, handle, nullptr, nullptr);
    if (!s.ok()) return StoreError("compact", s);
  }
  return OkStatus();
}

Result<uint64_t> RocksStore::CountEntriesForTesting(std::string_view column_family) {
  rocksdb::ColumnFamilyHandle* handle = Handle(column_family);
  if (!handle) return MakeError(ErrorCode::kNotFound, "store: no such column family");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle));
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  if (!it->status().ok()) return StoreError("count", it->status());
  return count;
}

}  // namespace chatroomd::store
