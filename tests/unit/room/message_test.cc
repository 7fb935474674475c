#include "chatroomd/room/message.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/chatroomd/api.pb.h"

namespace chatroomd::room {
namespace {

namespace json = boost::json;
using google::protobuf::util::MessageDifferencer;

// The reference: protobuf's own proto3 JSON mapping with the options the API asks for.
std::string ProtoJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(m, &out, options);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

api::Message ToProto(const store::MessageRecord& r) {
  api::Message m;
  m.set_seq(r.seq);
  m.set_priority(r.priority);
  m.set_sender(r.sender);
  m.set_type(r.type);
  m.set_body(r.body);
  m.set_ts_ms(r.ts_ms);
  if (r.client_msg_id) m.set_client_msg_id(*r.client_msg_id);
  return m;
}

store::MessageRecord Record(uint64_t seq, std::string body,
                            std::optional<std::string> client_msg_id = std::nullopt,
                            bool priority = false) {
  store::MessageRecord r;
  r.seq = seq;
  r.priority = priority;
  r.sender = "alice";
  r.type = "text";
  r.body = std::move(body);
  r.ts_ms = 1763900000000;
  r.client_msg_id = std::move(client_msg_id);
  return r;
}

std::string AllControlChars() {
  std::string s;
  for (int c = 0; c < 0x20; ++c) s += static_cast<char>(c);
  s += '\x7f';
  return s;
}

std::vector<std::string> Bodies() {
  return {
      "",
      "hi",
      "say \"hello\"",
      "back\\slash \\n not a newline",
      "line1\nline2\r\nline3",
      "tab\there",
      AllControlChars(),
      "caf\xc3\xa9 \xe2\x82\xac \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80",
      "\xe2\x80\xa8\xe2\x80\xa9",  // U+2028 U+2029
      "</script><b>&amp;</b>'",
      "{\"json\": [1, 2]}",
      std::string(4096, 'x'),
  };
}

void ExpectMatchesProtobuf(const store::MessageRecord& r) {
  MessagePtr m = EncodeMessage(r, 0);
  api::Message expected = ToProto(r);
  // JSON: the same value as protobuf's printer.
  json::value ours = json::parse(m->json);
  json::value theirs = json::parse(ProtoJson(expected));
  EXPECT_EQ(ours, theirs) << "ours:   " << m->json << "\ntheirs: " << ProtoJson(expected);
  // Binary: parses back to the same message.
  api::Message parsed;
  ASSERT_TRUE(parsed.ParseFromString(m->proto));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, expected))
      << parsed.DebugString() << " vs " << expected.DebugString();
  EXPECT_EQ(m->seq, r.seq);
  EXPECT_EQ(m->priority, r.priority);
}

TEST(EncodeMessageTest, JsonAndProtoMatchProtobufForManyBodies) {
  uint64_t seq = 1;
  for (const std::string& body : Bodies()) {
    SCOPED_TRACE(body.substr(0, 40));
    ExpectMatchesProtobuf(Record(seq++, body));
    ExpectMatchesProtobuf(Record(seq, body, "c-" + std::to_string(seq)));
    ++seq;
    ExpectMatchesProtobuf(Record(seq++, "x", body));  // odd client_msg_id, too
  }
}

TEST(EncodeMessageTest, EveryFieldAndExtremeValues) {
  for (uint64_t seq : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 53, (uint64_t{1} << 53) + 1,
                       std::numeric_limits<uint64_t>::max()}) {
    for (int64_t ts : {int64_t{0}, int64_t{-1}, int64_t{1763900000000},
                       std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
      for (bool priority : {false, true}) {
        store::MessageRecord r = Record(seq, "b", std::nullopt, priority);
        r.ts_ms = ts;
        r.sender = "bob@example.com";
        r.type = "gift.big";
        SCOPED_TRACE(std::to_string(seq) + " " + std::to_string(ts));
        ExpectMatchesProtobuf(r);
      }
    }
  }
  // Empty sender and type are still printed.
  store::MessageRecord r = Record(5, "");
  r.sender = "";
  r.type = "";
  ExpectMatchesProtobuf(r);
}

TEST(EncodeMessageTest, ExactFields) {
  MessagePtr m = EncodeMessage(Record(42, "hi", "c-17"), 0);
  json::value expected = {
      {"seq", "42"},  {"priority", false},        {"sender", "alice"},      {"type", "text"},
      {"body", "hi"}, {"ts_ms", "1763900000000"}, {"client_msg_id", "c-17"}};
  EXPECT_EQ(json::parse(m->json), expected);
  // 64-bit integers are strings, as the proto3 JSON mapping wants.
  EXPECT_NE(m->json.find("\"seq\":\"42\""), std::string::npos) << m->json;
}

