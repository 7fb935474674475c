#include "chatroomd/config/config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string_view>

#include "config/text_file.h"
#include "config/validate.h"

namespace chatroomd::config {
namespace {

using google::protobuf::FieldDescriptor;

// Sets every singular field to the value it already reads as, recursively, so that has_x()
// is true everywhere and a dump of the config shows the effective values, not just the
// ones an operator happened to write.
void FillDefaults(google::protobuf::Message* message) {
  const google::protobuf::Descriptor* type = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->is_repeated()) {
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        for (int j = 0; j < reflection->FieldSize(*message, field); ++j) {
          FillDefaults(reflection->MutableRepeatedMessage(message, field, j));
        }
      }
      continue;
    }
    // Setting one member of a oneof would clear the others.
    if (field->real_containing_oneof() != nullptr) continue;
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        FillDefaults(reflection->MutableMessage(message, field));
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        reflection->SetInt32(message, field, reflection->GetInt32(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        reflection->SetInt64(message, field, reflection->GetInt64(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        reflection->SetUInt32(message, field, reflection->GetUInt32(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        reflection->SetUInt64(message, field, reflection->GetUInt64(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        reflection->SetDouble(message, field, reflection->GetDouble(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        reflection->SetFloat(message, field, reflection->GetFloat(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        reflection->SetBool(message, field, reflection->GetBool(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        reflection->SetEnumValue(message, field, reflection->GetEnumValue(*message, field));
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        reflection->SetString(message, field, reflection->GetString(*message, field));
        break;
    }
  }
}

// "HOST:PORT" or "[V6]:PORT" into a listener; on failure says what is wrong with it.
bool ParseListen(std::string_view text, Listener* listener, std::string* why) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *why = "expected HOST:PORT (IPv6 as [ADDR]:PORT)";
    return false;
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      *why = "expected [IPV6]:PORT";
      return false;
    }
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos) {
      *why = "brackets are only for IPv6 addresses";
      return false;
    }
  } else if (host.find(':') != std::string_view::npos) {
    // Without brackets the port of "::1:8080" cannot be told from the address.
    *why = "an IPv6 host needs brackets, as in [::1]:8080";
    return false;
  }
  if (host.empty()) {
    *why = "missing host (use 0.0.0.0 or [::] for every address)";
    return false;
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos) {
    *why = "port must be a number in 0..65535";
    return false;
  }
  uint32_t number = 0;
  std::from_chars(port.data(), port.data() + port.size(), number);
  if (number > 65535) {
    *why = "port must be a number in 0..65535";
    return false;
  }
  if (!IsListenHost(std::string(host))) {
    *why = "host must be an IP address or \"localhost\"";
    return false;
  }
  listener->set_host(std::string(host));
  listener->set_port(number);
  return true;
}

// A path named in the main file: relative ones are relative to the main file's directory, so
// that the daemon can start from anywhere.
std::string Beside(const std::string& main_path, const std::string& name) {
  const std::filesystem::path p(name);
  return p.is_absolute() ? name : (std::filesystem::path(main_path).parent_path() / p).string();
}

// Trailing whitespace is dropped: secret files are usually written by `echo` or an editor that
// ends them with a newline, which must not become part of the HMAC key.
bool ReadSecretFile(const std::string& path, std::string* secret, Problems* problems) {
  if (!ReadFile(path, secret, problems)) return false;
  const size_t end = secret->find_last_not_of(" \t\r\n\f\v");
  secret->resize(end == std::string::npos ? 0 : end + 1);
  if (secret->empty()) {
    problems->Add(path + ": JWT secret file is empty");
    return false;
  }
  return true;
}

Result<std::shared_ptr<const LoadedConfig>> Load(const std::string& main_path,
                                                 const Overrides& overrides) {
  auto loaded = std::make_shared<LoadedConfig>();
  loaded->main_path = main_path;
  Problems problems;

  TextFile main_file{main_path};
  TextFile sects_file;
  bool parsed = ParseTextFile(&main_file, &loaded->main, &problems);
  if (parsed) {
    // Resolved against the main file's directory so that the daemon can start from anywhere.
    const std::filesystem::path name(loaded->main.sects_file());
    if (name.empty()) {
      const Node root = main_file.Root(loaded->main);
      problems.At(main_path, root.Loc(Config::kSectsFileFieldNumber),
                  "sects_file must not be empty");
      parsed = false;
    } else {
      sects_file.path = Beside(main_path, name.string());
      loaded->sects_path = sects_file.path;
      parsed = ParseTextFile(&sects_file, &loaded->sects, &problems);
    }
  }

  // Overrides are checked even when a file is broken, so that one run reports everything.
  Listener listen;
  if (overrides.listen) {
    std::string why;
    if (!ParseListen(*overrides.listen, &listen, &why)) {
      problems.Add("--listen \"" + *overrides.listen + "\": " + why);
    }
  }
  if (overrides.data_dir && overrides.data_dir->empty()) {
    problems.Add("--data-dir: must not be empty");
  }
  std::string secret;
  ValueSources sources;
  if (overrides.jwt_secret_file) {
    if (ReadSecretFile(*overrides.jwt_secret_file, &secret, &problems)) {
      sources.jwt_secret_file = *overrides.jwt_secret_file;
    }
  } else if (parsed && !loaded->main.auth().jwt_secret_file().empty()) {
    const std::string path = Beside(main_path, loaded->main.auth().jwt_secret_file());
    if (ReadSecretFile(path, &secret, &problems)) sources.jwt_secret_file = path;
  }
  if (parsed) {
    for (const std::string& file : loaded->main.auth().jwt_extra_secret_files()) {
      const std::string path = Beside(main_path, file);
      std::string extra;
      if (ReadSecretFile(path, &extra, &problems)) {
        if (extra.size() < kMinJwtSecretBytes) {
          problems.Add(path + ": JWT secret is " + std::to_string(extra.size()) +
                       " bytes, needs at least " + std::to_string(kMinJwtSecretBytes));
        }
        loaded->jwt_extra_secrets.push_back(std::move(extra));
      }
    }
    for (const std::string& file : loaded->main.auth().jwt_public_key_files()) {
      std::string pem;
      if (ReadFile(Beside(main_path, file), &pem, &problems)) {
        loaded->jwt_public_keys.push_back(std::move(pem));
      }
    }
  }
  if (!parsed || !problems.empty()) return MakeError(ErrorCode::kBadRequest, problems.Joined());

  Config& main = loaded->main;
  if (overrides.listen) {
    main.clear_listeners();
    *main.add_listeners() = listen;
    sources.listen = true;
  }
  if (main.listeners_size() == 0) {
    Listener* listener = main.add_listeners();
    listener->set_host("127.0.0.1");
    listener->set_port(8080);
  }
  if (overrides.data_dir) main.mutable_store()->set_data_dir(*overrides.data_dir);
  if (!sources.jwt_secret_file.empty()) {
    // --jwt-secret-file turns auth on; the config's own file only supplies the secret.
    if (overrides.jwt_secret_file) main.mutable_auth()->set_enabled(true);
    main.mutable_auth()->set_jwt_secret(secret);
  }
  sources.jwt_public_keys = loaded->jwt_public_keys.size();

  Validate(main, main_file.Root(main), loaded->sects, sects_file.Root(loaded->sects), sources,
           &problems);
  if (!problems.empty()) return MakeError(ErrorCode::kBadRequest, problems.Joined());

  FillDefaults(&loaded->main);
  FillDefaults(&loaded->sects);
  return std::shared_ptr<const LoadedConfig>(std::move(loaded));
}

std::string OnOff(bool on) { return on ? "on" : "off"; }

}  // namespace

Result<std::shared_ptr<const LoadedConfig>> LoadConfig(const std::string& main_path,
                                                       const Overrides& overrides) {
  // Start-up code may throw (allocation, filesystem); callers get an Error either way.
  try {
    return Load(main_path, overrides);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, main_path + ": loading failed: " + e.what());
  }
}

Result<std::string> ReadJwtSecretFile(const std::string& path) {
  Problems problems;
  std::string secret;
  if (ReadSecretFile(path, &secret, &problems) && secret.size() < kMinJwtSecretBytes) {
    problems.Add(path + ": JWT secret is " + std::to_string(secret.size()) +
                 " bytes, needs at least " + std::to_string(kMinJwtSecretBytes));
  }
  if (!problems.empty()) return MakeError(ErrorCode::kBadRequest, problems.Joined());
  return secret;
}

std::string DescribeConfig(const LoadedConfig& config) {
  const Config& main = config.main;
  std::string out = "config: " + config.main_path + ", sects " + config.sects_path + "\n";

  out += "listeners:";
  for (const Listener& listener : main.listeners()) out += " " + HostPort(listener);
  out += "\n";

  const HttpConfig& http = main.http();
  out += "http: " + std::to_string(http.io_threads()) + " io threads, max " +
         std::to_string(http.max_connections()) +
         " connections, headers <= " + std::to_string(http.max_header_bytes()) +
         " B, body <= " + std::to_string(http.max_body_bytes()) + " B, idle timeout " +
         std::to_string(http.idle_timeout_ms()) + " ms\n";

  // Never the secret itself: this goes to the log.
  if (main.auth().enabled()) {
    const size_t secrets =
        (main.auth().jwt_secret().empty() ? 0 : 1) + config.jwt_extra_secrets.size();
    out += "auth: JWT, " + std::to_string(secrets) + " HS256 secret(s), " +
           std::to_string(config.jwt_public_keys.size()) + " RS256/ES256 public key(s), leeway " +
           std::to_string(main.auth().jwt_leeway_s()) + " s, cache " +
           std::to_string(main.auth().jwt_cache_entries()) + " tokens\n";
  } else {
    out += "auth: DEV MODE (X-User-Id trusted, every user is an admin; loopback only)\n";
  }

  const StoreConfig& store = main.store();
  out += "store: data dir " + store.data_dir() + ", sync_wal " + OnOff(store.sync_wal()) +
         ", retention " + std::to_string(store.retention_hours()) + " h, dedup window " +
         std::to_string(store.dedup_window_hours()) + " h, " +
         std::to_string(store.reader_threads()) + " reader threads, block cache " +
         std::to_string(store.block_cache_mb()) + " MB, memtables " +
         std::to_string(store.write_buffer_mb()) + " MB, WAL " +
         std::to_string(store.max_wal_mb()) + " MB\n";

  const RoomConfig& rooms = main.rooms();
  out += "rooms: window " + std::to_string(rooms.window_size()) + ", priority " +
         std::to_string(rooms.priority_size()) +
         ", message <= " + std::to_string(rooms.max_message_bytes()) +
         " B, held polls <= " + std::to_string(rooms.max_held_polls()) + " (" +
         std::to_string(rooms.max_held_polls_per_room()) +
         " per room), rooms <= " + std::to_string(rooms.max_rooms()) + ", send rate " +
         (rooms.send_rate_per_s() > 0 ? std::to_string(rooms.send_rate_per_s()) + "/s burst " +
                                            std::to_string(rooms.send_burst())
                                      : std::string("unlimited")) +
         "\n";

  out += "log level: " + main.log().level() + "\n";

  for (const Sect& sect : config.sects.sects()) {
    out += "sect " + sect.name() + ": " + (sect.vip() ? "VIP, " : "") +
           std::to_string(sect.threads()) + " threads, ";
    if (!sect.vip()) {
      out += "ranges";
      for (const HashRange& range : sect.ranges()) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, " [0x%llX, 0x%llX]",
                      static_cast<unsigned long long>(range.start()),
                      static_cast<unsigned long long>(range.end()));
        out += buffer;
      }
      out += ", ";
    }
    out += std::to_string(sect.rooms_size()) + " pinned rooms\n";
  }
  if (!out.empty()) out.pop_back();  // the caller logs lines, not a trailing blank one
  return out;
}

}  // namespace chatroomd::config
