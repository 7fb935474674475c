// RocksDB's Status stops here: the store's callers only ever see chatroomd Errors.
#pragma once

#include <rocksdb/status.h>

#include <string>
#include <string_view>

#include "chatroomd/common/error.h"

namespace chatroomd::store {

inline Error StoreError(std::string_view what, const rocksdb::Status& status) {
  std::string message = "store: ";
  message.append(what);
  message.append(": ");
  message.append(status.ToString());
  return MakeError(ErrorCode::kInternal, std::move(message));
}

inline Error CorruptError(std::string_view what) {
  return MakeError(ErrorCode::kInternal, "store: corrupt " + std::string(what));
}

}  // namespace chatroomd::store
