// SPDX-License-Identifier: GPL-2.0
/*
 * The one place htable's tracepoints are created; include/htable/trace.h
 * defines them and Documentation/tracing.rst describes them.
 */
#define CREATE_TRACE_POINTS
#include <htable/trace.h>
