#include "config/validate.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "chatroomd/common/ids.h"
#include "chatroomd/config/config.h"

namespace chatroomd::config {
namespace {

constexpr uint32_t kNoMax = std::numeric_limits<uint32_t>::max();

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

// Hash bounds in hex, the way the sects file is usually written.
std::string Hex(uint64_t v) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%" PRIX64, v);
  return buffer;
}

std::string Span(uint64_t start, uint64_t end) { return "[" + Hex(start) + ", " + Hex(end) + "]"; }

struct Bound {
  int number;
  uint32_t min;
  uint32_t max;
};

// The uint32 bounds of one message, checked through reflection so that each rule is one line
// of a table instead of one `if` per field.
void CheckBounds(const google::protobuf::Message& message, const Node& node,
                 std::string_view prefix, std::initializer_list<Bound> bounds, Problems* problems) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  for (const Bound& bound : bounds) {
    const google::protobuf::FieldDescriptor* field =
        message.GetDescriptor()->FindFieldByNumber(bound.number);
    const uint32_t value = reflection->GetUInt32(message, field);
    if (value >= bound.min && value <= bound.max) continue;
    std::string text = std::string(prefix) + "." + field->name() + " is " + std::to_string(value);
    if (bound.max == kNoMax) {
      text += ", must be at least " + std::to_string(bound.min);
    } else {
      text += ", must be in " + std::to_string(bound.min) + ".." + std::to_string(bound.max);
    }
    problems->At(node.file(), node.Loc(bound.number), text);
  }
}

void CheckListeners(const Config& main, const Node& root, const ValueSources& sources,
                    Problems* problems) {
  std::map<std::string, ParseLocation> seen;
  for (int i = 0; i < main.listeners_size(); ++i) {
    const Listener& listener = main.listeners(i);
    const Node node = root.Child(Config::kListenersFieldNumber, i);
    const std::string where = HostPort(listener);
    // --listen was checked when it was parsed; here only the file's listeners are.
    bool host_ok = true;
    if (!sources.listen) {
      if (!IsListenHost(listener.host())) {
        host_ok = false;
        problems->At(node.file(), node.Loc(Listener::kHostFieldNumber),
                     "listener host " + Quote(listener.host()) +
                         " must be an IP address (IPv6 without brackets) or \"localhost\"");
      }
      if (listener.port() > 65535) {
        problems->At(
            node.file(), node.Loc(Listener::kPortFieldNumber),
            "listener port " + std::to_string(listener.port()) + " is out of range 0..65535");
      }
      // Port 0 picks a fresh port each time, so only fixed ports can collide.
      if (listener.port() != 0) {
        auto [it, inserted] = seen.emplace(where, node.self());
        if (!inserted) {
          problems->At(node.file(), node.self(),
                       "listener " + where + " is listed twice (first at " +
                           Where(node.file(), it->second) + ")");
        }
      }
    }
    if (!main.auth().enabled() && host_ok && !IsLoopbackHost(listener.host())) {
      // Dev mode trusts X-User-Id and makes everyone an admin: never expose it.
      const std::string text =
          "dev auth (auth.enabled=false) needs every listener on a loopback address; " + where +
          " is not (turn auth on, e.g. with --jwt-secret-file)";
      if (sources.listen) {
        problems->Add("--listen " + where + ": " + text);
      } else {
        problems->At(node.file(), node.Loc(Listener::kHostFieldNumber), text);
      }
    }
  }
}

