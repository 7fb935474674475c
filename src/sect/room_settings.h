// Private to the sects: the rooms' settings (room::RoomSettings) read from the main config,
// at start and on a reload.
#pragma once

#include "chatroomd/room/room_host.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::sect {

// Every room setting from the main config.
room::RoomSettings SettingsFromConfig(const config::Config& c);

// The settings of `next` that may change live, the others (read once, when a room or a loop
// starts: config.proto says "restart") as in `now`.
room::RoomSettings LiveSettings(const room::RoomSettings& now, const room::RoomSettings& next);

}  // namespace chatroomd::sect
