// libmosquitto 2.0 (Debian 12) for Swift.
#ifndef LANE_CMOSQUITTO_SHIM_H
#define LANE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
static const int lane_MOSQ_ERR_SUCCESS = MOSQ_ERR_SUCCESS;
static const int lane_MOSQ_ERR_NO_CONN = MOSQ_ERR_NO_CONN;
static const int lane_MOSQ_ERR_CONN_LOST = MOSQ_ERR_CONN_LOST;
#endif
