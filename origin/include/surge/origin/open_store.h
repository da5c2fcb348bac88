// Opens the booking store an origin's --store names: a PostgreSQL connection string
// (postgresql://..., or key=value with host= or dbname=) or else the path of a SQLite file.
#pragma once

#include <string>

#include "surge/origin/booking_store.h"

namespace surge::origin {

base::Result<BookingStorePtr, std::string> openBookingStore(const std::string& spec);

}  // namespace surge::origin
