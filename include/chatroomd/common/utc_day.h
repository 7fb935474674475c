// UTC calendar days as the API writes them (YYYY-MM-DD) and as counters are keyed (days since
// the Unix epoch).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatroomd {

// "2026-11-23" -> days since 1970-01-01; nullopt unless the text is exactly YYYY-MM-DD, a real
// date, from 1970-01-01 to 9999-12-31.
std::optional<uint32_t> ParseUtcDay(std::string_view text);
// Days since 1970-01-01 -> "YYYY-MM-DD".
std::string FormatUtcDay(uint32_t day);

}  // namespace chatroomd
