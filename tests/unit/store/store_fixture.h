// The fixture of the store tests: the store against a real RocksDB in a fresh temporary
// directory per test, with a fake clock (now_). Nothing sleeps: completions are awaited through
// futures and latches, and the writer is held still, when a test needs it, by a request whose
// completion blocks on a latch.
#pragma once

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatroomd/store/store.h"
#include "store/rocks_store.h"

namespace chatroomd::store {

inline constexpr int64_t kT0 = 1'700'000'000'000;
inline constexpr int64_t kCreated = 1'600'000'000'000;

inline MessageRecord Msg(uint64_t seq, bool priority = false, int64_t ts_ms = kT0,
                         std::optional<std::string> client_msg_id = std::nullopt) {
  MessageRecord m;
  m.seq = seq;
  m.priority = priority;
  m.sender = "alice";
  m.type = priority ? "notice" : "text";
  m.body = "body " + std::to_string(seq);
  m.ts_ms = ts_ms;
  m.client_msg_id = std::move(client_msg_id);
  return m;
}

inline std::unique_ptr<WriteRequest> Req(std::string room, uint64_t head_seq,
                                         std::optional<MessageRecord> message,
                                         int64_t created_ms = kCreated,
                                         std::function<void(Status)> done = nullptr) {
  auto r = std::make_unique<WriteRequest>();
  r->room = std::move(room);
  r->head_seq = head_seq;
  r->created_ms = created_ms;
  r->message = std::move(message);
  r->done = std::move(done);
  return r;
}

// Calls `call` with a completion and waits for it.
template <typename T, typename Call>
T Await(Call&& call) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  call([promise](T value) { promise->set_value(std::move(value)); });
  return future.get();
}

// Holds the writer thread still: its request's completion blocks until Release().
class WriterBlocker {
 public:
  explicit WriterBlocker(Store& store) {
    std::promise<void> running;
    auto started = running.get_future();
    store.Submit(
        Req("blocker", 1, std::nullopt, kCreated,
            [this, running = std::make_shared<std::promise<void>>(std::move(running))](Status) {
              running->set_value();
              release_.wait();
            }));
    started.wait();
  }
  void Release() { release_.count_down(); }

 private:
  std::latch release_{1};
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "chatroomd_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  StoreOptions Options() {
    StoreOptions o;
    o.data_dir = dir_ + "/db";
    o.retention_ms = 10'000;
    o.dedup_window_ms = 5'000;
    o.now_ms = [now = now_] { return now->load(); };
    return o;
  }

  void Open(StoreOptions options) {
    auto opened = Store::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }
  void Open() { Open(Options()); }
  void Reopen() {
    store_->Close();
    store_.reset();
    Open();
  }
  RocksStore& Impl() { return dynamic_cast<RocksStore&>(*store_); }

  Status Write(std::unique_ptr<WriteRequest> request) {
    return Await<Status>([&](auto done) {
      request->done = std::move(done);
      store_->Submit(std::move(request));
    });
  }
  // Submits them all (so they batch) and waits for the last: completions run in order.
  void WriteAll(std::vector<std::unique_ptr<WriteRequest>> requests) {
    auto failures = std::make_shared<std::atomic<int>>(0);
    auto last = std::move(requests.back());
    requests.pop_back();
    for (auto& r : requests) {
      r->done = [failures](Status s) { failures->fetch_add(s.ok() ? 0 : 1); };
      store_->Submit(std::move(r));
    }
    ASSERT_TRUE(Write(std::move(last)).ok());
    ASSERT_EQ(failures->load(), 0);
  }
  // Writes messages with these seqs to `room`, one request each; head_seq follows.
  void WriteMessages(const std::string& room, std::vector<MessageRecord> messages) {
    std::vector<std::unique_ptr<WriteRequest>> requests;
    for (auto& m : messages) {
      uint64_t seq = m.seq;
      requests.push_back(Req(room, seq, std::move(m)));
    }
    WriteAll(std::move(requests));
  }

  RoomSnapshot Load(const std::string& room, uint32_t window, uint32_t priority) {
    auto r = Await<Result<RoomSnapshot>>(
        [&](auto done) { store_->LoadRoom(room, window, priority, nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : RoomSnapshot{};
  }
  HistoryPage History(const std::string& room, std::optional<uint64_t> before, uint32_t limit) {
    auto r = Await<Result<HistoryPage>>(
        [&](auto done) { store_->History(room, before, limit, nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : HistoryPage{};
  }
  std::vector<MessageRecord> PriorityAfter(const std::string& room, uint64_t after,
                                           uint32_t limit) {
    auto r = Await<Result<std::vector<MessageRecord>>>(
        [&](auto done) { store_->PriorityAfter(room, after, limit, nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : std::vector<MessageRecord>{};
  }
  std::optional<MessageRecord> ReadMessage(const std::string& room, uint64_t seq) {
    auto r = Await<Result<std::optional<MessageRecord>>>(
        [&](auto done) { store_->ReadMessage(room, seq, nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : std::nullopt;
  }
  std::optional<uint64_t> Dedup(const std::string& room, const std::string& sender,
                                const std::string& id) {
    auto r = Await<Result<std::optional<uint64_t>>>(
        [&](auto done) { store_->LookupDedup(room, sender, id, nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : std::nullopt;
  }
  std::vector<std::optional<std::string>> ReadCounters(const std::string& room,
                                                       std::vector<CounterKey> keys) {
    auto r = Await<Result<std::vector<std::optional<std::string>>>>(
        [&](auto done) { store_->ReadCounters(room, std::move(keys), nullptr, std::move(done)); });
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(r).value() : std::vector<std::optional<std::string>>{};
  }
  // Closes the store, puts `value` under `key` in `column_family` through RocksDB itself (for
  // stored forms the store no longer writes), and opens the store again.
  void PutRawAndReopen(const std::string& column_family, const std::string& key,
                       const std::string& value) {
    store_->Close();
    store_.reset();
    const std::string path = dir_ + "/db";
    rocksdb::DBOptions db_options;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(db_options, path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names) {
      rocksdb::ColumnFamilyOptions cf;
      cf.level_compaction_dynamic_level_bytes = true;  // as the store opens them
      descriptors.emplace_back(name, cf);
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::Status put = rocksdb::Status::InvalidArgument("no such column family");
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == column_family) put = db->Put(rocksdb::WriteOptions(), handles[i], key, value);
    }
    for (rocksdb::ColumnFamilyHandle* h : handles)
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
    ASSERT_TRUE(put.ok()) << put.ToString();
    db.reset();
    Open();
  }
  uint64_t Count(std::string_view cf) {
    auto r = Impl().CountEntriesForTesting(cf);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : 0;
  }

  static std::vector<uint64_t> Seqs(const std::vector<MessageRecord>& messages) {
    std::vector<uint64_t> seqs;
    for (const auto& m : messages) seqs.push_back(m.seq);
    return seqs;
  }

  std::string dir_;
  std::shared_ptr<std::atomic<int64_t>> now_ = std::make_shared<std::atomic<int64_t>>(kT0);
  std::unique_ptr<Store> store_;
};

using SeqList = std::vector<uint64_t>;

// Normal 1 2 4 5 7 8 10, priority 3 6 9.
inline std::vector<MessageRecord> TenMessages() {
  std::vector<MessageRecord> messages;
  for (uint64_t seq = 1; seq <= 10; ++seq) messages.push_back(Msg(seq, seq % 3 == 0));
  return messages;
}

}  // namespace chatroomd::store