void CheckAuth(const Config& main, const Node& root, const ValueSources& sources,
               Problems* problems) {
  const AuthConfig& auth = main.auth();
  CheckBounds(auth, root.Child(Config::kAuthFieldNumber), "auth",
              {{AuthConfig::kJwtLeewaySFieldNumber, 0, 3600},
               {AuthConfig::kJwtCacheEntriesFieldNumber, 0, 10000000}},
              problems);
  if (!auth.enabled()) return;  // dev mode is checked against the listeners
  const size_t size = auth.jwt_secret().size();
  if (size >= kMinJwtSecretBytes) return;
  if (size == 0 && sources.jwt_public_keys > 0) return;  // public keys only: RS256/ES256
  const std::string need = "needs at least " + std::to_string(kMinJwtSecretBytes) + " bytes";
  if (!sources.jwt_secret_file.empty()) {
    problems->Add(sources.jwt_secret_file + ": JWT secret is " + std::to_string(size) + " bytes, " +
                  need);
    return;
  }
  const Node node = root.Child(Config::kAuthFieldNumber);
  if (size == 0) {
    problems->At(node.file(), node.Loc(AuthConfig::kEnabledFieldNumber),
                 "auth.enabled is true but there is no JWT key (set auth.jwt_secret_file or "
                 "auth.jwt_public_key_files, or pass --jwt-secret-file)");
  } else {
    problems->At(node.file(), node.Loc(AuthConfig::kJwtSecretFieldNumber),
                 "auth.jwt_secret is " + std::to_string(size) + " bytes, " + need);
  }
}

