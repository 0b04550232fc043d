// SPDX-License-Identifier: GPL-2.0
/*
 * htable_steal(): take tables back from hats when allocation fails.
 *
 * This is the seed's first pass: free tables sitting in other hats'
 * caches. Victims rotate: a hat that gave tables moves to the tail of the
 * hat list, so the next steal starts with another hat (the seed's spread of
 * "the pain of stealing").
 */
#include <linux/list.h>
#include <linux/spinlock.h>

#include <htable/htable.h>

/**
 * htable_steal() - take up to @cnt free tables from hats' caches
 * @cnt:	how many are wanted
 *
 * Cached tables are empty and zeroed, linked nowhere, so no CPU can hold a
 * translation through them and no shootdown is needed. Hats being freed
 * are skipped.
 *
 * Context: any; takes htable_hat_list_lock and the hats' cache locks.
 * Return: a list of tables linked through ht_next (ht_hat cleared), or NULL.
 */
struct htable *htable_steal(unsigned int cnt)
{
	struct htable *list = NULL, *ht;
	struct hat *hat, *victim = NULL;
	unsigned int stolen = 0;

	spin_lock(&htable_hat_list_lock);
	list_for_each_entry(hat, &htable_hat_list, hat_list) {
		if (stolen == cnt)
			break;
		if (hat->hat_flags & (HAT_FREEING | HAT_VICTIM))
			continue;
		spin_lock(&hat->hat_cache_lock);
		while (stolen < cnt && (ht = hat->hat_ht_cached) != NULL) {
			hat->hat_ht_cached = ht->ht_next;
			ht->ht_hat = NULL;
			ht->ht_next = list;
			list = ht;
			stolen++;
			victim = hat;
		}
		spin_unlock(&hat->hat_cache_lock);
	}
	if (victim)
		list_move_tail(&victim->hat_list, &htable_hat_list);
	spin_unlock(&htable_hat_list_lock);
	return list;
}
