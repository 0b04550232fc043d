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

.PHONY: all module clean demo check vm-shell selftests

all: module

module:
	$(MAKE) -C $(KDIR) M=$(TOP) modules

selftests:
	$(MAKE) -C selftests/htable

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null || true
	$(MAKE) -C selftests/htable clean
	rm -rf .build

demo:
	scripts/demo.sh

check:
	scripts/check.sh

# The fuzzer for 10^7 operations (about 20 min under TCG); not part of check.
.PHONY: soak
soak:
	scripts/soak.sh

vm-shell:
	scripts/vm.sh --shell

endif