void CheckMain(const Config& main, const Node& root, const ValueSources& sources,
               Problems* problems) {
  CheckListeners(main, root, sources, problems);
  CheckAuth(main, root, sources, problems);

  const Node http = root.Child(Config::kHttpFieldNumber);
  CheckBounds(main.http(), http, "http",
              {{HttpConfig::kIoThreadsFieldNumber, 1, 64},
               {HttpConfig::kMaxHeaderBytesFieldNumber, 1024, 1048576},
               {HttpConfig::kMaxBodyBytesFieldNumber, 1024, 67108864},
               {HttpConfig::kReadTimeoutMsFieldNumber, 100, 600000},
               {HttpConfig::kIdleTimeoutMsFieldNumber, 1000, 3600000},
               {HttpConfig::kWriteTimeoutMsFieldNumber, 100, 600000},
               {HttpConfig::kMaxConnectionsFieldNumber, 1, 10000000},
               {HttpConfig::kListenBacklogFieldNumber, 1, 65535},
               {HttpConfig::kMaxConnectionsPerIpFieldNumber, 0, 10000000},
               {HttpConfig::kRequestRatePerSFieldNumber, 0, 1000000},
               {HttpConfig::kRequestBurstFieldNumber, 1, 1000000}},
              problems);
  for (int i = 0; i < main.http().cors_origins_size(); ++i) {
    const std::string& origin = main.http().cors_origins(i);
    if (origin == "*") continue;
    // scheme://host[:port], as a browser sends it in Origin: no path, no spaces.
    size_t scheme = origin.find("://");
    std::string_view name = std::string_view(origin).substr(0, scheme);
    bool ok = scheme != std::string::npos && (name == "http" || name == "https") &&
              origin.size() > scheme + 3 &&
              origin.find_first_of("/?# \t", scheme + 3) == std::string::npos;
    if (!ok) {
      problems->At(http.file(), http.Loc(HttpConfig::kCorsOriginsFieldNumber, i),
                   "http.cors_origins \"" + origin +
                       "\" must be \"*\" or scheme://host[:port] (http or https, no path)");
    }
  }

  const Node store = root.Child(Config::kStoreFieldNumber);
  if (main.store().data_dir().empty()) {
    problems->At(store.file(), store.Loc(StoreConfig::kDataDirFieldNumber),
                 "store.data_dir must not be empty");
  }
  CheckBounds(main.store(), store, "store",
              {{StoreConfig::kMaxBatchFieldNumber, 1, 1000000},
               {StoreConfig::kRetentionHoursFieldNumber, 1, 87600},
               {StoreConfig::kDedupWindowHoursFieldNumber, 1, 8760},
               {StoreConfig::kReaderThreadsFieldNumber, 1, 64},
               {StoreConfig::kMaxPendingWritesFieldNumber, 1, 10000000},
               {StoreConfig::kBlockCacheMbFieldNumber, 1, 65536},
               {StoreConfig::kWriteBufferMbFieldNumber, 8, 65536},
               {StoreConfig::kMaxWalMbFieldNumber, 16, 1048576},
               {StoreConfig::kAudienceRetentionDaysFieldNumber, 1, 36500}},
              problems);

  const Node rooms = root.Child(Config::kRoomsFieldNumber);
  const RoomConfig& room = main.rooms();
  CheckBounds(room, rooms, "rooms",
              {{RoomConfig::kWindowSizeFieldNumber, 1, 1000000},
               {RoomConfig::kPrioritySizeFieldNumber, 1, 1000000},
               {RoomConfig::kMaxMessageBytesFieldNumber, 1, 1048576},
               {RoomConfig::kMaxHeldPollsPerRoomFieldNumber, 1, kNoMax},
               {RoomConfig::kMaxHeldPollsFieldNumber, 1, kNoMax},
               {RoomConfig::kOnlineTtlMsFieldNumber, 1000, 86400000},
               {RoomConfig::kDedupMemoryEntriesFieldNumber, 0, 10000000},
               {RoomConfig::kIdleUnloadMsFieldNumber, 1000, kNoMax},
               {RoomConfig::kMaxRoomsFieldNumber, 1, kNoMax},
               {RoomConfig::kEdgeMaxGroupsFieldNumber, 1, 1024},
               {RoomConfig::kEdgeReportDelayMsFieldNumber, 1, 1000},
               {RoomConfig::kEdgeIdleMsFieldNumber, 100, 3600000},
               {RoomConfig::kMaxModeratedUsersFieldNumber, 1, 10000000},
               {RoomConfig::kMaxModerationSecondsFieldNumber, 1, 315360000},
               {RoomConfig::kMaxMemoryMbFieldNumber, 1, 16777216}},
              problems);
  if (room.max_message_bytes() > main.http().max_body_bytes()) {
    // Point at whichever of the two the operator actually wrote.
    const bool at_rooms = rooms.Written(RoomConfig::kMaxMessageBytesFieldNumber) ||
                          !http.Written(HttpConfig::kMaxBodyBytesFieldNumber);
    const Node& node = at_rooms ? rooms : http;
    const int number = at_rooms ? static_cast<int>(RoomConfig::kMaxMessageBytesFieldNumber)
                                : static_cast<int>(HttpConfig::kMaxBodyBytesFieldNumber);
    problems->At(node.file(), node.Loc(number),
                 "rooms.max_message_bytes (" + std::to_string(room.max_message_bytes()) +
                     ") must not exceed http.max_body_bytes (" +
                     std::to_string(main.http().max_body_bytes()) +
                     "): such a message could never be sent");
  }
  if (room.send_rate_per_s() > 0 && room.send_burst() < 1) {
    problems->At(rooms.file(), rooms.Loc(RoomConfig::kSendBurstFieldNumber),
                 "rooms.send_burst must be at least 1 when rooms.send_rate_per_s is set "
                 "(0 would refuse every send)");
  }

  // traffic { tiers ... }: ascending, each within bounds; the VIP thresholds in order.
  const Node traffic = root.Child(Config::kTrafficFieldNumber);
  const TrafficConfig& tc = main.traffic();
  constexpr int kMaxTiers = 16;
  if (tc.tiers_size() > kMaxTiers) {
    problems->At(traffic.file(), traffic.Loc(TrafficConfig::kTiersFieldNumber, kMaxTiers),
                 "traffic.tiers: at most " + std::to_string(kMaxTiers) + " tiers");
  }
  for (int i = 0; i < tc.tiers_size(); ++i) {
    const TrafficTier& t = tc.tiers(i);
    const Node tier = traffic.Child(TrafficConfig::kTiersFieldNumber, i);
    CheckBounds(t, tier, "traffic.tiers",
                {{TrafficTier::kPollIntervalMsFieldNumber, 0, 60000},
                 {TrafficTier::kHoldMsFieldNumber, 0, 10000}},
                problems);
    if (i > 0 && t.min_online() <= tc.tiers(i - 1).min_online()) {
      problems->At(tier.file(), tier.Loc(TrafficTier::kMinOnlineFieldNumber),
                   "traffic.tiers must ascend: min_online " + std::to_string(t.min_online()) +
                       " is not above the tier before (" +
                       std::to_string(tc.tiers(i - 1).min_online()) + ")");
    }
  }
  CheckBounds(tc, traffic, "traffic", {{TrafficConfig::kVipSwitchAfterSFieldNumber, 1, 86400}},
              problems);
  if (tc.vip_promote_online() > 0 && tc.vip_demote_online() >= tc.vip_promote_online()) {
    problems->At(traffic.file(), traffic.Loc(TrafficConfig::kVipDemoteOnlineFieldNumber),
                 "traffic.vip_demote_online (" + std::to_string(tc.vip_demote_online()) +
                     ") must be below vip_promote_online (" +
                     std::to_string(tc.vip_promote_online()) +
                     "): a room would move back and "
                     "forth");
  }

  CheckBounds(main.presence(), root.Child(Config::kPresenceFieldNumber), "presence",
              {{PresenceConfig::kAggregationPeriodMsFieldNumber, 100, 60000},
               {PresenceConfig::kUniqueExactThresholdFieldNumber, 0, 1000000},
               {PresenceConfig::kCountersFlushMsFieldNumber, 1000, 3600000},
               {PresenceConfig::kOnlineSampleSizeFieldNumber, 0, 1000},
               {PresenceConfig::kSpreadThresholdFieldNumber, 0, 100000000}},
              problems);

  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  const std::string& level = main.log().level();
  if (std::find(std::begin(kLevels), std::end(kLevels), level) == std::end(kLevels)) {
    const Node log = root.Child(Config::kLogFieldNumber);
    problems->At(log.file(), log.Loc(LogConfig::kLevelFieldNumber),
                 "log.level " + Quote(level) +
                     " must be one of trace, debug, info, warn, error, critical, off");
  }
}

