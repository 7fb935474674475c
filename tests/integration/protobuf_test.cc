// Content negotiation: binary protobuf bodies (proto/chatroomd/api.proto) both ways, checked
// with a hand-written wire-format reader so that the tests do not link protobuf.
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class ProtobufTest : public SharedDaemonTest<ProtobufTest> {};

constexpr std::string_view kProto = "application/x-protobuf";

std::vector<ProtoField> Decode(const Response& r) {
  std::vector<ProtoField> fields;
  EXPECT_TRUE(DecodeProto(r.body, &fields)) << "not protobuf: " << r;
  return fields;
}

std::vector<const ProtoField*> Fields(const std::vector<ProtoField>& all, uint32_t number) {
  std::vector<const ProtoField*> out;
  for (const auto& f : all) {
    if (f.number == number) out.push_back(&f);
  }
  return out;
}

// The last value of a varint field, 0 when absent (proto3 default).
uint64_t VarintOf(const std::vector<ProtoField>& all, uint32_t number) {
  uint64_t v = 0;
  for (const auto* f : Fields(all, number)) {
    EXPECT_EQ(f->wire_type, 0u) << "field " << number;
    v = f->varint;
  }
  return v;
}

std::string BytesOf(const std::vector<ProtoField>& all, uint32_t number) {
  std::string v;
  for (const auto* f : Fields(all, number)) {
    EXPECT_EQ(f->wire_type, 2u) << "field " << number;
    v = f->bytes;
  }
  return v;
}

bool IsProto(const Response& r) { return r.Header("Content-Type").rfind(kProto, 0) == 0; }

TEST_F(ProtobufTest, BinarySendRequestJsonResponse) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Response r =
      u.client().Request("POST", "/v1/rooms/" + room + "/messages", ProtoBytesField(1, "hi"),
                         u.Auth({{"Content-Type", std::string(kProto)}}));
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(IsJson(r));
  EXPECT_EQ(r.Json().at("seq").as_string(), "1");
  std::vector<Msg> h = u.HistoryAll(room);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].body, "hi");
  EXPECT_EQ(h[0].type, "text");
}

TEST_F(ProtobufTest, BinaryBothWaysWithIdempotency) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  u.Say(room, "first");
  Headers h = u.Auth({{"Content-Type", std::string(kProto)}, {"Accept", std::string(kProto)}});
  // SendRequest{body: "gift", type: "gift", priority: true, client_msg_id: "pb-1"}
  std::string req = ProtoBytesField(1, "gift") + ProtoBytesField(2, "gift") +
                    ProtoVarintField(3, 1) + ProtoBytesField(4, "pb-1");
  Response r = u.client().Request("POST", "/v1/rooms/" + room + "/messages", req, h);
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_TRUE(IsProto(r)) << r;
  EXPECT_TRUE(HasNoStore(r));
  auto fields = Decode(r);
  EXPECT_EQ(VarintOf(fields, 1), 2u) << "SendResponse.seq";
  EXPECT_EQ(VarintOf(fields, 2), 0u) << "SendResponse.duplicate";
  Response again = u.client().Request("POST", "/v1/rooms/" + room + "/messages", req, h);
  ASSERT_EQ(again.status, 200) << again;
  auto again_fields = Decode(again);
  EXPECT_EQ(VarintOf(again_fields, 1), 2u);
  EXPECT_EQ(VarintOf(again_fields, 2), 1u) << "the repeat is a duplicate";
  std::vector<Msg> hist = u.HistoryAll(room);
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_TRUE(hist[1].priority);
  EXPECT_EQ(hist[1].type, "gift");
  EXPECT_EQ(hist[1].client_msg_id, std::optional<std::string>("pb-1"));
}

