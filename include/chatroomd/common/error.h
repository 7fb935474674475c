// Errors as values: the API's error model (docs/api.md) as an enum, and a small Result<T>.
// One place (ErrorHttpStatus / ErrorCodeName) maps an error to its HTTP status and code.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace chatroomd {

enum class ErrorCode {
  kBadRequest,
  kBadCursor,
  kUnauthorized,
  kForbidden,
  kMuted,
  kNotJoined,
  kKicked,
  kRoomNotFound,
  kNotFound,
  kMethodNotAllowed,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kRateLimited,
  kOverloaded,
  kInternal,
};

// The API's code string, e.g. "bad_cursor".
std::string_view ErrorCodeName(ErrorCode code);
// The HTTP status that goes with the code, e.g. 400.
int ErrorHttpStatus(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Seconds for Retry-After (rate_limited, overloaded); 0 = none.
  int retry_after_s = 0;
};

inline Error MakeError(ErrorCode code, std::string message, int retry_after_s = 0) {
  return Error{code, std::move(message), retry_after_s};
}

// A value or an Error. Cheap to move; no exceptions.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& take_error() {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Result for operations with no value.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace chatroomd
