// SQLite 3 (Debian 12) for the collector. SQLITE_TRANSIENT is a cast macro Swift cannot import.
#ifndef LANE_CSQLITE_SHIM_H
#define LANE_CSQLITE_SHIM_H
#include <sqlite3.h>
static inline sqlite3_destructor_type lane_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
