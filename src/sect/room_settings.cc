#include "sect/room_settings.h"

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
  s.max_moderated_users = r.max_moderated_users();
  s.max_room_bytes = uint64_t{r.max_memory_mb()} << 20;
  const auto& p = c.presence();
  s.aggregation_period_ms = p.aggregation_period_ms();
  s.unique_exact_threshold = p.unique_exact_threshold();
  s.counters_flush_ms = p.counters_flush_ms();
  s.online_sample_size = p.online_sample_size();
  s.spread_threshold = p.spread_threshold();
  for (const auto& t : c.traffic().tiers()) {
    s.tiers.push_back({static_cast<int64_t>(t.min_online()), t.poll_interval_ms(), t.hold_ms()});
  }
  s.vip_promote_online = static_cast<int64_t>(c.traffic().vip_promote_online());
  s.vip_demote_online = static_cast<int64_t>(c.traffic().vip_demote_online());
  s.vip_switch_after_ms = int64_t{c.traffic().vip_switch_after_s()} * 1000;
  return s;
}

}  // namespace chatroomd::sect
