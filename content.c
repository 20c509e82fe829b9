// SPDX-License-Identifier: GPL-2.0
/*
 * Page content: the keyed hash that files pages in both indexes, and the
 * compare that confirms every match.
 *
 * The hash decides which pages ksmd compares, so content that a process
 * chooses must not be able to make many pages hash alike: each extra
 * candidate in a bucket costs a page compare (and, in the unstable index,
 * a page-table walk in another mm) under ksmd_mutex.  A fixed or merely
 * seeded function is not enough: if the construction lets a chosen word
 * cancel a lane (x * 0 == 0 whatever the seed), the seed protects
 * nothing.  So the hash is keyed throughout with secrets drawn at load
 * and never shown (not in sysfs, debugfs or tracepoints):
 *
 *  - NH (the inner hash of UMAC, Black et al., CRYPTO 1999) over the whole
 *    page with a 4 KiB random key k: the sum, over the page's pairs of
 *    w-bit words (m0, m1) at positions 2j and 2j + 1, of
 *    (m0 + k[2j]) * (m1 + k[2j + 1]), with additions mod 2^w and the
 *    products and their sum mod 2^2w.  For any two different pages fixed
 *    without knowledge of k, the two sums are equal with probability at
 *    most 2^-w.  Every factor carries a secret key word: to zero one, a
 *    process must guess w random bits.  w is 64 where the compiler has
 *    128-bit integers (one 64x64->128 multiply per 16 bytes: under TCG
 *    about 1.5 times the time of the unkeyed hash it replaces), else 32.
 *  - SipHash-2-4 (a keyed pseudo-random function) of that sum, truncated
 *    to 32 bits: different sums give independent-looking checksums, and
 *    the low bits of NH, which are weak, never reach a bucket index alone.
 *
 * Two different pages therefore share a checksum with probability at most
 * 2^-31, whatever their content.  A process sees no checksum; the only
 * trace of a collision is one extra compare in ksmd, too faint to learn
 * 4 KiB of key from.  What a process can still do is file a page and
 * change it (an unprotected page keeps its old checksum in the unstable
 * index): unstable_tree.c drops such a candidate the first time a lookup
 * finds it changed, so it costs one compare per full scan at most.
 */

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/siphash.h>

#include "ksm_mod.h"

#define KSM_NH_WORDS	(PAGE_SIZE / sizeof(u64))

/* Content hash of a zero-filled page; set at load. */
u32 ksm_zero_checksum __read_mostly;

/* The keys: drawn by ksm_content_init(), never exported. */
static u64 ksm_nh_key[KSM_NH_WORDS] __read_mostly __aligned(64);
static siphash_key_t ksm_sip_key __read_mostly;

#ifdef CONFIG_ARCH_SUPPORTS_INT128
/* NH over 64-bit words: one 64x64->128 bit multiply per 16 bytes. */
static u32 ksm_keyed_hash(const u64 *w)
{
	const u64 *k = ksm_nh_key;
	u128 s0 = 0, s1 = 0;
	unsigned int i;

	/* Two sums, so that the multiplies do not wait on each other. */
	for (i = 0; i < KSM_NH_WORDS; i += 4) {
		s0 += (u128)(w[i] + k[i]) * (w[i + 1] + k[i + 1]);
		s1 += (u128)(w[i + 2] + k[i + 2]) * (w[i + 3] + k[i + 3]);
	}
	s0 += s1;
	return (u32)siphash_2u64((u64)s0, (u64)(s0 >> 64), &ksm_sip_key);
}
#else
/* NH over 32-bit words: a word's two halves, each offset by its key. */
static inline u64 ksm_nh_term(u64 word, u64 key)
{
	u32 lo = (u32)word + (u32)key;
	u32 hi = (u32)(word >> 32) + (u32)(key >> 32);

	return (u64)lo * hi;
}

static u32 ksm_keyed_hash(const u64 *w)
{
	const u64 *k = ksm_nh_key;
	u64 s0 = 0, s1 = 0;
	unsigned int i;

	for (i = 0; i < KSM_NH_WORDS; i += 2) {
		s0 += ksm_nh_term(w[i], k[i]);
		s1 += ksm_nh_term(w[i + 1], k[i + 1]);
	}
	return (u32)siphash_1u64(s0 + s1, &ksm_sip_key);
}
#endif

/**
 * ksm_page_checksum - keyed hash of a page's content
 * @page: the page, referenced
 */
u32 ksm_page_checksum(struct page *page)
{
	const u64 *addr = kmap_local_page(page);
	u32 sum = ksm_keyed_hash(addr);

	kunmap_local(addr);
	return sum;
}

/*
 * Compare two pages' contents 64 bytes at a time, with one branch each:
 * a page ksmd compares is most often equal to the other (that is why it
 * is compared), and the kernel's memcmp() takes a branch every 8 bytes.
 * Under TCG, where every guest instruction counts, this is about three
 * times faster.
 */
static bool ksm_words_differ(const u64 *a, const u64 *b)
{
	unsigned int i;

	for (i = 0; i < KSM_NH_WORDS; i += 8)
		if ((a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) |
		    (a[i + 2] ^ b[i + 2]) | (a[i + 3] ^ b[i + 3]) |
		    (a[i + 4] ^ b[i + 4]) | (a[i + 5] ^ b[i + 5]) |
		    (a[i + 6] ^ b[i + 6]) | (a[i + 7] ^ b[i + 7]))
			return true;
	return false;
}

/**
 * ksm_pages_differ - whether two pages' contents differ
 * @page1: a page, referenced
 * @page2: another, referenced
 *
 * Where pages carry more than their bytes (arm64 MTE tags), the
 * architecture's memcmp_pages() decides.
 */
bool ksm_pages_differ(struct page *page1, struct page *page2)
{
	const u64 *a, *b;
	bool differ;

	if (IS_ENABLED(CONFIG_ARM64_MTE))
		return memcmp_pages(page1, page2);
	a = kmap_local_page(page1);
	b = kmap_local_page(page2);
	differ = ksm_words_differ(a, b);
	kunmap_local(b);
	kunmap_local(a);
	return differ;
}

/* Draw the keys, before any page is hashed. */
void ksm_content_init(void)
{
	get_random_bytes(ksm_nh_key, sizeof(ksm_nh_key));
	get_random_bytes(&ksm_sip_key, sizeof(ksm_sip_key));
	ksm_zero_checksum = ksm_page_checksum(ZERO_PAGE(0));
}
