// Base64url without padding (RFC 4648 section 5), as JWTs encode their parts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chatroomd::auth {

std::string Base64UrlEncode(std::string_view bytes);
// nullopt for any character outside the alphabet, padding, or an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace chatroomd::auth
