/*-------------------------------------------------------------------------
 *
 * token_bucket.h
 *		Token buckets in shared memory, and a keyed table of them.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_TOKEN_BUCKET_H
#define GRD_TOKEN_BUCKET_H

#include "port/atomics.h"
#include "storage/s_lock.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "shmem.h"

/*
 * A token bucket in shared memory: up to "burst" tokens, refilled at
 * "rate" per second; taking one admits one event.  The rate and burst are
 * passed by each caller (they come from settings or rules that change),
 * the bucket keeps only its level.
 */
typedef struct GrdTokenBucket
{
	slock_t		mutex;			/* protects the two fields below */
	double		tokens;
	TimestampTz refilled_at;	/* 0: never used, start full */
} GrdTokenBucket;

extern void grd_bucket_init(GrdTokenBucket *bucket);
extern bool grd_bucket_take(GrdTokenBucket *bucket, double rate, double burst,
							TimestampTz now);
extern void grd_bucket_give_back(GrdTokenBucket *bucket, double burst);

/*
 * The table's part of each entry of a GrdBucketTable.  An entry is the
 * owner's structure: its key first (the shared hash table wants it
 * there), this somewhere after it, then the owner's own counters.
 */
typedef struct GrdBucketEntry
{
	GrdTokenBucket bucket;
	uint64		version;		/* what the key stands for now; changed
								 * only with the table's lock exclusive */
	pg_atomic_uint64 last_used; /* TimestampTz: the last lookup (or the
								 * creation); the recycling order */
} GrdBucketEntry;

/*
 * A keyed table of token buckets in shared memory, with room for
 * "capacity" entries and one LWLock of its own.  The owner fills in the
 * first members (a static variable of its file) and calls the functions
 * below; the table finds, creates and recycles entries.
 */
typedef struct GrdBucketTable
{
	const char *name;			/* of the shared hash table */
	GrdLockId	lock;			/* protects which entries exist */
	Size		keysize;
	Size		entrysize;
	Size		entry_offset;	/* of the GrdBucketEntry in an entry */

	/*
	 * Whether an entry may be recycled to make room (no execution holds
	 * it, its limit is gone...); called with the lock held exclusive.
	 */
	bool		(*recyclable) (void *entry);

	/*
	 * Reset the owner's counters of an entry that was just created
	 * (created) or whose version changed; called with the lock held
	 * exclusive, after the table reset the bucket.
	 */
	void		(*reset) (void *entry, bool created);

	/* set by grd_bucket_table_attach() */
	int			capacity;
	HTAB	   *hash;
} GrdBucketTable;

/*
 * The first members of a GrdBucketTable whose entries are of type Entry:
 * a structure whose first member is "key" and which has a GrdBucketEntry
 * "common".
 */
#define GRD_BUCKET_TABLE(shmem_name, lock_id, Entry, recyclable_fn, reset_fn) \
	{ \
		.name = (shmem_name), \
		.lock = (lock_id), \
		.keysize = sizeof(((Entry *) NULL)->key), \
		.entrysize = sizeof(Entry), \
		.entry_offset = offsetof(Entry, common), \
		.recyclable = (recyclable_fn), \
		.reset = (reset_fn), \
	}

/*
 * Called by grd_bucket_table_copy() for each entry, with the table's lock
 * held shared: copy what a report needs into dst, and return whether to
 * keep it.  It must not fail.
 */
typedef bool (*GrdBucketTableCopy) (void *entry, void *dst);

extern Size grd_bucket_table_shmem_size(const GrdBucketTable *table,
										int capacity);
extern void grd_bucket_table_attach(GrdBucketTable *table, int capacity);
extern void *grd_bucket_table_acquire(GrdBucketTable *table, const void *key,
									  uint64 version, TimestampTz now);
extern void grd_bucket_table_release(GrdBucketTable *table);
extern void *grd_bucket_table_copy(GrdBucketTable *table,
								   GrdBucketTableCopy copy, Size elemsize,
								   int *n);

/* The table's part of an entry of the given table. */
static inline GrdBucketEntry *
grd_bucket_entry(const GrdBucketTable *table, void *entry)
{
	return (GrdBucketEntry *) ((char *) entry + table->entry_offset);
}

#endif							/* GRD_TOKEN_BUCKET_H */
