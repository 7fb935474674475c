#include "chatroomd/sect/room_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cassert>

#include "chatroomd/common/ids.h"
#include "chatroomd/config/config.h"
#include "chatroomd/room/front_edge.h"
#include "chatroomd/room/message.h"
#include "chatroomd/room/room_host.h"
#include "chatroomd/sect/routing.h"
#include "chatroomd/store/store.h"
#include "proto/chatroomd/api.pb.h"
#include "sect/loop_lag.h"
#include "sect/migrator.h"
#include "sect/room_settings.h"

namespace chatroomd::sect {

struct RoomService::Impl final : room::RoomDirectory {
  struct Sect {
    std::string name;
    bool vip = false;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::vector<std::unique_ptr<Loop>> loops;
    std::vector<std::unique_ptr<room::RoomHost>> hosts;
    std::vector<std::unique_ptr<LoopLagProbe>> probes;  // one per loop
  };

  Impl(const config::LoadedConfig& config, store::Store& s)
      : store(s),
        sects_file(config.sects),
        settings(std::make_shared<room::RoomSettings>(SettingsFromConfig(config.main))),
        migrator(std::make_shared<RoutingTable>(config.sects),
                 [this](Route r) -> room::RoomHost& { return *sects[r.sect].hosts[r.loop]; }) {}

  room::RoomHost& HostOf(const std::string& room_id) override {
    Route route = migrator.Find(room_id, RoomHash(room_id));
    return *sects[route.sect].hosts[route.loop];
  }

  // The VIP thresholds' wish (from a host's tick): promote a room that is where its hash
  // range puts it, demote one the thresholds promoted. Pinned and admin-placed rooms stay.
  void AutoMove(const std::string& room_id, bool to_vip) {
    migrator.Move(
        room_id, to_vip ? MoveTrigger::kPromote : MoveTrigger::kDemote,
        [room_id, to_vip](const RoutingTable& t) -> std::shared_ptr<const RoutingTable> {
          if (t.Pinned(room_id)) return nullptr;
          const std::optional<Placement> placed = t.Placed(room_id);
          if (placed && placed->by_admin) return nullptr;
          if (!to_vip) return placed ? t.WithPlacement(room_id, std::nullopt) : nullptr;
          if (placed || !t.vip_sect()) return nullptr;
          return t.WithPlacement(room_id, Placement{*t.vip_sect(), false});
        },
        [](bool) {});
  }

  // The edge of the caller's front loop, if it has one.
  room::FrontEdge* EdgeOf(const room::Caller& caller) const {
    room::Edge* edge = caller.client->edge();
    if (!edge) return nullptr;
    for (const auto& e : edges) {
      if (e.get() == edge) return e.get();
    }
    return nullptr;
  }

