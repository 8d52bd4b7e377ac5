// tern/core/deadline.hpp: a deadline `d` after `t` that stops at the clock's
// end instead of overflowing, so that a timeout of milliseconds::max() or
// seconds::max() means "never" rather than undefined behaviour; a timeout of
// zero or less means `t` itself (now: do not wait).
#pragma once

#include <chrono>
#include <ratio>

namespace tern {

// `t` must not be before its clock's epoch (steady_clock's never is), and
// `d` in units at least as coarse as the clock's (milliseconds or seconds
// on steady_clock).
template <class Clock, class Dur, class Rep, class Period>
constexpr std::chrono::time_point<Clock, Dur> deadline_after(std::chrono::time_point<Clock, Dur> t,
                                                             std::chrono::duration<Rep, Period> d) {
  static_assert(std::ratio_greater_equal_v<Period, typename Dur::period>, "d: as coarse as the clock's unit");
  using point = std::chrono::time_point<Clock, Dur>;
  if (d <= d.zero()) return t;
  if (d >= std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(point::max() - t)) return point::max();
  return t + std::chrono::duration_cast<Dur>(d);
}

}  // namespace tern
