// The PostgreSQL store's schema, as numbered migrations. `surgectl store migrate` applies the
// ones a database lacks, each in its own transaction under an advisory lock (two operators
// migrating at once wait for each other; a migration that fails changes nothing), and records
// them in surge_schema. Running it again does nothing. surge-origin only checks the version: it
// refuses a database that is behind (or ahead of) the schema it was built for.
#pragma once

#include <string>

#include "surge/base/result.h"
#include "surge/origin/postgres_connection.h"

namespace surge::origin {

// The schema this build reads and writes.
int postgresSchemaVersion();

// The version the database is at (0: no schema yet).
base::Result<int, std::string> storedSchemaVersion(PostgresConnection& db);

struct MigrationReport {
  int from = 0;
  int to = 0;
};
base::Result<MigrationReport, std::string> migratePostgresSchema(PostgresConnection& db);

}  // namespace surge::origin
