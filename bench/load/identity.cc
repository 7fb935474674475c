#include "identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace crload {
namespace {

std::string B64Url(const unsigned char* data, size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == size) {
    const unsigned v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == size) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string B64Url(const std::string& s) {
  return B64Url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

}  // namespace

bool Identity::FromFile(const std::string& path, Identity& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "crload: cannot read %s\n", path.c_str());
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) {
    secret.pop_back();
  }
  if (secret.empty()) {
    std::fprintf(stderr, "crload: %s is empty\n", path.c_str());
    return false;
  }
  out = Identity(std::move(secret));
  return true;
}

std::string Identity::Headers(const std::string& user, bool admin) const {
  std::string lines = "X-User-Id: " + user + "\r\n";
  if (secret_.empty()) return lines;
  // Valid for longer than any run (--duration-s is capped by the run itself).
  const long long exp = static_cast<long long>(std::time(nullptr)) + 6 * 3600;
  const std::string claims =
      "{\"sub\":\"" + user + "\",\"exp\":" + std::to_string(exp) + (admin ? ",\"adm\":true}" : "}");
  const std::string input =
      B64Url(std::string(R"({"alg":"HS256","typ":"JWT"})")) + "." + B64Url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return lines + "Authorization: Bearer " + input + "." + B64Url(mac, len) + "\r\n";
}

}  // namespace crload
