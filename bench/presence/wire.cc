#include "wire.h"

#include <time.h>

#include <cstdio>
#include <cstdlib>

#include "http_response.h"

namespace crpresence {
namespace {

// Centrifugo's defaults: presence entries expire 60 s after their last update (the sorted set's
// score), and each add refreshes the keys' TTL to the same 60 s. The keys here get an hour so
// that a slow run cannot lose them; a key's TTL costs the same whatever its value.
constexpr int64_t kCentrifugoPresenceTtlS = 60;
constexpr char kKeyTtlS[] = "3600";

int64_t RealtimeMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A version-4 UUID string (36 characters), the form of Centrifugo's client ids, made from i so
// that every run writes the same ids.
std::string ClientUuid(uint64_t i) {
  uint64_t hi = SplitMix64(i * 2 + 1);
  uint64_t lo = SplitMix64(i * 2 + 2);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFF),
                static_cast<unsigned>(0x8000 | (lo >> 50)),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

// Centrifugo's hash value: protocol.ClientInfo marshalled, fields user = 1 and client = 2 (no
// conn_info/chan_info: clients that send none). Both are under 128 bytes: one-byte lengths.
std::string ClientInfoProto(const std::string& user, const std::string& client) {
  std::string out;
  out += '\x0A';
  out += static_cast<char>(user.size());
  out += user;
  out += '\x12';
  out += static_cast<char>(client.size());
  out += client;
  return out;
}

// RESP2: one reply at the start of in. Arrays are never asked for, so they are kBad.
Frame ParseResp(std::string_view in, Answer& a) {
  size_t eol = in.find("\r\n");
  if (eol == std::string_view::npos) return Frame::kIncomplete;
  std::string_view line = in.substr(1, eol - 1);
  a = Answer{};
  a.len = eol + 2;
  switch (in[0]) {
    case '+':
      a.body = line;
      return Frame::kComplete;
    case '-':
      a.resp_error = true;
      a.body = line;
      return Frame::kComplete;
    case ':':
      a.integer = std::strtoll(std::string(line).c_str(), nullptr, 10);
      return Frame::kComplete;
    case '$': {
      long long n = std::strtoll(std::string(line).c_str(), nullptr, 10);
      if (n < 0) return Frame::kComplete;  // nil
      if (in.size() < a.len + static_cast<size_t>(n) + 2) return Frame::kIncomplete;
      a.body = in.substr(a.len, static_cast<size_t>(n));
      a.len += static_cast<size_t>(n) + 2;
      return Frame::kComplete;
    }
    default:
      return Frame::kBad;
  }
}

}  // namespace

Wire::Wire(const Options& opts) : opts_(opts) {
  switch (opts.target) {
    case Target::kChatroomd:
      join_prefix_ = "POST /v1/rooms/" + opts.room + "/join HTTP/1.1\r\nHost: " + opts.host + ":" +
                     std::to_string(opts.port) +
                     "\r\nContent-Type: application/json\r\nContent-Length: 13\r\nX-User-Id: ";
      break;
    case Target::kRedisHash:
      hash_key_ = "chatroomd.presence." + opts.room;
      last_seen_ms_ = std::to_string(RealtimeMs());
      break;
    case Target::kRedisCentrifugo:
      // Centrifugo's key names with its default prefix "centrifuge" (presence_redis.go).
      hash_key_ = "centrifuge.presence.data." + opts.room;
      zset_key_ = "centrifuge.presence.expire." + opts.room;
      expire_at_s_ = std::to_string(RealtimeMs() / 1000 + kCentrifugoPresenceTtlS);
      break;
  }
}

std::string Wire::UserId(uint64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "u%015llu", static_cast<unsigned long long>(i));
  return buf;
}

void Wire::AppendCommand(std::string& out, std::initializer_list<std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
}

