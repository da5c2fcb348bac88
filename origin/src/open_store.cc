#include "surge/origin/open_store.h"

#include "surge/origin/postgres_booking_store.h"
#include "surge/origin/postgres_connection.h"
#include "surge/origin/sqlite_booking_store.h"

namespace surge::origin {

base::Result<BookingStorePtr, std::string> openBookingStore(const std::string& spec) {
  if (isPostgresConnectionString(spec)) {
    auto pg = PostgresBookingStore::open(spec);
    if (!pg) return base::fail(pg.error());
    return BookingStorePtr(std::move(pg.value()));
  }
  auto lite = SqliteBookingStore::open(spec);
  if (!lite) return base::fail(lite.error());
  return BookingStorePtr(std::move(lite.value()));
}

}  // namespace surge::origin
