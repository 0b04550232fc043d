/* SPDX-License-Identifier: GPL-2.0 */
/* Host shim: everything is in shim.h. */
#include "../shim.h"
