// libgpiod 1.6 (Debian 12, the legacy API). Debian 13 ships 2.x: keep every call in LaneHAL/GPIOD.swift.
#ifndef LANE_CGPIOD_SHIM_H
#define LANE_CGPIOD_SHIM_H
#include <gpiod.h>
static const int lane_GPIOD_LINE_EVENT_RISING_EDGE = GPIOD_LINE_EVENT_RISING_EDGE;
static const int lane_GPIOD_LINE_EVENT_FALLING_EDGE = GPIOD_LINE_EVENT_FALLING_EDGE;
#endif
