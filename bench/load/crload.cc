// crload: long-poll load generator for chatroomd (and the floor server) and Nchan.
// See bench/load/README.md.
#include <cstdio>

#include "coordinator.h"
#include "net.h"
#include "options.h"

int main(int argc, char** argv) {
  crload::Options opts;
  if (!crload::ParseOptions(argc, argv, opts)) return 1;
  uint64_t files = crload::RaiseFileLimit();
  uint64_t per_worker = (opts.pollers + opts.workers - 1) / opts.workers;
  if (files < per_worker + 64) {
    std::fprintf(
        stderr, "crload: the open-file limit %llu is too low for %llu sockets per worker\n",
        static_cast<unsigned long long>(files), static_cast<unsigned long long>(per_worker));
    return 2;
  }
  crload::Coordinator coordinator(opts);
  return coordinator.Run();
}
