// Socket helpers: non-blocking loopback TCP connects from a chosen source address, full writes
// and the parent<->worker control channel framing.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace crload {

// 127.0.0.0/8 only: crload never sends anywhere else.
bool ParseLoopbackHost(const std::string& host, in_addr& out);

// Source address number i: 127.0.0.2 + i (stays inside 127.0.0.0/8).
in_addr SourceAddress(uint32_t i);

// A non-blocking TCP socket bound to src (port chosen at connect time, so one source address
// serves many destinations) and connecting to dst. Returns the fd (connect may be in progress)
// or -1 with errno set.
int StartConnect(const in_addr* src, const sockaddr_in& dst);

// Writes all of data to a non-blocking socket that is expected to have room (small requests on
// an idle keep-alive connection). False on error or a short write.
bool WriteAll(int fd, std::string_view data);

// Control channel: [uint32 type][uint32 length][payload], blocking fds.
bool SendFrame(int fd, uint32_t type, const void* data, uint32_t len);
bool ReadFrame(int fd, uint32_t& type, std::string& payload);

// Raises RLIMIT_NOFILE's soft limit to the hard one; returns the new soft limit.
uint64_t RaiseFileLimit();

}  // namespace crload