bool IsSectName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

struct OwnedRange {
  uint64_t start;
  uint64_t end;
  const std::string* sect;
  ParseLocation loc;
};

// The routing table needs every hash to land in exactly one sect. Only the first hole or
// overlap is reported: after one, the rest of the walk is usually just its echo.
void CheckCoverage(std::vector<OwnedRange> ranges, const std::string& file, Problems* problems) {
  std::sort(ranges.begin(), ranges.end(), [](const OwnedRange& a, const OwnedRange& b) {
    return a.start != b.start ? a.start < b.start : a.end < b.end;
  });
  uint64_t next = 0;  // first hash not yet covered
  bool full = false;  // covered through 2^64-1 (`next` cannot say so without wrapping)
  const OwnedRange* reach = nullptr;  // the range reaching furthest so far
  for (const OwnedRange& range : ranges) {
    if (full || range.start < next) {
      const uint64_t overlap_end = std::min(range.end, reach->end);
      problems->At(file, range.loc,
                   "hash ranges overlap: " + Span(range.start, overlap_end) +
                       " is owned by both sect " + Quote(*reach->sect) + " (range " +
                       Span(reach->start, reach->end) + " at " + Where(file, reach->loc) +
                       ") and sect " + Quote(*range.sect));
      return;
    }
    if (range.start > next) {
      problems->At(
          file, range.loc,
          "hash ranges leave a hole: " + Span(next, range.start - 1) + " is owned by no sect");
      return;
    }
    reach = &range;
    if (range.end == std::numeric_limits<uint64_t>::max()) {
      full = true;
    } else {
      next = range.end + 1;
    }
  }
  if (!full) {
    problems->At(file, reach != nullptr ? reach->loc : ParseLocation(),
                 "hash ranges leave a hole: " + Span(next, std::numeric_limits<uint64_t>::max()) +
                     " is owned by no sect (the non-VIP sects must cover [0x0, "
                     "0xFFFFFFFFFFFFFFFF])");
  }
}