  store::Store& store;
  room::SharedRoomState shared;
  std::vector<Sect> sects;
  std::mutex sects_file_mu;
  config::Sects sects_file;  // as last loaded (guarded by sects_file_mu)
  std::shared_ptr<const room::RoomSettings> settings;
  // Declared after `sects`, which its host lookup reads.
  Migrator migrator;
  // One per front loop; each touched only on its loop. The list itself changes only before
  // Start and once every front loop has stopped, so the front loops read it without a lock.
  std::vector<std::unique_ptr<room::FrontEdge>> edges;
  bool started = false;
};

RoomService::RoomService(const config::LoadedConfig& config, store::Store& store,
                         metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(config, store)) {
  uint32_t loop_index = 0;
  for (const auto& s : config.sects.sects()) {
    Impl::Sect sect;
    sect.name = s.name();
    sect.vip = s.vip();
    for (const auto& r : s.ranges()) sect.ranges.emplace_back(r.start(), r.end());
    for (uint32_t t = 0; t < std::max<uint32_t>(1, s.threads()); ++t) {
      auto loop =
          std::make_unique<Loop>("sect-" + s.name() + "-" + std::to_string(t), loop_index++);
      sect.hosts.push_back(std::make_unique<room::RoomHost>(*loop, store, impl_->settings,
                                                            impl_->shared, registry.NewSlot()));
      sect.hosts.back()->set_sect(s.name(), s.vip());
      sect.hosts.back()->set_vip_hook(
          [impl = impl_.get()](const std::string& room_id, bool to_vip) {
            impl->AutoMove(room_id, to_vip);
          });
      sect.probes.push_back(std::make_unique<LoopLagProbe>(*loop));
      sect.loops.push_back(std::move(loop));
    }
    std::vector<room::RoomHost*> peers;
    for (auto& host : sect.hosts) peers.push_back(host.get());
    for (auto& host : sect.hosts) host->set_peers(peers);
    impl_->sects.push_back(std::move(sect));
  }
}

RoomService::~RoomService() { Stop(); }

room::Edge* RoomService::AddFrontLoop(Loop& loop, TimerWheel& wheel,
                                      metrics::ThreadMetrics& metrics) {
  assert(!impl_->started && "front loops register before Start");
  impl_->edges.push_back(std::make_unique<room::FrontEdge>(loop, wheel, *impl_, impl_->settings,
                                                           impl_->shared, metrics));
  impl_->migrator.AddFrontLoop(loop);
  return impl_->edges.back().get();
}

void RoomService::RemoveFrontLoop(room::Edge* edge) {
  // The front loop has stopped: its edge lets go of what it holds and goes, before the loop
  // and the timer wheel it borrows do.
  std::erase_if(impl_->edges, [&](const std::unique_ptr<room::FrontEdge>& e) {
    if (e.get() != edge) return false;
    e->Detach();
    return true;
  });
}

void RoomService::Start() {
  impl_->started = true;
  impl_->migrator.Start();
  for (auto& sect : impl_->sects) {
    for (size_t i = 0; i < sect.loops.size(); ++i) {
      sect.loops[i]->Start();
      room::RoomHost* host = sect.hosts[i].get();
      LoopLagProbe* probe = sect.probes[i].get();
      sect.loops[i]->Post([host, probe] {
        host->Start();
        probe->Start();
      });
    }
  }
  // Front loops may not run yet: the edge starts when its loop does.
  for (auto& edge : impl_->edges) {
    room::FrontEdge* e = edge.get();
    e->loop().Post([e] { e->Start(); });
  }
}

void RoomService::Drain() {
  impl_->shared.draining.store(true);
  for (auto& sect : impl_->sects) {
    for (auto& host : sect.hosts) {
      room::RoomHost* h = host.get();
      // Then the audience counters: written before the store closes.
      h->loop().Post([h] {
        h->ReleaseAllHeld();
        h->FlushCounters();
      });
    }
  }
  for (auto& edge : impl_->edges) {
    room::FrontEdge* e = edge.get();
    e->loop().Post([e] { e->ReleaseAll(); });
  }
}

void RoomService::Stop() {
  if (!impl_) return;
  // The front loops have stopped: their edges let go of what they hold without the rooms.
  for (auto& edge : impl_->edges) edge->Detach();
  for (auto& sect : impl_->sects) {
    // Whatever is still queued is dropped: Drain has answered the held polls and the store
    // has no pending writes by now. Rooms and hosts die after their loop has stopped, so
    // nothing runs on them any more.
    for (auto& loop : sect.loops) loop->Abort();
    sect.hosts.clear();
    sect.probes.clear();
  }
}

int64_t RoomService::pending_writes() const {
  return impl_->shared.pending_writes.load(std::memory_order_relaxed);
}

std::vector<Loop*> RoomService::loops() const {
  std::vector<Loop*> out;
  for (const auto& sect : impl_->sects) {
    for (const auto& loop : sect.loops) out.push_back(loop.get());
  }
  return out;
}

std::string RoomService::SectOf(const std::string& room_id) const {
  return impl_->sects[impl_->migrator.table()->Find(room_id, RoomHash(room_id)).sect].name;
}

void RoomService::Dispatch(const std::string& room_id, room::Caller caller, room::Request request,
                           room::FrontEdge* edge) {
  if (edge) edge->Flush();
  impl_->HostOf(room_id).Post(room_id, std::move(caller), std::move(request));
}

void RoomService::Join(const std::string& room_id, room::Caller caller, room::JoinArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), args, edge);
}

