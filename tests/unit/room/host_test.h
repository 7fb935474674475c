// A fixture base for tests of rooms on a real loop: a RoomHost on its own loop over a store
// the test chooses, a client loop for the answers, a clock moved by hand.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "chatroomd/room/room.h"
#include "chatroomd/room/room_host.h"
#include "room_fakes.h"

namespace chatroomd::room::fakes {

class HostTest : public ::testing::Test {
 protected:
  // Starts the host over `store` with settings_ (call from SetUp, after setting them).
  void StartHost(store::Store& store) {
    loop_ = std::make_unique<Loop>("room-test", 0);
    host_ = std::make_unique<RoomHost>(*loop_, store, std::make_shared<RoomSettings>(settings_),
                                       shared_, registry_.NewSlot(), clock_.AsClock());
    client_loop_ = std::make_unique<Loop>("client", 1);
    loop_->Start();
    client_loop_->Start();
  }
  void TearDown() override {
    if (loop_) loop_->Abort();
    if (client_loop_) client_loop_->Abort();
    host_.reset();
  }

  std::shared_ptr<FakeClient> NewClient() { return std::make_shared<FakeClient>(*client_loop_); }

  Caller As(const std::shared_ptr<FakeClient>& c, std::string user, bool admin = false) {
    Caller caller;
    caller.client = c;
    caller.serial = ++serial_;
    caller.user = std::move(user);
    caller.admin = admin;
    return caller;
  }

  // Runs `op` on the room's loop.
  void On(const std::string& room, std::function<void(Room&)> op) {
    loop_->Post([this, room, op = std::move(op)] { op(*host_->Get(room)); });
  }
  // Runs `op` on the host's loop and waits for it.
  void OnHost(std::function<void(RoomHost&)> op) { OnLoopOf(*host_, std::move(op)); }
  // The same for any host.
  static void OnLoopOf(RoomHost& host, std::function<void(RoomHost&)> op) {
    std::promise<void> done;
    host.loop().Post([&] {
      op(host);
      done.set_value();
    });
    done.get_future().get();
  }

  WirePtr Join(const std::shared_ptr<FakeClient>& c, const std::string& user, bool admin = false) {
    On("r", [caller = As(c, user, admin)](Room& r) { r.Join(caller, JoinArgs{}); });
    return c->Next();
  }

  RoomSettings settings_;
  ManualClock clock_;
  SharedRoomState shared_;
  metrics::Registry registry_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<Loop> client_loop_;
  std::unique_ptr<RoomHost> host_;
  uint64_t serial_ = 0;
};

}  // namespace chatroomd::room::fakes
