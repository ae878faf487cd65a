// libxml2 (Debian 12) for the OCR input's XML messages: its tree API directly (FoundationXML's
// XMLParser crashed on a malformed message the fuzzer found).
#ifndef LANE_CLIBXML2_SHIM_H
#define LANE_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
// Debian's libxml2 is built with ICU, whose headers clash with Foundation's own ICU module in
// Swift. Only the encoding handler's private converter fields depend on it; nothing here touches
// that structure (only pointers to documents and nodes), so ICU is left out of the headers.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
/// xmlFree is a global function pointer, which Swift 6 cannot call safely.
static inline void lane_xml_free(void *p) { xmlFree(p); }
#endif