void RoomService::Poll(const std::string& room_id, room::Caller caller, room::PollArgs args) {
  // At the room's head, the caller's front loop can hold the poll without the room.
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  if (edge && edge->TryHold(room_id, caller, args)) return;
  caller.client->PollAtRoom(room_id);
  Dispatch(room_id, std::move(caller), std::move(args), edge);
}

void RoomService::Send(const std::string& room_id, room::Caller caller, room::SendArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), std::move(args), edge);
}

void RoomService::Leave(const std::string& room_id, room::Caller caller) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), room::LeaveArgs{}, edge);
}

void RoomService::History(const std::string& room_id, room::Caller caller, room::HistoryArgs args) {
  // Straight from the store (any message it has is durable); the page is encoded on the
  // reader thread and the answer posted to the caller.
  impl_->store.History(room_id, args.before, args.limit, nullptr,
                       [caller = std::move(caller)](Result<store::HistoryPage> page) {
                         if (!page) {
                           return room::ReplyError(
                               caller,
                               MakeError(ErrorCode::kInternal, "the store failed; try again"));
                         }
                         if (!page->room_exists) {
                           return room::ReplyError(
                               caller, MakeError(ErrorCode::kRoomNotFound, "room does not exist"));
                         }
                         room::Reply(caller, room::BuildHistoryResponse(*page, caller.format));
                       });
}

void RoomService::Online(const std::string& room_id, room::Caller caller, room::OnlineArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), args, edge);
}

void RoomService::Stats(const std::string& room_id, room::Caller caller) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), room::StatsArgs{}, edge);
}

void RoomService::Visitors(const std::string& room_id, room::Caller caller,
                           room::VisitorsArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), args, edge);
}

void RoomService::Reconfigure(const config::LoadedConfig& config) {
  auto settings = std::make_shared<const room::RoomSettings>(SettingsFromConfig(config.main));
  impl_->settings = settings;
  for (auto& sect : impl_->sects) {
    for (auto& host : sect.hosts) {
      room::RoomHost* h = host.get();
      h->loop().Post([h, settings] { h->set_settings(settings); });
    }
  }
  for (auto& edge : impl_->edges) {
    room::FrontEdge* e = edge.get();
    e->loop().Post([e, settings] { e->set_settings(settings); });
  }
}

void RoomService::Place(const std::string& room_id, room::Caller caller, bool vip) {
  const auto table = impl_->migrator.table();
  if (auto pin = table->Pinned(room_id)) {
    return room::ReplyError(
        caller, MakeError(ErrorCode::kBadRequest,
                          "the sects file pins this room to sect " + impl_->sects[*pin].name));
  }
  if (vip && !table->vip_sect()) {
    return room::ReplyError(caller,
                            MakeError(ErrorCode::kBadRequest, "the sects file has no VIP sect"));
  }
  Impl* impl = impl_.get();
  impl->migrator.Move(
      room_id, MoveTrigger::kAdmin,
      [room_id, vip](const RoutingTable& t) -> std::shared_ptr<const RoutingTable> {
        if (t.Pinned(room_id) || (vip && !t.vip_sect())) return nullptr;
        return t.WithPlacement(room_id,
                               vip ? std::optional(Placement{*t.vip_sect(), true}) : std::nullopt);
      },
      // Then the stats, from wherever the room lives now (if a reload pinned it meanwhile, from
      // there).
      [impl, room_id, caller = std::move(caller)](bool) mutable {
        impl->HostOf(room_id).Post(room_id, std::move(caller), room::StatsArgs{});
      });
}

bool RoomService::Repin(const config::Sects& next) {
  std::lock_guard lock(impl_->sects_file_mu);
  if (!SameShape(impl_->sects_file, next)) return false;
  for (const std::string& room_id : RepinnedRooms(impl_->sects_file, next)) {
    impl_->migrator.Move(
        room_id, MoveTrigger::kReload,
        [room_id, next](const RoutingTable& t) { return t.WithPinFrom(room_id, next); },
        [](bool) {});
  }
  impl_->sects_file = next;
  return true;
}

