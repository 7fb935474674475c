// Router (src/http/router.h), each room endpoint handed to the real rooms (sect::RoomService)
// and answered through the exchange (Deliver on the client loop): join with its cursor, send
// with its seq, poll (at once, held until a send, cancelled through the router, held by the
// client loop's edge), leave, history with next_before; set_endpoint and PollAtRoom as each
// endpoint needs; protobuf answers when Accept asks for them. Contract: docs/api.md.
#include <gtest/gtest.h>

#include "http/router.h"
#include "proto/chatroomd/api.pb.h"
#include "router_fixture.h"

namespace chatroomd::http {
namespace {

using fakes::Body;
using fakes::Code;
using fakes::FakeExchange;
using fakes::HasHeader;
using fakes::Json;
using fakes::verb;
using metrics::Endpoint;

class RouterRoomsTest : public fakes::RouterTest {};

std::vector<std::string> Bodies(const boost::json::value& v) {
  std::vector<std::string> out;
  for (const auto& m : v.at("messages").as_array()) out.emplace_back(m.at("body").as_string());
  return out;
}

TEST_F(RouterRoomsTest, EachEndpointIsRoutedToTheRooms) {
  // join: 200 with the head cursor; the room is created.
  auto ex = Handle(Req(verb::post, "/v1/rooms/r1/join"));
  auto a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  EXPECT_TRUE(a->on_loop);
  EXPECT_EQ(a->serial, ex->serial());
  ASSERT_EQ(a->response->status, 200) << Body(a->response);
  auto joined = Json(a->response);
  EXPECT_EQ(joined.at("room").as_string(), "r1");
  EXPECT_TRUE(joined.at("messages").as_array().empty());
  EXPECT_EQ(joined.at("online").as_string(), "1");
  const std::string c0(joined.at("cursor").as_string());
  EXPECT_EQ(DecodeCursor("r1", c0).ok(), true);
  EXPECT_EQ(ex->endpoint, Endpoint::kJoin);
  EXPECT_FALSE(ex->poll_room);

  // send: 200 with the seq, once durable.
  ex = Handle(Req(verb::post, "/v1/rooms/r1/messages", "alice", "{\"body\":\"hi\"}"));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  ASSERT_EQ(a->response->status, 200) << Body(a->response);
  EXPECT_EQ(Json(a->response).at("seq").as_string(), "1");
  EXPECT_FALSE(Json(a->response).at("duplicate").as_bool());
  EXPECT_EQ(ex->endpoint, Endpoint::kSend);
  EXPECT_FALSE(ex->poll_room);

  // poll from the join's cursor: answered at once with the message.
  ex = Handle(Req(verb::get, "/v1/rooms/r1/poll?cursor=" + c0 + "&timeout_ms=1000"));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  ASSERT_EQ(a->response->status, 200) << Body(a->response);
  auto polled = Json(a->response);
  EXPECT_EQ(Bodies(polled), std::vector<std::string>{"hi"});
  EXPECT_FALSE(polled.at("gap").as_bool());
  EXPECT_EQ(ex->endpoint, Endpoint::kPoll);
  EXPECT_EQ(ex->poll_room, "r1");

  // history: the messages, and next_before once older ones remain.
  Send("r1", "second");
  ex = Handle(Req(verb::get, "/v1/rooms/r1/messages"));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  EXPECT_TRUE(a->on_loop);
  ASSERT_EQ(a->response->status, 200) << Body(a->response);
  EXPECT_EQ(Bodies(Json(a->response)), (std::vector<std::string>{"hi", "second"}));
  EXPECT_FALSE(Json(a->response).as_object().contains("next_before"));
  EXPECT_EQ(ex->endpoint, Endpoint::kHistory);
  WirePtr page = Answer(Req(verb::get, "/v1/rooms/r1/messages?limit=1"));
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(Bodies(Json(page)), std::vector<std::string>{"second"});
  EXPECT_EQ(Json(page).at("next_before").as_string(), "2");
  page = Answer(Req(verb::get, "/v1/rooms/r1/messages?limit=1&before=2"));
  EXPECT_EQ(Bodies(Json(page)), std::vector<std::string>{"hi"});
  EXPECT_FALSE(Json(page).as_object().contains("next_before"));

  // leave: 204, no body.
  ex = Handle(Req(verb::post, "/v1/rooms/r1/leave"));
  a = ex->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  EXPECT_EQ(a->response->status, 204);
  EXPECT_EQ(Body(a->response), "");
  EXPECT_EQ(ex->endpoint, Endpoint::kLeave);
}

TEST_F(RouterRoomsTest, UnknownRoomIs404ExceptForJoin) {
  for (auto [m, target, body] : std::vector<std::tuple<verb, std::string, std::string>>{
           {verb::get, "/v1/rooms/nope/poll?timeout_ms=0", ""},
           {verb::post, "/v1/rooms/nope/messages", "{\"body\":\"x\"}"},
           {verb::get, "/v1/rooms/nope/messages", ""},
           {verb::post, "/v1/rooms/nope/leave", ""}}) {
    SCOPED_TRACE(target);
    auto a = Ask(Req(m, target, "alice", body));
    EXPECT_EQ(a.via, FakeExchange::Via::kDeliver);
    EXPECT_EQ(a.response->status, 404);
    EXPECT_EQ(Code(a.response), "room_not_found");
  }
  EXPECT_EQ(Answer(Req(verb::post, "/v1/rooms/nope/join"))->status, 200);
}

TEST_F(RouterRoomsTest, AHeldPollIsAnsweredByASendAndCancelPollForgetsIt) {
  Join("r1");
  // No cursor: from the head. Both wait at the room.
  auto held = Handle(Req(verb::get, "/v1/rooms/r1/poll?timeout_ms=60000"));
  auto cancelled = Handle(Req(verb::get, "/v1/rooms/r1/poll?timeout_ms=60000"));
  EXPECT_EQ(held->poll_room, "r1");
  EXPECT_EQ(cancelled->poll_room, "r1");
  EXPECT_TRUE(held->Idle());
  // The client went away: the router forgets its poll at the room (from the client's loop, as
  // a connection does, so the room hears it before the send below).
  OnClient([&] { router_->CancelPoll("r1", cancelled, cancelled->serial()); });

  const std::string seq = Send("r1", "wake");
  auto a = held->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  EXPECT_EQ(a->serial, held->serial());
  EXPECT_EQ(Bodies(Json(a->response)), std::vector<std::string>{"wake"});
  OnClient([] {});  // whatever the same wake delivered has run
  EXPECT_TRUE(cancelled->Idle()) << "a cancelled poll was answered";
}

TEST_F(RouterRoomsTest, ProtobufAcceptGivesProtobufBodies) {
  Request join = Req(verb::post, "/v1/rooms/r1/join");
  join.protobuf_response = true;
  WirePtr w = Answer(std::move(join));
  ASSERT_EQ(w->status, 200);
  EXPECT_TRUE(HasHeader(w, "Content-Type: application/x-protobuf")) << w->head;
  api::JoinResponse jr;
  ASSERT_TRUE(jr.ParseFromString(Body(w)));
  EXPECT_EQ(jr.room(), "r1");
  EXPECT_EQ(jr.online(), 1);

  api::SendRequest sr;
  sr.set_body("binary");
  Request send = Req(verb::post, "/v1/rooms/r1/messages", "alice", sr.SerializeAsString());
  send.protobuf_body = true;
  send.protobuf_response = true;
  w = Answer(std::move(send));
  ASSERT_EQ(w->status, 200);
  api::SendResponse sent;
  ASSERT_TRUE(sent.ParseFromString(Body(w)));
  EXPECT_EQ(sent.seq(), 1u);

  Request poll = Req(verb::get, "/v1/rooms/r1/poll?timeout_ms=0&cursor=" + jr.cursor());
  poll.protobuf_response = true;
  w = Answer(std::move(poll));
  ASSERT_EQ(w->status, 200);
  api::PollResponse pr;
  ASSERT_TRUE(pr.ParseFromString(Body(w)));
  ASSERT_EQ(pr.messages_size(), 1);
  EXPECT_EQ(pr.messages(0).body(), "binary");

  Request history = Req(verb::get, "/v1/rooms/r1/messages");
  history.protobuf_response = true;
  w = Answer(std::move(history));
  ASSERT_EQ(w->status, 200);
  api::HistoryResponse hr;
  ASSERT_TRUE(hr.ParseFromString(Body(w)));
  ASSERT_EQ(hr.messages_size(), 1);
  EXPECT_FALSE(hr.has_next_before());

  // Errors, the router's and the rooms', are binary ErrorResponses too.
  for (Request r : {Req(verb::get, "/v1/rooms/r1/poll", std::nullopt),
                    Req(verb::get, "/v1/rooms/r1/poll?cursor=bad"),
                    Req(verb::get, "/v1/rooms/nope/poll?timeout_ms=0"),
                    Req(verb::get, "/v1/rooms/r1/nothing")}) {
    SCOPED_TRACE(r.target);
    r.protobuf_response = true;
    w = Answer(std::move(r));
    ASSERT_GE(w->status, 400);
    EXPECT_TRUE(HasHeader(w, "Content-Type: application/x-protobuf")) << w->head;
    api::ErrorResponse er;
    ASSERT_TRUE(er.ParseFromString(Body(w)));
    EXPECT_FALSE(er.error().code().empty());
  }
}

// The client loop is a front loop: its clients' polls at a room's head are held by its edge.
class RouterEdgeTest : public fakes::RouterTest {
 protected:
  bool WithEdge() const override { return true; }
};

TEST_F(RouterEdgeTest, PollsAtTheHeadAreHeldByTheClientLoopsEdge) {
  const std::string c0 = Join("r1");
  const std::string target = "/v1/rooms/r1/poll?timeout_ms=60000&cursor=" + c0;
  // The first is held by the room, which subscribes the edge.
  auto first = Handle(Req(verb::get, target));
  EXPECT_EQ(first->poll_room, "r1");
  EXPECT_TRUE(first->Idle());
  // client -> sect loops -> client: the room has held it, and its subscription has reached the
  // edge (Loop::Send keeps order per sender and target).
  for (Loop* sect : rooms_->loops()) {
    std::promise<void> back;
    client_loop_.Post(
        [&] { Loop::Send(*sect, [&] { Loop::Send(client_loop_, [&] { back.set_value(); }); }); });
    back.get_future().get();
  }
  auto at_edge = Handle(Req(verb::get, target));
  bool held_here = false;
  OnClient([&] { held_here = at_edge->edge_waiting(); });
  ASSERT_TRUE(held_here) << "the poll at the head went to the room again";
  EXPECT_FALSE(at_edge->poll_room) << "held at the edge: nothing to cancel at the room";

  // A second one at the edge is cancelled on the client's loop, as a closing connection does.
  auto gone = Handle(Req(verb::get, target));
  bool waiting = false;
  OnClient([&] {
    waiting = gone->edge_waiting();
    room::CancelEdgeWait(*gone);
  });
  ASSERT_TRUE(waiting);
  OnClient([&] { waiting = gone->edge_waiting(); });
  EXPECT_FALSE(waiting);

  Send("r1", "fanned out");
  auto a = at_edge->Next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->via, FakeExchange::Via::kDeliver);
  EXPECT_TRUE(a->on_loop);
  EXPECT_EQ(Bodies(Json(a->response)), std::vector<std::string>{"fanned out"});
  ASSERT_TRUE(first->Next());
  OnClient([] {});
  EXPECT_TRUE(gone->Idle()) << "a cancelled edge poll was answered";
}

}  // namespace
}  // namespace chatroomd::http