TEST_F(ProtobufTest, BinaryJoinPollAndHistory) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  u.Say(room, "one");
  u.Say(room, "two");
  const std::string base = "/v1/rooms/" + room;

  // JoinRequest{backlog: 0}: presence matters, 0 is not the default 20.
  Response j = u.client().Request(
      "POST", base + "/join", ProtoVarintField(1, 0),
      u.Auth({{"Content-Type", std::string(kProto)}, {"Accept", std::string(kProto)}}));
  ASSERT_EQ(j.status, 200) << j;
  EXPECT_TRUE(IsProto(j)) << j;
  auto jf = Decode(j);
  EXPECT_EQ(BytesOf(jf, 1), room) << "JoinResponse.room";
  std::string cursor = BytesOf(jf, 2);
  EXPECT_FALSE(cursor.empty()) << "JoinResponse.cursor";
  EXPECT_TRUE(Fields(jf, 3).empty()) << "backlog 0 gives no messages";

  // JoinRequest{backlog: 1} with a JSON answer.
  Response j1 = u.client().Request("POST", base + "/join", ProtoVarintField(1, 1),
                                   u.Auth({{"Content-Type", std::string(kProto)}}));
  ASSERT_EQ(j1.status, 200) << j1;
  EXPECT_TRUE(IsJson(j1));
  EXPECT_EQ(j1.Json().at("messages").as_array().size(), 1u);

  uint64_t seq = u.Say(room, "three");
  Response p = u.client().Request("GET", base + "/poll?timeout_ms=0&cursor=" + cursor, {},
                                  u.Auth({{"Accept", std::string(kProto)}}));
  ASSERT_EQ(p.status, 200) << p;
  EXPECT_TRUE(IsProto(p)) << p;
  auto pf = Decode(p);
  EXPECT_EQ(BytesOf(pf, 1), room) << "PollResponse.room";
  EXPECT_FALSE(BytesOf(pf, 2).empty()) << "PollResponse.cursor";
  auto msgs = Fields(pf, 3);
  ASSERT_EQ(msgs.size(), 1u);
  std::vector<ProtoField> mf;
  ASSERT_TRUE(DecodeProto(msgs[0]->bytes, &mf));
  EXPECT_EQ(VarintOf(mf, 1), seq) << "Message.seq";
  EXPECT_EQ(BytesOf(mf, 3), "alice") << "Message.sender";
  EXPECT_EQ(BytesOf(mf, 4), "text") << "Message.type";
  EXPECT_EQ(BytesOf(mf, 5), "three") << "Message.body";
  EXPECT_GT(VarintOf(mf, 6), 0u) << "Message.ts_ms";
  EXPECT_TRUE(Fields(mf, 7).empty()) << "no client_msg_id given";

  Response h = u.client().Request("GET", base + "/messages?limit=2", {},
                                  u.Auth({{"Accept", std::string(kProto)}}));
  ASSERT_EQ(h.status, 200) << h;
  EXPECT_TRUE(IsProto(h)) << h;
  auto hf = Decode(h);
  auto hist = Fields(hf, 1);
  ASSERT_EQ(hist.size(), 2u) << "HistoryResponse.messages";
  std::vector<ProtoField> last;
  ASSERT_TRUE(DecodeProto(hist[1]->bytes, &last));
  EXPECT_EQ(VarintOf(last, 1), seq);
  EXPECT_EQ(VarintOf(hf, 2), seq - 1) << "HistoryResponse.next_before";

  // Explicit JSON, and no Accept at all, are JSON.
  Response json = u.client().Request("GET", base + "/messages?limit=2", {},
                                     u.Auth({{"Accept", "application/json"}}));
  EXPECT_TRUE(IsJson(json));
  EXPECT_TRUE(IsJson(u.HistoryRaw(room, "limit=2")));
}

TEST_F(ProtobufTest, BinaryAudienceAnswers) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  u.Say(room, "one", /*priority=*/true);
  const std::string base = "/v1/rooms/" + room;
  const Headers accept = u.Auth({{"Accept", std::string(kProto)}});

  Response o = u.client().Request("GET", base + "/online?limit=5", {}, accept);
  ASSERT_EQ(o.status, 200) << o;
  EXPECT_TRUE(IsProto(o)) << o;
  auto of = Decode(o);
  EXPECT_EQ(VarintOf(of, 1), 1u) << "OnlineResponse.count";
  EXPECT_EQ(BytesOf(of, 2), "alice") << "OnlineResponse.users";
  EXPECT_GT(VarintOf(of, 3), 0u) << "OnlineResponse.as_of_ms";

  Response s = u.client().Request("GET", base + "/stats", {}, accept);
  ASSERT_EQ(s.status, 200) << s;
  EXPECT_TRUE(IsProto(s)) << s;
  auto sf = Decode(s);
  EXPECT_EQ(BytesOf(sf, 1), room) << "StatsResponse.room";
  EXPECT_EQ(VarintOf(sf, 5), 1u) << "StatsResponse.uv_day";
  EXPECT_EQ(VarintOf(sf, 6), 1u) << "StatsResponse.messages";
  EXPECT_EQ(VarintOf(sf, 7), 1u) << "StatsResponse.priority_messages";

  Response v =
      u.client().Request("GET", base + "/visitors?from=2020-01-01&to=2020-01-02", {}, accept);
  ASSERT_EQ(v.status, 200) << v;
  auto vf = Decode(v);
  EXPECT_EQ(BytesOf(vf, 2), "2020-01-01") << "VisitorsResponse.from";
  EXPECT_EQ(BytesOf(vf, 3), "2020-01-02") << "VisitorsResponse.to";
}

TEST_F(ProtobufTest, MalformedBinaryIs400) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Headers h = u.Auth({{"Content-Type", std::string(kProto)}});
  for (const std::string& body :
       {std::string("\x0a\x05"
                    "ab",
                    4),
        std::string("\xff\xff\xff"), std::string("\x0a\x02\xff\xfe", 4)}) {
    Response r = u.client().Request("POST", "/v1/rooms/" + room + "/messages", body, h);
    EXPECT_TRUE(IsError(r, 400, "bad_request"));
  }
  // A binary body past the message limit is 413 as in JSON.
  Response big = u.client().Request("POST", "/v1/rooms/" + room + "/messages",
                                    ProtoBytesField(1, Repeat('a', 4097)), h);
  EXPECT_TRUE(IsError(big, 413, "payload_too_large"));
  EXPECT_EQ(u.Head(room), 0u);
}

TEST_F(ProtobufTest, ErrorsFollowAccept) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Response r = u.client().Request("GET", "/v1/rooms/" + room + "/poll?timeout_ms=0&cursor=zzzz", {},
                                  u.Auth({{"Accept", std::string(kProto)}}));
  ASSERT_EQ(r.status, 400) << r;
  EXPECT_TRUE(IsProto(r)) << r;
  EXPECT_TRUE(HasNoStore(r));
  auto fields = Decode(r);
  std::vector<ProtoField> detail;
  ASSERT_TRUE(DecodeProto(BytesOf(fields, 1), &detail)) << "ErrorResponse.error";
  EXPECT_EQ(BytesOf(detail, 1), "bad_cursor") << "ErrorDetail.code";
  EXPECT_FALSE(BytesOf(detail, 2).empty()) << "ErrorDetail.message";
}

}  // namespace
}  // namespace chatroomd::it
