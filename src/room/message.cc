#include "chatroomd/room/message.h"

#include "proto/chatroomd/api.pb.h"

namespace chatroomd::room {
namespace {

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void AppendTag(std::string& out, int field, int wire_type) {
  AppendVarint(out, (static_cast<uint64_t>(field) << 3) | wire_type);
}

void AppendLengthDelimited(std::string& out, int field, std::string_view bytes) {
  AppendTag(out, field, 2);
  AppendVarint(out, bytes.size());
  out.append(bytes);
}

void NoteMessages(WireResponse& wire, const std::vector<const EncodedMessage*>& msgs,
                  bool is_poll) {
  wire.messages = static_cast<uint32_t>(msgs.size());
  // Delivery latency is measured for polls only: a join's backlog is history, not delivery.
  if (!is_poll) return;
  for (const auto* m : msgs) {
    if (m->accepted_ns) wire.accepted_ns.push_back(m->accepted_ns);
  }
}

}  // namespace

MessagePtr EncodeMessage(const store::MessageRecord& r, int64_t accepted_ns) {
  auto m = std::make_shared<EncodedMessage>();
  m->seq = r.seq;
  m->priority = r.priority;
  m->accepted_ns = accepted_ns;

  // The proto3 JSON mapping of api.Message with proto field names, every field printed
  // (client_msg_id only when present), 64-bit integers as strings.
  std::string& j = m->json;
  j.reserve(96 + r.sender.size() + r.type.size() + r.body.size());
  j += "{\"seq\":\"";
  j += std::to_string(r.seq);
  j += r.priority ? "\",\"priority\":true,\"sender\":" : "\",\"priority\":false,\"sender\":";
  AppendJsonString(j, r.sender);
  j += ",\"type\":";
  AppendJsonString(j, r.type);
  j += ",\"body\":";
  AppendJsonString(j, r.body);
  j += ",\"ts_ms\":\"";
  j += std::to_string(r.ts_ms);
  j += '"';
  if (r.client_msg_id) {
    j += ",\"client_msg_id\":";
    AppendJsonString(j, *r.client_msg_id);
  }
  j += '}';

  api::Message proto;
  proto.set_seq(r.seq);
  proto.set_priority(r.priority);
  proto.set_sender(r.sender);
  proto.set_type(r.type);
  proto.set_body(r.body);
  proto.set_ts_ms(r.ts_ms);
  if (r.client_msg_id) proto.set_client_msg_id(*r.client_msg_id);
  m->proto = proto.SerializeAsString();
  return m;
}

WirePtr BuildMessagesResponse(const ResponseFields& f, BodyFormat format) {
  const auto& msgs = *f.messages;
  std::string body;
  if (format == BodyFormat::kProtobuf) {
    // PollResponse: room=1 cursor=2 messages=3 gap=4 online=5 next_poll_ms=6;
    // JoinResponse: room=1 cursor=2 messages=3 online=4 next_poll_ms=5.
    size_t size = f.room.size() + f.cursor.size() + 32;
    for (const auto* m : msgs) size += m->proto.size() + 6;
    body.reserve(size);
    AppendLengthDelimited(body, 1, f.room);
    AppendLengthDelimited(body, 2, f.cursor);
    for (const auto* m : msgs) AppendLengthDelimited(body, 3, m->proto);
    int next = 4;
    if (f.is_poll) {
      if (f.gap) {
        AppendTag(body, 4, 0);
        AppendVarint(body, 1);
      }
      next = 5;
    }
    if (f.online != 0) {
      AppendTag(body, next, 0);
      AppendVarint(body, static_cast<uint64_t>(f.online));
    }
    if (f.next_poll_ms != 0) {
      AppendTag(body, next + 1, 0);
      AppendVarint(body, static_cast<uint64_t>(static_cast<int64_t>(f.next_poll_ms)));
    }
    auto wire = MakeWire(200, "application/x-protobuf", std::move(body));
    NoteMessages(*wire, msgs, f.is_poll);
    return wire;
  }
  size_t size = f.room.size() + f.cursor.size() + 96;
  for (const auto* m : msgs) size += m->json.size() + 1;
  body.reserve(size);
  body += "{\"room\":";
  AppendJsonString(body, f.room);
  body += ",\"cursor\":\"";
  body += f.cursor;  // URL-safe base64: nothing to escape
  body += "\",\"messages\":[";
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (i) body += ',';
    body += msgs[i]->json;
  }
  body += ']';
  if (f.is_poll) body += f.gap ? ",\"gap\":true" : ",\"gap\":false";
  body += ",\"online\":\"";
  body += std::to_string(f.online);
  body += "\",\"next_poll_ms\":";
  body += std::to_string(f.next_poll_ms);
  body += '}';
  auto wire = MakeWire(200, "application/json", std::move(body));
  NoteMessages(*wire, msgs, f.is_poll);
  return wire;
}

WirePtr BuildHistoryResponse(const store::HistoryPage& page, BodyFormat format) {
  std::vector<MessagePtr> owned;
  owned.reserve(page.messages.size());
  for (const auto& r : page.messages) owned.push_back(EncodeMessage(r, 0));
  if (format == BodyFormat::kProtobuf) {
    api::HistoryResponse h;
    for (const auto& m : owned) h.add_messages()->ParseFromString(m->proto);
    if (page.next_before) h.set_next_before(*page.next_before);
    return MakeWire(200, "application/x-protobuf", h.SerializeAsString());
  }
  std::string body = "{\"messages\":[";
  for (size_t i = 0; i < owned.size(); ++i) {
    if (i) body += ',';
    body += owned[i]->json;
  }
  body += ']';
  if (page.next_before) body += ",\"next_before\":\"" + std::to_string(*page.next_before) + "\"";
  body += '}';
  return MakeWire(200, "application/json", std::move(body));
}

}  // namespace chatroomd::room
