// libmosquitto 2.0 (Debian 12) for Swift.
#ifndef LANE_CMOSQUITTO_SHIM_H
#define LANE_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
static const int lane_MOSQ_ERR_SUCCESS = MOSQ_ERR_SUCCESS;
static const int lane_MOSQ_ERR_NO_CONN = MOSQ_ERR_NO_CONN;
static const int lane_MOSQ_ERR_CONN_LOST = MOSQ_ERR_CONN_LOST;
static const int lane_MOSQ_LOG_ERR = MOSQ_LOG_ERR;
static const int lane_MOSQ_LOG_WARNING = MOSQ_LOG_WARNING;
#endif