void Wire::AppendRedisJoin(uint64_t i, std::string& out) const {
  std::string user = UserId(i);
  if (opts_.target == Target::kRedisHash) {
    AppendCommand(out, {"HSET", hash_key_, user, last_seen_ms_});
    return;
  }
  // What Centrifugo's presence_add.lua does per client (without user mapping, its default),
  // as plain commands: the data it leaves in Redis is the same.
  std::string client = ClientUuid(i);
  AppendCommand(out, {"ZADD", zset_key_, expire_at_s_, client});
  AppendCommand(out, {"HSET", hash_key_, client, ClientInfoProto(user, client)});
}

uint32_t Wire::AppendJoin(uint64_t i, std::string& out) const {
  if (opts_.target == Target::kChatroomd) {
    out += join_prefix_;
    out += UserId(i);
    out += "\r\n\r\n{\"backlog\":0}";
    return 1;
  }
  AppendRedisJoin(i, out);
  return opts_.target == Target::kRedisCentrifugo ? 2 : 1;
}

bool Wire::JoinOk(const Answer& a) const {
  return opts_.IsRedis() ? a.integer == 1 : a.http_status == 200;
}

uint32_t Wire::AppendWarmUp(std::string& out) const {
  uint32_t answers = AppendJoin(0, out);
  if (opts_.target == Target::kRedisCentrifugo) {
    AppendCommand(out, {"EXPIRE", zset_key_, kKeyTtlS});
    AppendCommand(out, {"EXPIRE", hash_key_, kKeyTtlS});
    answers += 2;
  }
  return answers;
}

bool Wire::WarmUpOk(const Answer& a) const {
  return opts_.IsRedis() ? a.integer >= 0 : a.http_status == 200;
}

uint32_t Wire::AppendCount(std::string& out) const {
  switch (opts_.target) {
    case Target::kChatroomd:
      return AppendJoin(0, out);
    case Target::kRedisHash:
      AppendCommand(out, {"HLEN", hash_key_});
      return 1;
    case Target::kRedisCentrifugo:
      AppendCommand(out, {"HLEN", hash_key_});
      AppendCommand(out, {"ZCARD", zset_key_});
      return 2;
  }
  return 0;
}

int64_t Wire::CountOf(const Answer& a) const {
  if (opts_.IsRedis()) return a.integer;
  if (a.http_status != 200) return -1;
  // {"room":..., "online":"1523", ...}: a decimal string (proto3 JSON of an int64).
  size_t p = a.body.find("\"online\":\"");
  if (p == std::string_view::npos) return -1;
  return std::strtoll(std::string(a.body.substr(p + 10, 20)).c_str(), nullptr, 10);
}

uint32_t Wire::AppendInfo(std::string& out) const {
  AppendCommand(out, {"INFO", "memory"});
  return 1;
}

uint32_t Wire::AppendKeyMemory(std::string& out) const {
  AppendCommand(out, {"MEMORY", "USAGE", hash_key_, "SAMPLES", "0"});
  if (opts_.target != Target::kRedisCentrifugo) return 1;
  AppendCommand(out, {"MEMORY", "USAGE", zset_key_, "SAMPLES", "0"});
  return 2;
}

int64_t Wire::UsedMemoryOf(const Answer& a) {
  size_t p = a.body.find("\r\nused_memory:");
  if (p == std::string_view::npos) return -1;
  return std::strtoll(std::string(a.body.substr(p + 14, 24)).c_str(), nullptr, 10);
}

Frame Wire::Parse(std::string_view in, Answer& a, std::string& scratch) const {
  if (opts_.IsRedis()) return ParseResp(in, a);
  crload::HttpResponse r;
  switch (crload::ParseHttpResponse(in, r, scratch)) {
    case crload::Parse::kIncomplete:
      return Frame::kIncomplete;
    case crload::Parse::kBad:
      return Frame::kBad;
    case crload::Parse::kComplete:
      break;
  }
  a = Answer{};
  a.len = r.total_len;
  a.http_status = r.status;
  a.body = r.body;
  return Frame::kComplete;
}

}  // namespace crpresence