void RoomService::Sects(room::Caller caller) {
  api::SectsResponse r;
  for (const auto& sect : impl_->sects) {
    api::SectInfo& s = *r.add_sects();
    s.set_name(sect.name);
    s.set_vip(sect.vip);
    s.set_threads(static_cast<int32_t>(sect.hosts.size()));
    for (const auto& [start, end] : sect.ranges) {
      api::SectInfo::Range& range = *s.add_ranges();
      range.set_start(start);
      range.set_end(end);
    }
    int64_t rooms = 0, held = 0, online = 0;
    for (const auto& host : sect.hosts) {
      const room::PresenceStats& p = host->presence_stats();
      rooms += p.rooms.load(std::memory_order_relaxed);
      held += p.held_polls.load(std::memory_order_relaxed);
      online += p.online.load(std::memory_order_relaxed);
    }
    double lag = 0;
    for (const auto& probe : sect.probes) lag = std::max(lag, probe->current_ms());
    s.set_rooms(rooms);
    s.set_held_polls(held);
    s.set_online(online);
    s.set_loop_lag_ms(lag);
  }
  room::Reply(caller, MakeProtoWire(r, caller.format));
}

void RoomService::Moderate(const std::string& room_id, room::Caller caller,
                           room::ModerateArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), std::move(args), edge);
}

void RoomService::Retract(const std::string& room_id, room::Caller caller, room::RetractArgs args) {
  room::FrontEdge* edge = impl_->EdgeOf(caller);
  Dispatch(room_id, std::move(caller), args, edge);
}

