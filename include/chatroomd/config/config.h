// Loading and validating the configuration (schema: proto/chatroomd/config.proto).
//
// The main file and the sects file it names are protobuf text format. Every problem is
// reported as `file:line:col: message` (1-based line and column): syntax errors, unknown
// fields, and values out of their documented range (reported at the offending field).
// A loaded config is immutable; a reload builds a new one and swaps it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chatroomd/common/error.h"
#include "proto/chatroomd/config.pb.h"

namespace chatroomd::config {

// Command-line overrides (docs/api.md, "Command line").
struct Overrides {
  // "HOST:PORT" ("[v6]:PORT" for IPv6); replaces every configured listener. Port 0 = any.
  std::optional<std::string> listen;
  std::optional<std::string> data_dir;
  // Turns JWT auth on with the secret read from this file.
  std::optional<std::string> jwt_secret_file;
};

struct LoadedConfig {
  Config main;  // every field filled in (defaults applied), overrides applied
  Sects sects;  // validated: ranges of the non-VIP sects cover the hash space exactly once
  std::string main_path;
  std::string sects_path;
  // The contents of auth.jwt_extra_secret_files and auth.jwt_public_key_files, in order
  // (auth.jwt_secret holds the main secret, read from its file if it has one).
  std::vector<std::string> jwt_extra_secrets;
  std::vector<std::string> jwt_public_keys;
};

// Reads, parses, applies overrides, validates. On failure the Error (kBadRequest) message
// holds one `file:line:col: message` line per problem, newline-separated.
Result<std::shared_ptr<const LoadedConfig>> LoadConfig(const std::string& main_path,
                                                       const Overrides& overrides);

// The secret in a JWT secret file (trailing whitespace dropped); an error when it cannot be
// read, is empty or is shorter than 16 bytes.
Result<std::string> ReadJwtSecretFile(const std::string& path);

// A few lines describing the effective config, for the start-up log.
std::string DescribeConfig(const LoadedConfig& config);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

}  // namespace chatroomd::config
