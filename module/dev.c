// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/htable: the character device. Each open is one address space (a hat);
 * every ioctl argument is copied in, validated here and only then handed to
 * the core.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <asm/pgtable.h>

#include <uapi/htable.h>
#include <htable/module.h>

static int htable_open(struct inode *inode, struct file *file)
{
	HATSTAT_INC(hs_hats_created);
	return 0;
}

static int htable_release_file(struct inode *inode, struct file *file)
{
	HATSTAT_INC(hs_hats_destroyed);
	return 0;
}

static long htable_ioc_version(void __user *uarg)
{
	struct htable_version v = {
		.major = HTABLE_ABI_MAJOR,
		.minor = HTABLE_ABI_MINOR,
		.levels = pgtable_l5_enabled() ? 5 : 4,
		.page_shift = PAGE_SHIFT,
	};

	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long htable_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case HTABLE_IOC_VERSION:
		return htable_ioc_version(uarg);
	default:
		htable_bad_input("unknown ioctl %#x", cmd);
		return -ENOTTY;
	}
}

static const struct file_operations htable_fops = {
	.owner		= THIS_MODULE,
	.open		= htable_open,
	.release	= htable_release_file,
	.unlocked_ioctl	= htable_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice htable_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "htable",
	.fops	= &htable_fops,
	.mode	= 0600,
};

int htable_dev_init(void)
{
	return misc_register(&htable_miscdev);
}

void htable_dev_exit(void)
{
	misc_deregister(&htable_miscdev);
}
