#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace regsweep {

// An error: a message in the house style (lower case, path in quotes) and, when it came
// from the system, the errno value.
struct Error {
  std::string message;
  int sys_errno = 0;

  // Why, without the path: the system's words for sys_errno, else the whole message. For
  // callers that name the path themselves, from the root of the tree.
  std::string reason() const { return sys_errno != 0 ? std::strerror(sys_errno) : message; }
};

// The outcome of an operation that can fail: a value or an Error. Never throws.
template <typename T>
class Result {
 public:
  Result(T value) : m_v(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : m_v(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(m_v); }
  const T& value() const { return std::get<0>(m_v); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(m_v); }

 private:
  std::variant<T, Error> m_v;
};

// Result of an operation that returns nothing on success.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() {
  return Unit{};
}

}  // namespace regsweep
