// Response encoding: a message is encoded once when it becomes visible (EncodeMessage), and
// every poll response is a concatenation of those ready bytes (BuildMessagesResponse). The
// protobuf library benchmarks show what the same responses would cost if each poll serialized
// its messages again.
#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>

#include "chatroomd/common/cursor.h"
#include "fixtures.h"
#include "proto/chatroomd/api.pb.h"

namespace chatroomd::bench {
namespace {

constexpr size_t kBodyBytes = 40;  // a typical chat line

void BM_EncodeMessage(benchmark::State& state) {
  const store::MessageRecord record = SampleRecord(123456, static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    room::MessagePtr m = room::EncodeMessage(record, 1);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_EncodeMessage)->ArgName("body_bytes")->Arg(40)->Arg(1024);

// range(0): messages; range(1): 0 JSON, 1 protobuf. Includes the HTTP head and the
// shared WireResponse allocation, as the room pays them.
void BM_BuildMessagesResponse(benchmark::State& state) {
  auto owned = SampleMessages(static_cast<size_t>(state.range(0)), kBodyBytes);
  auto messages = Raw(owned);
  const BodyFormat format = state.range(1) ? BodyFormat::kProtobuf : BodyFormat::kJson;
  const std::string cursor = EncodeCursor(kRoom, {owned.back()->seq, owned.back()->seq});
  size_t bytes = 0;
  for (auto _ : state) {
    room::ResponseFields f;
    f.room = kRoom;
    f.cursor = cursor;
    f.messages = &messages;
    f.online = 1234;
    WirePtr wire = room::BuildMessagesResponse(f, format);
    bytes = wire->head.size() + wire->tail.size();
    benchmark::DoNotOptimize(wire);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.SetLabel(format == BodyFormat::kJson ? "json" : "protobuf");
}
BENCHMARK(BM_BuildMessagesResponse)
    ->ArgNames({"msgs", "proto"})
    ->ArgsProduct({{1, 10, 100}, {0, 1}});

// The same response as an api::PollResponse, built outside the loop.
api::PollResponse SamplePollResponse(size_t n) {
  api::PollResponse r;
  r.set_room(std::string(kRoom));
  for (size_t i = 0; i < n; ++i) {
    store::MessageRecord rec = SampleRecord(1000 + i, kBodyBytes);
    api::Message* m = r.add_messages();
    m->set_seq(rec.seq);
    m->set_priority(rec.priority);
    m->set_sender(rec.sender);
    m->set_type(rec.type);
    m->set_body(rec.body);
    m->set_ts_ms(rec.ts_ms);
  }
  uint64_t last = 1000 + n - 1;
  r.set_cursor(EncodeCursor(kRoom, {last, last}));
  r.set_online(1234);
  return r;
}

// The body BuildMessagesResponse makes for the same messages, without the "\r\n" before it.
std::string HandBody(size_t n, BodyFormat format) {
  auto owned = SampleMessages(n, kBodyBytes);
  auto messages = Raw(owned);
  room::ResponseFields f;
  f.room = kRoom;
  f.cursor = EncodeCursor(kRoom, {owned.back()->seq, owned.back()->seq});
  f.messages = &messages;
  f.online = 1234;
  return room::BuildMessagesResponse(f, format)->tail.substr(2);
}

// The proto3 JSON mapping by the protobuf library, with the options that print what the hand
// encoder prints (every field, proto field names): the bodies are byte for byte the same
// (checked, see the label). Body only: no HTTP head.
void BM_ProtobufMessageToJsonString(benchmark::State& state) {
  const api::PollResponse response = SamplePollResponse(static_cast<size_t>(state.range(0)));
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string check;
  (void)google::protobuf::util::MessageToJsonString(response, &check, options);
  state.SetLabel(check == HandBody(static_cast<size_t>(state.range(0)), BodyFormat::kJson)
                     ? "same bytes as hand"
                     : "DIFFERS from hand");
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    auto status = google::protobuf::util::MessageToJsonString(response, &out, options);
    benchmark::DoNotOptimize(status);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ProtobufMessageToJsonString)->ArgName("msgs")->Arg(1)->Arg(10)->Arg(100);

// Binary serialization of the same message by the library (same bytes as the hand encoder,
// checked). Body only: no HTTP head.
void BM_ProtobufSerializeToString(benchmark::State& state) {
  const api::PollResponse response = SamplePollResponse(static_cast<size_t>(state.range(0)));
  state.SetLabel(response.SerializeAsString() ==
                         HandBody(static_cast<size_t>(state.range(0)), BodyFormat::kProtobuf)
                     ? "same bytes as hand"
                     : "DIFFERS from hand");
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    response.SerializeToString(&out);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ProtobufSerializeToString)->ArgName("msgs")->Arg(1)->Arg(10)->Arg(100);

}  // namespace
}  // namespace chatroomd::bench
