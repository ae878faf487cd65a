// libmodbus 3.1 for Swift. The error numbers are macros built from other macros
// (MODBUS_ENOBASE + ...), which Swift does not import: re-export them as constants.
#ifndef LANE_CMODBUS_SHIM_H
#define LANE_CMODBUS_SHIM_H
#include <modbus/modbus.h>
#include <modbus/modbus-rtu.h>
#include <modbus/modbus-tcp.h>

static const int lane_EMBXILFUN = EMBXILFUN;
static const int lane_EMBXILADD = EMBXILADD;
static const int lane_EMBXILVAL = EMBXILVAL;
static const int lane_EMBXSFAIL = EMBXSFAIL;
static const int lane_EMBXSBUSY = EMBXSBUSY;
static const int lane_EMBXGTAR = EMBXGTAR;
static const int lane_EMBBADCRC = EMBBADCRC;
static const int lane_EMBBADDATA = EMBBADDATA;
static const int lane_EMBBADEXC = EMBBADEXC;
static const int lane_EMBUNKEXC = EMBUNKEXC;
static const int lane_EMBMDATA = EMBMDATA;
static const int lane_EMBBADSLAVE = EMBBADSLAVE;
static const int lane_MODBUS_ENOBASE = MODBUS_ENOBASE;
static const int lane_MODBUS_TCP_DEFAULT_PORT = MODBUS_TCP_DEFAULT_PORT;

// The mapping struct's arrays, reachable without pointer arithmetic in Swift.
static inline uint16_t *lane_mapping_input_registers(modbus_mapping_t *m) { return m->tab_input_registers; }
static inline uint16_t *lane_mapping_registers(modbus_mapping_t *m) { return m->tab_registers; }
#endif