TEST(EncodeMessageTest, ClientMsgIdOnlyWhenSet) {
  MessagePtr without = EncodeMessage(Record(1, "hi"), 0);
  json::value v = json::parse(without->json);
  EXPECT_FALSE(v.as_object().contains("client_msg_id")) << without->json;
  api::Message parsed;
  ASSERT_TRUE(parsed.ParseFromString(without->proto));
  EXPECT_FALSE(parsed.has_client_msg_id());

  // An empty id was still given: it is echoed.
  MessagePtr empty = EncodeMessage(Record(2, "hi", ""), 0);
  v = json::parse(empty->json);
  ASSERT_TRUE(v.as_object().contains("client_msg_id")) << empty->json;
  EXPECT_EQ(v.at("client_msg_id").as_string(), "");
  ASSERT_TRUE(parsed.ParseFromString(empty->proto));
  EXPECT_TRUE(parsed.has_client_msg_id());
  EXPECT_EQ(parsed.client_msg_id(), "");
}

TEST(EncodeMessageTest, KeepsAcceptedTime) {
  MessagePtr m = EncodeMessage(Record(3, "x", std::nullopt, true), 123456);
  EXPECT_EQ(m->accepted_ns, 123456);
  EXPECT_TRUE(m->priority);
  EXPECT_EQ(m->seq, 3u);
}

// --- BuildMessagesResponse -------------------------------------------------------------------

struct Split {
  std::string head;
  std::string body;
};

Split SplitWire(const WireResponse& wire) {
  EXPECT_EQ(wire.tail.substr(0, 2), "\r\n");
  return {wire.head, wire.tail.substr(2)};
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  std::string key = "\r\n" + name + ": ";
  size_t at = head.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return head.substr(at, head.find("\r\n", at) - at);
}

class BuildMessagesResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    owned_.push_back(EncodeMessage(Record(7, "gift!", std::nullopt, true), 1000));
    owned_.push_back(EncodeMessage(Record(5, "say \"hi\"\n", "c-1"), 2000));
    owned_.push_back(EncodeMessage(Record(8, "caf\xc3\xa9", std::nullopt), 0));
    for (const auto& m : owned_) messages_.push_back(m.get());
  }

  ResponseFields Fields(bool is_poll) const {
    ResponseFields f;
    f.room = "r1";
    f.cursor = "AQcHAbc-_x";
    f.messages = &messages_;
    f.is_poll = is_poll;
    f.gap = true;
    f.online = 1523;
    f.next_poll_ms = 1500;
    return f;
  }

  template <typename Response>
  Response Expected(const ResponseFields& f) const {
    Response r;
    r.set_room(std::string(f.room));
    r.set_cursor(f.cursor);
    for (const auto* m : *f.messages) {
      EXPECT_TRUE(r.add_messages()->ParseFromString(m->proto));
    }
    r.set_online(f.online);
    r.set_next_poll_ms(f.next_poll_ms);
    return r;
  }

  api::PollResponse ExpectedPoll(const ResponseFields& f) const {
    auto r = Expected<api::PollResponse>(f);
    r.set_gap(f.gap);
    return r;
  }

  std::vector<MessagePtr> owned_;
  std::vector<const EncodedMessage*> messages_;
};

