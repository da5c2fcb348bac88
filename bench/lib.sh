# Sourced by the bench scripts (after they cd to the checkout): what they share.

# Catalogs the benchmarks generate start here: far enough ahead that no slot has begun (origin
# refuses those with 409 slot_past), and fixed, so a run books the same dates on any day.
# bench/booking.lua and build/bench/booking-load book December of this year.
BENCH_FIRST_DATE=2099-12-01
