// libpq (PostgreSQL 15, Debian 12) for the collector's PostgreSQL store.
#ifndef LANE_CPOSTGRES_SHIM_H
#define LANE_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