TEST_F(BuildMessagesResponseTest, PollJson) {
  ResponseFields f = Fields(true);
  WirePtr wire = BuildMessagesResponse(f, BodyFormat::kJson);
  Split s = SplitWire(*wire);
  EXPECT_EQ(wire->status, 200);
  EXPECT_EQ(s.head.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(HeaderValue(s.head, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderValue(s.head, "Content-Length"), std::to_string(s.body.size()));
  EXPECT_EQ(HeaderValue(s.head, "Cache-Control"), "no-store");

  json::value v = json::parse(s.body);
  const json::object& o = v.as_object();
  EXPECT_EQ(o.size(), 6u) << s.body;
  EXPECT_EQ(o.at("room").as_string(), "r1");
  EXPECT_EQ(o.at("cursor").as_string(), "AQcHAbc-_x");
  ASSERT_TRUE(o.at("messages").is_array());
  const json::array& a = o.at("messages").as_array();
  ASSERT_EQ(a.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], json::parse(owned_[i]->json));
  EXPECT_EQ(o.at("gap"), json::value(true));
  EXPECT_TRUE(o.at("online").is_string());
  EXPECT_EQ(o.at("online").as_string(), "1523");
  EXPECT_TRUE(o.at("next_poll_ms").is_number());
  EXPECT_EQ(o.at("next_poll_ms").to_number<int64_t>(), 1500);

  // The very value protobuf's printer gives for the same PollResponse.
  EXPECT_EQ(v, json::parse(ProtoJson(ExpectedPoll(f))));

  f.gap = false;
  v = json::parse(SplitWire(*BuildMessagesResponse(f, BodyFormat::kJson)).body);
  EXPECT_EQ(v.at("gap"), json::value(false));
  EXPECT_EQ(v, json::parse(ProtoJson(ExpectedPoll(f))));
}

TEST_F(BuildMessagesResponseTest, JoinJsonHasNoGap) {
  ResponseFields f = Fields(false);
  Split s = SplitWire(*BuildMessagesResponse(f, BodyFormat::kJson));
  json::value v = json::parse(s.body);
  EXPECT_FALSE(v.as_object().contains("gap")) << s.body;
  EXPECT_EQ(v.as_object().size(), 5u);
  EXPECT_EQ(v.at("online").as_string(), "1523");
  EXPECT_EQ(v, json::parse(ProtoJson(Expected<api::JoinResponse>(f))));
}

TEST_F(BuildMessagesResponseTest, EmptyAndZeroValues) {
  std::vector<const EncodedMessage*> none;
  for (bool is_poll : {true, false}) {
    ResponseFields f;
    f.room = "room.with:odd-chars_1";
    f.cursor = "AQAAAA";
    f.messages = &none;
    f.is_poll = is_poll;
    Split s = SplitWire(*BuildMessagesResponse(f, BodyFormat::kJson));
    json::value v = json::parse(s.body);
    EXPECT_TRUE(v.at("messages").as_array().empty());
    EXPECT_EQ(v.at("online").as_string(), "0");
    EXPECT_EQ(v.at("next_poll_ms").to_number<int64_t>(), 0);
    if (is_poll) {
      EXPECT_EQ(v, json::parse(ProtoJson(Expected<api::PollResponse>(f))));
    } else {
      EXPECT_EQ(v, json::parse(ProtoJson(Expected<api::JoinResponse>(f))));
    }
    // Protobuf: zero values are simply absent, and parse back as zero.
    Split p = SplitWire(*BuildMessagesResponse(f, BodyFormat::kProtobuf));
    api::PollResponse poll;
    ASSERT_TRUE(poll.ParseFromString(p.body));
    EXPECT_EQ(poll.room(), f.room);
    EXPECT_EQ(poll.cursor(), f.cursor);
    EXPECT_EQ(poll.messages_size(), 0);
    EXPECT_EQ(poll.online(), 0);
    EXPECT_EQ(poll.next_poll_ms(), 0);
    EXPECT_FALSE(poll.gap());
  }
}

TEST_F(BuildMessagesResponseTest, PollProtobuf) {
  for (bool gap : {true, false}) {
    ResponseFields f = Fields(true);
    f.gap = gap;
    WirePtr wire = BuildMessagesResponse(f, BodyFormat::kProtobuf);
    Split s = SplitWire(*wire);
    EXPECT_EQ(HeaderValue(s.head, "Content-Type"), "application/x-protobuf");
    EXPECT_EQ(HeaderValue(s.head, "Content-Length"), std::to_string(s.body.size()));
    api::PollResponse parsed;
    ASSERT_TRUE(parsed.ParseFromString(s.body));
    api::PollResponse expected = ExpectedPoll(f);
    EXPECT_TRUE(MessageDifferencer::Equals(parsed, expected)) << parsed.DebugString() << "\nvs\n"
                                                              << expected.DebugString();
    EXPECT_EQ(parsed.messages(1).body(), "say \"hi\"\n");
    EXPECT_EQ(parsed.messages(1).client_msg_id(), "c-1");
  }
}

TEST_F(BuildMessagesResponseTest, JoinProtobuf) {
  ResponseFields f = Fields(false);
  Split s = SplitWire(*BuildMessagesResponse(f, BodyFormat::kProtobuf));
  api::JoinResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(s.body));
  api::JoinResponse expected = Expected<api::JoinResponse>(f);
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, expected)) << parsed.DebugString() << "\nvs\n"
                                                            << expected.DebugString();
}

TEST_F(BuildMessagesResponseTest, LargeAndNegativeNumbers) {
  for (int64_t online : {int64_t{1} << 40, std::numeric_limits<int64_t>::max()}) {
    for (int32_t next : {1, std::numeric_limits<int32_t>::max(), -1}) {
      ResponseFields f = Fields(true);
      f.online = online;
      f.next_poll_ms = next;
      api::PollResponse parsed;
      ASSERT_TRUE(
          parsed.ParseFromString(SplitWire(*BuildMessagesResponse(f, BodyFormat::kProtobuf)).body));
      EXPECT_EQ(parsed.online(), online);
      EXPECT_EQ(parsed.next_poll_ms(), next);
      json::value v = json::parse(SplitWire(*BuildMessagesResponse(f, BodyFormat::kJson)).body);
      EXPECT_EQ(v, json::parse(ProtoJson(ExpectedPoll(f))));
    }
  }
}

TEST_F(BuildMessagesResponseTest, NotesDeliveries) {
  WirePtr poll = BuildMessagesResponse(Fields(true), BodyFormat::kJson);
  EXPECT_EQ(poll->messages, 3u);
  // Messages loaded from the store (accepted_ns 0) have no delivery latency.
  EXPECT_EQ(poll->accepted_ns, (std::vector<int64_t>{1000, 2000}));
  WirePtr poll_pb = BuildMessagesResponse(Fields(true), BodyFormat::kProtobuf);
  EXPECT_EQ(poll_pb->messages, 3u);
  EXPECT_EQ(poll_pb->accepted_ns, (std::vector<int64_t>{1000, 2000}));
  // A join's backlog is history, not a delivery.
  WirePtr join = BuildMessagesResponse(Fields(false), BodyFormat::kJson);
  EXPECT_EQ(join->messages, 3u);
  EXPECT_TRUE(join->accepted_ns.empty());
}

}  // namespace
}  // namespace chatroomd::room
