#include "server/reload.h"

#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include "chatroomd/http/server.h"
#include "chatroomd/sect/room_service.h"

namespace chatroomd::server {

config::Config LiveConfig(const config::Config& running, const config::Config& next) {
  config::Config out = running;
  config::RoomConfig& r = *out.mutable_rooms();
  const config::RoomConfig& n = next.rooms();
  r.set_max_message_bytes(n.max_message_bytes());
  r.set_auto_create(n.auto_create());
  r.set_max_held_polls_per_room(n.max_held_polls_per_room());
  r.set_max_held_polls(n.max_held_polls());
  r.set_online_ttl_ms(n.online_ttl_ms());
  r.set_idle_unload_ms(n.idle_unload_ms());
  r.set_max_rooms(n.max_rooms());
  r.set_send_rate_per_s(n.send_rate_per_s());
  r.set_send_burst(n.send_burst());
  r.set_max_moderated_users(n.max_moderated_users());
  r.set_max_memory_mb(n.max_memory_mb());
  config::PresenceConfig& p = *out.mutable_presence();
  const config::PresenceConfig& np = next.presence();
  p.set_aggregation_period_ms(np.aggregation_period_ms());
  p.set_unique_exact_threshold(np.unique_exact_threshold());
  p.set_counters_flush_ms(np.counters_flush_ms());
  p.set_spread_threshold(np.spread_threshold());
  out.mutable_log()->set_level(next.log().level());
  *out.mutable_traffic() = next.traffic();
  return out;
}

Reloader::Reloader(DaemonOptions options, std::shared_ptr<const config::LoadedConfig> running,
                   sect::RoomService& rooms)
    : options_(std::move(options)), rooms_(rooms), running_(std::move(running)) {}

Status Reloader::Reload(std::string_view why) {
  std::lock_guard lock(mu_);
  auto loaded = config::LoadConfig(options_.config_path, options_.overrides);
  if (!loaded) {
    spdlog::error("reload ({}): the config does not load; the running config stays:\n{}", why,
                  loaded.error().message);
    return loaded.take_error();
  }
  const config::LoadedConfig& next = *loaded.value();
  auto applied = std::make_shared<config::LoadedConfig>(*running_);
  applied->main = LiveConfig(running_->main, next.main);

  // What differs once the live fields are taken over needs a restart.
  std::string restart;
  google::protobuf::util::MessageDifferencer diff;
  diff.ReportDifferencesToString(&restart);
  diff.Compare(applied->main, next.main);
  if (!restart.empty()) {
    spdlog::warn("reload ({}): these changes need a restart and were not applied:\n{}", why,
                 restart);
  }
  // Pinned rooms move now; sects, threads and ranges wait for a restart.
  if (rooms_.Repin(next.sects)) {
    applied->sects = next.sects;
  } else {
    std::string sects;
    google::protobuf::util::MessageDifferencer sects_diff;
    sects_diff.ReportDifferencesToString(&sects);
    sects_diff.Compare(running_->sects, next.sects);
    spdlog::warn(
        "reload ({}): the sects file changed more than its pinned rooms; it is applied at the "
        "next start:\n{}",
        why, sects);
  }

  spdlog::set_level(spdlog::level::from_str(applied->main.log().level()));
  rooms_.Reconfigure(*applied);
  if (server_) server_->Reconfigure(applied->main);
  running_ = std::move(applied);
  spdlog::info("reload ({}): applied", why);
  return OkStatus();
}

}  // namespace chatroomd::server
