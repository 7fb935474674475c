#include "chatroomd/sect/room_service.h"

#include <spdlog/spdlog.h>

#include "chatroomd/common/ids.h"

namespace chatroomd::sect {

room::RoomSettings SettingsFromConfig(const config::Config& c) {
  room::RoomSettings s;
  const auto& r = c.rooms();
  s.window_size = r.window_size();
  s.priority_size = r.priority_size();
  s.max_message_bytes = r.max_message_bytes();
  s.auto_create = r.auto_create();
  s.max_held_polls_per_room = r.max_held_polls_per_room();
  s.max_held_polls = r.max_held_polls();
  s.online_ttl_ms = r.online_ttl_ms();
  s.dedup_memory_entries = r.dedup_memory_entries();
  s.dedup_window_ms = static_cast<int64_t>(c.store().dedup_window_hours()) * 3600 * 1000;
  s.idle_unload_ms = r.idle_unload_ms();
  s.max_rooms = r.max_rooms();
  s.send_rate_per_s = r.send_rate_per_s();
  s.send_burst = r.send_burst();
  s.max_pending_writes = c.store().max_pending_writes();
  s.edge_max_groups = r.edge_max_groups();
  s.edge_report_delay_ms = r.edge_report_delay_ms();
  s.edge_idle_ms = r.edge_idle_ms();
  return s;
}

RoomService::RoomService(const config::LoadedConfig& config, store::Store& store,
                         metrics::Registry& registry)
    : routing_(std::make_shared<RoutingTable>(config.sects)),
      settings_(std::make_shared<room::RoomSettings>(SettingsFromConfig(config.main))) {
  uint32_t loop_index = 0;
  for (const auto& s : config.sects.sects()) {
    Sect sect;
    sect.name = s.name();
    sect.vip = s.vip();
    for (uint32_t t = 0; t < std::max<uint32_t>(1, s.threads()); ++t) {
      auto loop = std::make_unique<Loop>("sect-" + s.name() + "-" + std::to_string(t),
                                         loop_index++);
      sect.hosts.push_back(std::make_unique<room::RoomHost>(*loop, store, settings_, shared_,
                                                            registry.NewSlot()));
      sect.loops.push_back(std::move(loop));
    }
    sects_.push_back(std::move(sect));
  }
}

RoomService::~RoomService() { Stop(); }

void RoomService::Start() {
  for (auto& sect : sects_) {
    for (size_t i = 0; i < sect.loops.size(); ++i) {
      sect.loops[i]->Start();
      room::RoomHost* host = sect.hosts[i].get();
      sect.loops[i]->Post([host] { host->Start(); });
    }
  }
}

void RoomService::Drain() {
  shared_.draining.store(true);
  for (auto& sect : sects_) {
    for (auto& host : sect.hosts) {
      room::RoomHost* h = host.get();
      h->loop().Post([h] { h->ReleaseAllHeld(); });
    }
  }
}

void RoomService::Stop() {
  for (auto& sect : sects_) {
    // Whatever is still queued is dropped: Drain has answered the held polls and the store
    // has no pending writes by now. Rooms and hosts die after their loop has stopped, so
    // nothing runs on them any more.
    for (auto& loop : sect.loops) loop->Abort();
    sect.hosts.clear();
  }
}

std::vector<Loop*> RoomService::loops() const {
  std::vector<Loop*> out;
  for (const auto& sect : sects_) {
    for (const auto& loop : sect.loops) out.push_back(loop.get());
  }
  return out;
}

room::RoomHost& RoomService::HostFor(const std::string& room_id) const {
  Route route = routing_->Find(room_id, RoomHash(room_id));
  return *sects_[route.sect].hosts[route.loop];
}

std::string RoomService::SectOf(const std::string& room_id) const {
  return sects_[routing_->Find(room_id, RoomHash(room_id)).sect].name;
}

void RoomService::Dispatch(const std::string& room_id, std::function<void(room::Room*)> op) {
  room::RoomHost& host = HostFor(room_id);
  Loop::Send(host.loop(), [&host, room_id, op = std::move(op)] { op(host.Get(room_id)); });
}

namespace {

room::Room* Loaded(room::Room* room, const room::Caller& caller) {
  // Past rooms.max_rooms the host has no room for it.
  if (!room) room::ReplyError(caller, MakeError(ErrorCode::kOverloaded, "too many rooms loaded", 1));
  return room;
}

}  // namespace

void RoomService::Join(const std::string& room_id, room::Caller caller, room::JoinArgs args) {
  Dispatch(room_id, [caller = std::move(caller), args](room::Room* r) mutable {
    if (Loaded(r, caller)) r->Join(std::move(caller), args);
  });
}

void RoomService::Poll(const std::string& room_id, room::Caller caller, room::PollArgs args) {
  Dispatch(room_id, [caller = std::move(caller), args](room::Room* r) mutable {
    if (Loaded(r, caller)) r->Poll(std::move(caller), args);
  });
}

void RoomService::Send(const std::string& room_id, room::Caller caller, room::SendArgs args) {
  Dispatch(room_id, [caller = std::move(caller), args = std::move(args)](room::Room* r) mutable {
    if (Loaded(r, caller)) r->Send(std::move(caller), std::move(args));
  });
}

void RoomService::Leave(const std::string& room_id, room::Caller caller) {
  Dispatch(room_id, [caller = std::move(caller)](room::Room* r) mutable {
    if (Loaded(r, caller)) r->Leave(std::move(caller));
  });
}

void RoomService::CancelPoll(const std::string& room_id, room::ClientPtr client,
                             uint64_t serial) {
  room::RoomHost& host = HostFor(room_id);
  Loop::Send(host.loop(), [&host, client = std::move(client), serial] {
    host.CancelPoll(client, serial);
  });
}

void RoomService::EdgeReport(const std::string& room_id, room::EdgeReport report) {
  room::RoomHost& host = HostFor(room_id);
  Loop::Send(host.loop(), [&host, room_id, report = std::move(report)]() mutable {
    // A room with edges is never unloaded, so it is there; look, never load.
    if (room::Room* r = host.Find(room_id)) r->OnEdgeReport(std::move(report));
  });
}

void RoomService::EdgeUnsubscribe(const std::string& room_id, room::Edge* edge, uint64_t gen) {
  room::RoomHost& host = HostFor(room_id);
  Loop::Send(host.loop(), [&host, room_id, edge, gen] {
    if (room::Room* r = host.Find(room_id)) r->OnEdgeUnsubscribe(edge, gen);
  });
}

}  // namespace chatroomd::sect
