// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tamperwatch: the censorship detector's backend for kernels where the BPF
 * programs cannot run.  Load order: counters, flow and prefix tables,
 * netlink, hooks (so a hook never sees a half-made module); unload in
 * reverse, each step waiting for the users of the one before it.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "tw_kmod.h"

/* the daemon's flows.max default (include/tamperwatch/maps.h), so that a
 * default configuration is accepted; flows are allocated as they come, only
 * the bucket array (8 MiB at this size) is taken at load
 */
static unsigned int max_flows = TW_FLOWS_DEFAULT;
module_param(max_flows, uint, 0444);
#define TW_FLOWS_DEFAULT_STR __stringify(TW_FLOWS_DEFAULT)
MODULE_PARM_DESC(max_flows,
		 "Flow table size, the most flows.max may ask for (" TW_FLOWS_DEFAULT_STR ")");

static char *ifaces;
module_param(ifaces, charp, 0444);
MODULE_PARM_DESC(ifaces, "Interfaces watched from load on: eth0,eth1:forward");

static char *hook = "prepost";
module_param(hook, charp, 0444);
MODULE_PARM_DESC(hook, "Default hook for ifaces=: prepost or forward");

struct tw_counters __percpu *tw_stats;

static int __init tw_init(void)
{
	u8 def_hook;
	int rc;

	if (!strcmp(hook, "prepost")) {
		def_hook = TW_HOOK_PREPOST;
	} else if (!strcmp(hook, "forward")) {
		def_hook = TW_HOOK_FORWARD;
	} else {
		pr_err("tamperwatch: hook=%s: expected prepost or forward\n", hook);
		return -EINVAL;
	}
	if (max_flows < 1024 || max_flows > (1u << 24)) {
		pr_err("tamperwatch: max_flows=%u: expected 1024 to 16777216\n", max_flows);
		return -EINVAL;
	}
	tw_stats = alloc_percpu(struct tw_counters);
	if (!tw_stats)
		return -ENOMEM;
	rc = tw_flows_init(max_flows);
	if (rc)
		goto err_stats;
	rc = tw_pfx_init();
	if (rc)
		goto err_flows;
	rc = tw_genl_init();
	if (rc)
		goto err_pfx;
	rc = tw_hooks_init();
	if (rc)
		goto err_genl;
	if (ifaces) {
		rc = tw_iface_param(ifaces, def_hook);
		if (rc)
			goto err_hooks;
	}
	pr_info("tamperwatch: loaded (netlink API %d, %u flows)\n", TW_GENL_API_VERSION, max_flows);
	return 0;
err_hooks:
	tw_hooks_exit();
err_genl:
	tw_genl_exit();
err_pfx:
	tw_pfx_exit();
err_flows:
	tw_flows_exit();
err_stats:
	free_percpu(tw_stats);
	return rc;
}

static void __exit tw_exit(void)
{
	tw_hooks_exit(); /* no packet is handled after this */
	tw_genl_exit();	 /* no command or dump runs after this */
	tw_pfx_exit();
	tw_flows_exit();
	free_percpu(tw_stats);
	pr_info("tamperwatch: unloaded\n");
}

module_init(tw_init);
module_exit(tw_exit);
MODULE_LICENSE("Dual BSD/GPL");
MODULE_DESCRIPTION("tamperwatch: censorship and shutdown detector (netfilter backend)");
MODULE_VERSION("0.1.0");