std::string RoomService::RenderMetrics() const {
  // Per sect: the sum of its hosts (each written on its own loop).
  std::string online, expired, ticks, tick_seconds, estimated, writes, spread, by_tier;
  for (const auto& sect : impl_->sects) {
    int64_t o = 0, e = 0, s = 0;
    uint64_t x = 0, t = 0, ns = 0, w = 0;
    std::array<int64_t, room::PresenceStats::kMaxTiers> tier_rooms{};
    int tiers = 0;
    for (const auto& host : sect.hosts) {
      const room::PresenceStats& p = host->presence_stats();
      tiers = std::max(tiers, p.tiers.load(std::memory_order_relaxed));
      for (size_t i = 0; i < tier_rooms.size(); ++i) {
        tier_rooms[i] += p.rooms_by_tier[i].load(std::memory_order_relaxed);
      }
      o += p.online.load(std::memory_order_relaxed);
      e += p.rooms_estimated.load(std::memory_order_relaxed);
      s += p.rooms_spread.load(std::memory_order_relaxed);
      x += p.expired.load(std::memory_order_relaxed);
      t += p.aggregations.load(std::memory_order_relaxed);
      ns += p.aggregation_ns.load(std::memory_order_relaxed);
      w += p.counter_writes.load(std::memory_order_relaxed);
    }
    const std::string label = "{sect=\"" + sect.name + "\"} ";
    online += "chatroomd_online_users" + label + std::to_string(o) + "\n";
    expired += "chatroomd_presence_expired_total" + label + std::to_string(x) + "\n";
    ticks += "chatroomd_presence_aggregations_total" + label + std::to_string(t) + "\n";
    tick_seconds += "chatroomd_presence_aggregation_seconds_total" + label +
                    std::to_string(static_cast<double>(ns) / 1e9) + "\n";
    estimated += "chatroomd_presence_rooms_estimated" + label + std::to_string(e) + "\n";
    writes += "chatroomd_presence_audience_writes_total" + label + std::to_string(w) + "\n";
    spread += "chatroomd_presence_rooms_spread" + label + std::to_string(s) + "\n";
    for (int i = 0; i < tiers; ++i) {
      by_tier += "chatroomd_rooms_by_tier{sect=\"" + sect.name + "\",tier=\"" + std::to_string(i) +
                 "\"} " + std::to_string(tier_rooms[i]) + "\n";
    }
  }
  std::string out;
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help,
                       const std::string& lines) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
    out += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
    out += lines;
  };
  family("chatroomd_online_users", "gauge",
         "Users online in the sect's rooms, as last published (a user in two rooms counts twice).",
         online);
  family("chatroomd_presence_expired_total", "counter",
         "Online users dropped after the online TTL passed without a poll.", expired);
  family("chatroomd_presence_aggregations_total", "counter",
         "Aggregation ticks run (each publishes every room's online count).", ticks);
  family("chatroomd_presence_aggregation_seconds_total", "counter",
         "Time spent in aggregation ticks.", tick_seconds);
  family("chatroomd_presence_rooms_estimated", "gauge",
         "Rooms whose unique viewers today are past the exact threshold (HyperLogLog).", estimated);
  family("chatroomd_presence_audience_writes_total", "counter",
         "Audience counter records written to the store.", writes);
  family("chatroomd_presence_rooms_spread", "gauge",
         "Rooms whose online table is spread over the sect's threads (presence.spread_threshold).",
         spread);
  family("chatroomd_rooms_by_tier", "gauge",
         "Loaded rooms by traffic tier (the index in traffic.tiers of the tier their published "
         "online count is in), as of each upkeep tick; rooms below the first tier are not counted.",
         by_tier);
  out +=
      "# HELP chatroomd_loop_lag_seconds How late each sect loop's periodic timer fired (every "
      "100 ms): the time its queue held work back.\n"
      "# TYPE chatroomd_loop_lag_seconds histogram\n";
  for (const auto& sect : impl_->sects) {
    std::vector<const metrics::Histogram*> parts;
    for (const auto& probe : sect.probes) parts.push_back(&probe->histogram());
    metrics::Histogram::RenderSeries(out, "chatroomd_loop_lag_seconds",
                                     "sect=\"" + sect.name + "\"", parts.data(), parts.size());
  }
  std::string lag_max;
  for (const auto& sect : impl_->sects) {
    double lag = 0;
    for (const auto& probe : sect.probes) lag = std::max(lag, probe->current_ms());
    lag_max +=
        fmt::format("chatroomd_loop_lag_max_seconds{{sect=\"{}\"}} {}\n", sect.name, lag / 1000);
  }
  family("chatroomd_loop_lag_max_seconds", "gauge",
         "The worst lag of the sect's loops over the last second (GET /v1/admin/sects' "
         "loop_lag_ms).",
         lag_max);
  std::string moves;
  for (size_t t = 0; t < static_cast<size_t>(MoveTrigger::kCount); ++t) {
    moves += "chatroomd_room_migrations_total{trigger=\"" +
             std::string(MoveTriggerName(static_cast<MoveTrigger>(t))) + "\"} " +
             std::to_string(impl_->migrator.moves(static_cast<MoveTrigger>(t))) + "\n";
  }
  family("chatroomd_room_migrations_total", "counter",
         "Rooms moved between sects at run time, by what asked (admin, reload, promote, demote).",
         moves);
  family("chatroomd_room_migration_seconds_total", "counter",
         "Time the moves took, from the swap of the routing table to the room's arrival.",
         std::string("chatroomd_room_migration_seconds_total ") +
             std::to_string(static_cast<double>(impl_->migrator.move_ns()) / 1e9) + "\n");
  family("chatroomd_room_memory_bytes", "gauge",
         "Memory the loaded rooms take, estimated at each upkeep tick (rooms.max_memory_mb).",
         "chatroomd_room_memory_bytes " +
             std::to_string(impl_->shared.room_bytes.load(std::memory_order_relaxed)) + "\n");
  return out;
}

void RoomService::CancelPoll(const std::string& room_id, room::ClientPtr client, uint64_t serial) {
  // (A poll the client's own edge holds is cancelled on its loop: room::CancelEdgeWait.)
  impl_->HostOf(room_id).PostCancelPoll(room_id, std::move(client), serial);
}

}  // namespace chatroomd::sect
