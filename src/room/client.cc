#include "chatroomd/room/client.h"

namespace chatroomd::room {

void PostDeliver(ClientPtr client, uint64_t serial, WirePtr response) {
  Loop& loop = client->loop();
  Loop::Send(loop, [client = std::move(client), serial, response = std::move(response)] {
    client->Deliver(serial, response);
  });
}

void Reply(const Caller& caller, WirePtr response) {
  PostDeliver(caller.client, caller.serial, std::move(response));
}

void ReplyError(const Caller& caller, const Error& error) {
  Reply(caller, MakeErrorWire(error, caller.format));
}

void DeliveryBatch::Add(ClientPtr client, uint64_t serial, WirePtr response) {
  Loop* loop = &client->loop();
  for (auto& [l, items] : groups_) {
    if (l == loop) {
      items.push_back({std::move(client), serial, std::move(response)});
      return;
    }
  }
  groups_.emplace_back(loop, std::vector<Item>{});
  groups_.back().second.push_back({std::move(client), serial, std::move(response)});
}

void DeliveryBatch::Flush() {
  for (auto& [loop, items] : groups_) {
    Loop::Send(*loop, [items = std::move(items)] {
      for (const auto& item : items) item.client->Deliver(item.serial, item.response);
    });
  }
  groups_.clear();
}

}  // namespace chatroomd::room
