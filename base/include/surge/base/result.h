// Result<T, E>: a value or an error, for code paths that must not throw (the request path, peers
// and the network). A small stand-in for C++23 std::expected, which C++20 lacks.
#pragma once

#include <utility>
#include <variant>

namespace surge::base {

template <typename E>
struct Failure {
  E error;
};

// fail(e) converts to any Result<T, E> holding the error e.
template <typename E>
Failure<E> fail(E error) {
  return Failure<E>{std::move(error)};
}

template <typename T, typename E>
class Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Failure<E> failure)                                             // NOLINT: implicit
      : state_(std::in_place_index<1>, std::move(failure.error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Prereq: ok().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }
  T& operator*() & { return std::get<0>(state_); }
  const T& operator*() const& { return std::get<0>(state_); }

  // Prereq: !ok().
  const E& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

// For operations that return nothing on success.
struct Done {};

}  // namespace surge::base
