# SPDX-License-Identifier: GPL-2.0
#
# htable: build the module, run the demo and the checks. The work is done by
# scripts/; this file only names the entry points (see README.md).

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

TOP	:= $(CURDIR)
# The running kernel's build dir when it has one, else Debian's 6.1 headers.
KDIR	?= $(shell if [ -d /lib/modules/$$(uname -r)/build ]; then \
		echo /lib/modules/$$(uname -r)/build; \
	   else \
		ls -d /usr/src/linux-headers-6.1.*-amd64 2>/dev/null | sort -V | tail -n1; \
	   fi)

.PHONY: all module clean demo check vm-shell selftests bench profile htablectl install uninstall

all: module

module:
	$(MAKE) -C $(KDIR) M=$(TOP) modules

# The release KDIR's kernel reports in uname -r (Debian's kernel.release
# file says only 6.1.N): where install puts the module.
KREL	= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h)
INSTALL_MOD_DIR ?= extra

# Distribution headers name a signing key they do not ship: sign at install
# only when the key is there (an unsigned module loads, tainting with E).
SIGN	= $(if $(wildcard $(KDIR)/$(patsubst "%",%,$(CONFIG_MODULE_SIG_KEY))),,CONFIG_MODULE_SIG_ALL=)
CONFIG_MODULE_SIG_KEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY=//p' $(KDIR)/include/config/auto.conf)

# Into $(INSTALL_MOD_PATH)/lib/modules/<release>/extra, then depmod.
install: module
	$(MAKE) -C $(KDIR) M=$(TOP) INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) $(SIGN) modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KREL)

uninstall:
	rm -f $(foreach s,.ko .ko.xz .ko.gz .ko.zst,\
		$(INSTALL_MOD_PATH)/lib/modules/$(KREL)/$(INSTALL_MOD_DIR)/htable$(s))
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KREL)

htablectl:
	$(MAKE) -C tools/htablectl

selftests:
	$(MAKE) -C selftests/htable

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null || true
	$(MAKE) -C selftests/htable clean
	$(MAKE) -C tools/htablectl clean
	rm -rf .build

demo:
	scripts/demo.sh

check:
	scripts/check.sh

# BOOTS=3 boots three times and judges each target over the three.
bench:
	scripts/bench.sh --boots $(or $(BOOTS),1)

# A flame graph of one bench case: make profile CASE=map (or CASE="map 16 7")
# writes .build/profile/map.svg (Documentation/tracing.rst).
profile:
	scripts/profile.sh $(CASE)

# The fuzzer for 10^7 operations (about 10 min under TCG); not part of check.
.PHONY: soak
soak:
	scripts/soak.sh

vm-shell:
	scripts/vm.sh --shell

endif
