#include "chatroomd/room/room_host.h"

#include <spdlog/spdlog.h>

namespace chatroomd::room {
namespace {
constexpr auto kSweepPeriod = std::chrono::seconds(1);
}  // namespace

RoomHost::RoomHost(Loop& loop, store::Store& store, std::shared_ptr<const RoomSettings> settings,
                   SharedRoomState& shared, metrics::ThreadMetrics& metrics)
    : loop_(loop),
      store_(store),
      settings_(std::move(settings)),
      shared_(shared),
      metrics_(metrics),
      wheel_(loop.context(), 10, 8192),
      sweep_timer_(loop.context()) {}

RoomHost::~RoomHost() = default;

void RoomHost::Start() { ArmSweep(); }

void RoomHost::Stop() { sweep_timer_.cancel(); }

Room* RoomHost::Get(const std::string& room_id) {
  assert(loop_.InLoop());
  auto it = rooms_.find(room_id);
  if (it != rooms_.end()) return it->second.get();
  if (rooms_.size() >= settings_->max_rooms) return nullptr;
  auto room = std::make_unique<Room>(*this, room_id);
  Room* raw = room.get();
  rooms_.emplace(room_id, std::move(room));
  raw->Load();
  return raw;
}

Room* RoomHost::Find(const std::string& room_id) {
  assert(loop_.InLoop());
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? nullptr : it->second.get();
}

void RoomHost::CancelPoll(const ClientPtr& client, uint64_t serial) {
  HeldPoll& held = client->held;
  if (held.room_hook.is_linked() && held.serial == serial) held.room->CancelPoll(*client, serial);
}

void RoomHost::ReleaseAllHeld() {
  for (auto& [id, room] : rooms_) room->ReleaseAllHeld();
}

void RoomHost::ArmSweep() {
  sweep_timer_.expires_after(kSweepPeriod);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Sweep();
    ArmSweep();
  });
}

void RoomHost::Sweep() {
  int64_t now = TimerWheel::NowMs();
  int64_t idle = settings_->idle_unload_ms;
  for (auto it = rooms_.begin(); it != rooms_.end();) {
    if (it->second->Sweep(now, idle)) {
      it = rooms_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace chatroomd::room
