// Private to the sects: the rooms' settings (room::RoomSettings) read from the main config,
// at start and on a reload.
#pragma once

#include "chatroomd/room/room_host.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::sect {

// Every room setting from the main config.
room::RoomSettings SettingsFromConfig(const config::Config& c);

}  // namespace chatroomd::sect