void CheckSects(const Sects& sects, const Node& root, Problems* problems) {
  const std::string& file = root.file();
  if (sects.sects_size() == 0) {
    problems->At(file, ParseLocation(), "no sects: at least one sect is needed");
    return;
  }
  std::map<std::string, ParseLocation> names;
  std::map<std::string, std::pair<const std::string*, ParseLocation>> pinned;
  const Sect* vip = nullptr;
  ParseLocation vip_loc;
  std::vector<OwnedRange> ranges;
  bool ranges_ok = true;
  for (int i = 0; i < sects.sects_size(); ++i) {
    const Sect& sect = sects.sects(i);
    const Node node = root.Child(Sects::kSectsFieldNumber, i);
    const ParseLocation name_loc = node.Loc(Sect::kNameFieldNumber);
    const std::string label = "sect " + Quote(sect.name());

    if (sect.name().empty()) {
      problems->At(file, name_loc, "sect needs a name");
    } else if (!IsSectName(sect.name())) {
      problems->At(file, name_loc,
                   "sect name " + Quote(sect.name()) + " must match [A-Za-z0-9_.-]{1,64}");
    } else if (auto [it, inserted] = names.emplace(sect.name(), name_loc); !inserted) {
      problems->At(
          file, name_loc,
          "sect name " + Quote(sect.name()) + " is already used at " + Where(file, it->second));
    }

    if (sect.threads() < 1 || sect.threads() > 64) {
      problems->At(file, node.Loc(Sect::kThreadsFieldNumber),
                   label + ": threads is " + std::to_string(sect.threads()) + ", must be in 1..64");
    }

    if (sect.vip()) {
      if (vip != nullptr) {
        problems->At(file, node.Loc(Sect::kVipFieldNumber),
                     label + " is a second VIP sect; at most one sect may be vip (the first is " +
                         Quote(vip->name()) + " at " + Where(file, vip_loc) + ")");
      } else {
        vip = &sect;
        vip_loc = node.Loc(Sect::kVipFieldNumber);
      }
      if (sect.ranges_size() > 0) {
        problems->At(file, node.Loc(Sect::kRangesFieldNumber, 0),
                     "VIP " + label + " must not have ranges: it owns only its pinned rooms");
      }
    } else if (sect.ranges_size() == 0) {
      problems->At(file, node.self(),
                   label + " has no ranges: every non-VIP sect needs at least one");
    }

    for (int j = 0; j < sect.ranges_size(); ++j) {
      const HashRange& range = sect.ranges(j);
      const Node range_node = node.Child(Sect::kRangesFieldNumber, j);
      if (!range.has_start() || !range.has_end()) {
        problems->At(file, range_node.self(),
                     label + ": a range needs both start and end (inclusive)");
        ranges_ok = false;
      } else if (range.start() > range.end()) {
        problems->At(file, range_node.self(),
                     label + ": range start " + Hex(range.start()) + " is after its end " +
                         Hex(range.end()));
        ranges_ok = false;
      } else if (!sect.vip()) {
        ranges.push_back({range.start(), range.end(), &sect.name(), range_node.self()});
      }
    }

    for (int k = 0; k < sect.rooms_size(); ++k) {
      const std::string& room = sect.rooms(k);
      const ParseLocation loc = node.Loc(Sect::kRoomsFieldNumber, k);
      if (!IsValidRoomId(room)) {
        problems->At(file, loc,
                     label + ": pinned room " + Quote(room) +
                         " is not a valid room id ([A-Za-z0-9_.:-]{1,128})");
        continue;
      }
      auto [it, inserted] = pinned.emplace(room, std::make_pair(&sect.name(), loc));
      if (!inserted) {
        problems->At(file, loc,
                     "room " + Quote(room) + " is pinned twice: to sect " +
                         Quote(*it->second.first) + " at " + Where(file, it->second.second) +
                         " and to " + label);
      }
    }
  }
  // With a malformed range the walk would only report its consequences.
  if (ranges_ok) CheckCoverage(std::move(ranges), file, problems);
}

}  // namespace

void Validate(const Config& main, const Node& main_node, const Sects& sects, const Node& sects_node,
              const ValueSources& sources, Problems* problems) {
  CheckMain(main, main_node, sources, problems);
  CheckSects(sects, sects_node, problems);
}

bool IsListenHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

std::string HostPort(const Listener& listener) {
  const bool v6 = listener.host().find(':') != std::string::npos;
  std::string out = v6 ? "[" + listener.host() + "]" : listener.host();
  out += ':';
  out += std::to_string(listener.port());
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

}  // namespace chatroomd::config
