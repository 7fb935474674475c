#include "http/address_limit.h"

#include <xxhash.h>

namespace chatroomd::http {

AddressLimit::Key AddressLimit::KeyOf(const boost::asio::ip::address& address) {
  if (address.is_v4()) {
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
  }
  return address.to_v6().to_bytes();
}

size_t AddressLimit::KeyHash::operator()(const Key& k) const {
  return XXH3_64bits(k.data(), k.size());
}

bool AddressLimit::TryTake(const Key& key) {
  std::lock_guard lock(mu_);
  uint32_t& n = open_[key];
  if (n >= max_) return false;
  ++n;
  return true;
}

void AddressLimit::Give(const Key& key) {
  std::lock_guard lock(mu_);
  auto it = open_.find(key);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);
}

size_t AddressLimit::addresses() {
  std::lock_guard lock(mu_);
  return open_.size();
}

}  // namespace chatroomd::http
