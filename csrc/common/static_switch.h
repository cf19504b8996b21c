// Run-time choices turned into compile-time ones (flash-attention's BOOL_SWITCH, as functions):
//   bool_switch(one_by_one, [&](auto kOneByOne) { return launch<T, kOneByOne>(...); });
// calls the lambda with std::true_type or std::false_type, so that decltype(kOneByOne)::value
// (or the object itself, which converts to bool in a constant expression) selects a template.
// Both branches are instantiated; both must return the same type. Torch-free.
#pragma once
#include <type_traits>
#include <utility>

namespace cnnops {

template <typename F>
decltype(auto) bool_switch(bool cond, F&& f) {
  if (cond) return std::forward<F>(f)(std::true_type{});
  return std::forward<F>(f)(std::false_type{});
}

}  // namespace cnnops
