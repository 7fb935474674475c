// Private to the front end: open connections per client address (http.max_connections_per_ip).
// Taken when a connection is accepted (on the accepting loop), given back when it closes (on its
// own loop): any thread, under one lock held for a hash-map step.
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace chatroomd::http {

class AddressLimit {
 public:
  using Key = std::array<uint8_t, 16>;  // the address as IPv6 (IPv4 mapped)
  explicit AddressLimit(uint32_t max_per_address) : max_(max_per_address) {}

  static Key KeyOf(const boost::asio::ip::address& address);
  // One more connection from `key`; false when it already has the maximum.
  bool TryTake(const Key& key);
  void Give(const Key& key);
  size_t addresses();

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  const uint32_t max_;
  std::mutex mu_;
  std::unordered_map<Key, uint32_t, KeyHash> open_;
};

// A connection's share of its address's count, given back when the connection goes.
struct AddressSlot {
  AddressSlot(AddressLimit& l, const AddressLimit::Key& k) : limit(l), key(k) {}
  ~AddressSlot() { limit.Give(key); }
  AddressSlot(const AddressSlot&) = delete;
  AddressSlot& operator=(const AddressSlot&) = delete;
  AddressLimit& limit;
  AddressLimit::Key key;
};

}  // namespace chatroomd::http
