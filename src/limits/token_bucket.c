/*-------------------------------------------------------------------------
 *
 * token_bucket.c
 *		Token buckets in shared memory, and the one keyed table of them
 *		that every rate limit keeps its buckets in.
 *
 * A token bucket admits events at a rate, with bursts: the limits on new
 * connections (connection_limits.c) and the limits per query digest
 * (digest_limits.c) are both made of them.  Each feature keeps its
 * buckets in a GrdBucketTable: a shared hash table of a fixed capacity,
 * keyed as the feature wants, whose entries carry a bucket and whatever
 * counters the feature adds.  When the table is full, the least recently
 * used entry that the feature says may go is recycled for a new key.
 *
 * An entry also has a version, which tells what its key stands for: the
 * rule of a digest that was replaced by another keeps its key but starts
 * over, bucket and counters.
 *
 * Locking: a bucket's level is protected by its own spinlock, held for a
 * few arithmetic operations.  Each table has an LWLock of its own, which
 * protects which entries exist: taken shared to find an entry (and held
 * by the caller while it updates it, so that it cannot be recycled
 * meanwhile), exclusive to create, reset or recycle one.  Counters are
 * atomics.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "compat.h"
#include "token_bucket.h"

/* ----------------------------------------------------------------
 *		Token buckets
 * ----------------------------------------------------------------
 */

/*
 * Set up a bucket in shared memory; it starts full at its first use.
 */
void
grd_bucket_init(GrdTokenBucket *bucket)
{
	SpinLockInit(&bucket->mutex);
	bucket->tokens = 0;
	bucket->refilled_at = 0;
}

/*
 * Refill the bucket for the time elapsed, then take a token if there is
 * one.  A new bucket starts full.
 */
bool
grd_bucket_take(GrdTokenBucket *bucket, double rate, double burst,
				TimestampTz now)
{
	bool		taken;

	SpinLockAcquire(&bucket->mutex);
	if (bucket->refilled_at == 0)
		bucket->tokens = burst;
	else if (now > bucket->refilled_at)
		bucket->tokens += (now - bucket->refilled_at) / 1e6 * rate;
	if (bucket->tokens > burst)
		bucket->tokens = burst;
	if (now > bucket->refilled_at)
		bucket->refilled_at = now;
	taken = bucket->tokens >= 1.0;
	if (taken)
		bucket->tokens -= 1.0;
	SpinLockRelease(&bucket->mutex);
	return taken;
}

/* Return a token taken for an event that another limit then refused. */
void
grd_bucket_give_back(GrdTokenBucket *bucket, double burst)
{
	SpinLockAcquire(&bucket->mutex);
	bucket->tokens = Min(bucket->tokens + 1.0, burst);
	SpinLockRelease(&bucket->mutex);
}

/* ----------------------------------------------------------------
 *		The keyed table of buckets
 * ----------------------------------------------------------------
 */

/* Bytes of the shared hash table of a table with room for capacity. */
Size
grd_bucket_table_shmem_size(const GrdBucketTable *table, int capacity)
{
	return hash_estimate_size(capacity, table->entrysize);
}

/*
 * Create (or, in an EXEC_BACKEND child, attach to) the table's shared
 * hash table; in shmem_startup, with AddinShmemInitLock held.
 */
void
grd_bucket_table_attach(GrdBucketTable *table, int capacity)
{
	HASHCTL		info;

	info.keysize = table->keysize;
	info.entrysize = table->entrysize;
	table->capacity = capacity;
	table->hash = grd_ShmemInitHash(table->name, capacity, &info,
									HASH_ELEM | HASH_BLOBS);
}

/*
 * Make room for one more entry: remove the least recently used one that
 * the owner says may be recycled.  Returns false if none may.  Called
 * with the table's lock held exclusive.
 */
static bool
bucket_table_recycle(GrdBucketTable *table)
{
	HASH_SEQ_STATUS seq;
	void	   *entry;
	void	   *victim = NULL;
	uint64		victim_used = 0;

	hash_seq_init(&seq, table->hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		uint64		used;

		if (!table->recyclable(entry))
			continue;
		used = pg_atomic_read_u64(&grd_bucket_entry(table, entry)->last_used);
		if (victim == NULL || used < victim_used)
		{
			victim = entry;
			victim_used = used;
		}
	}
	if (victim == NULL)
		return false;
	hash_search(table->hash, victim, HASH_REMOVE, NULL);
	return true;
}

/*
 * The entry of a key, at the given version, created (or reset, if its
 * version differs) if need be; its last use is set to now.  Returned with
 * the table's lock held shared, so that it cannot be recycled while the
 * caller updates it: the caller ends with grd_bucket_table_release().
 * NULL, with the lock not held, if the table is full of entries that may
 * not be recycled.
 *
 * The common case, an entry that exists at this version, takes the lock
 * shared once and probes the hash table once.
 */
void *
grd_bucket_table_acquire(GrdBucketTable *table, const void *key,
						 uint64 version, TimestampTz now)
{
	LWLock	   *lock = grd_lock(table->lock);
	void	   *entry;
	GrdBucketEntry *common;
	bool		found;

	LWLockAcquire(lock, LW_SHARED);
	entry = hash_search(table->hash, key, HASH_FIND, NULL);
	if (entry != NULL &&
		(common = grd_bucket_entry(table, entry))->version == version)
	{
		pg_atomic_write_u64(&common->last_used, (uint64) now);
		return entry;
	}
	LWLockRelease(lock);

	LWLockAcquire(lock, LW_EXCLUSIVE);
	entry = hash_search(table->hash, key, HASH_FIND, NULL);
	if (entry == NULL &&
		(hash_get_num_entries(table->hash) < table->capacity ||
		 bucket_table_recycle(table)))
	{
		entry = hash_search(table->hash, key, HASH_ENTER_NULL, &found);
		if (entry != NULL && !found)
		{
			common = grd_bucket_entry(table, entry);
			grd_bucket_init(&common->bucket);
			common->version = version;
			pg_atomic_init_u64(&common->last_used, (uint64) now);
			table->reset(entry, true);
		}
	}
	else if (entry != NULL &&
			 (common = grd_bucket_entry(table, entry))->version != version)
	{
		/* the key stands for something new: bucket and counters start over */
		common->bucket.refilled_at = 0;
		common->version = version;
		table->reset(entry, false);
	}
	LWLockRelease(lock);
	if (entry == NULL)
		return NULL;

	/* look it up again with the lock held shared, as on the fast path */
	LWLockAcquire(lock, LW_SHARED);
	entry = hash_search(table->hash, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LWLockRelease(lock);
		return NULL;
	}
	pg_atomic_write_u64(&grd_bucket_entry(table, entry)->last_used,
						(uint64) now);
	return entry;
}

/* Release the lock that grd_bucket_table_acquire() returned held. */
void
grd_bucket_table_release(GrdBucketTable *table)
{
	LWLockRelease(grd_lock(table->lock));
}

/*
 * Copy every entry with copy() into an array of elemsize-byte elements and
 * return it, with the number of elements kept in *n.  For reports: the
 * array is allocated before the lock is taken, and the caller builds its
 * rows from the copies with no lock held, so that an error while it does
 * (out of memory, a temporary file that cannot be written) never finds
 * this backend holding the table's lock.
 */
void *
grd_bucket_table_copy(GrdBucketTable *table, GrdBucketTableCopy copy,
					  Size elemsize, int *n)
{
	LWLock	   *lock = grd_lock(table->lock);
	HASH_SEQ_STATUS seq;
	void	   *entry;
	char	   *copies;
	int			kept = 0;

	/* acquire never lets the table grow past its capacity */
	copies = palloc_array(char, mul_size(elemsize, table->capacity + 1));
	LWLockAcquire(lock, LW_SHARED);
	hash_seq_init(&seq, table->hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (kept <= table->capacity &&
			copy(entry, copies + (Size) kept * elemsize))
			kept++;
	}
	LWLockRelease(lock);
	*n = kept;
	return copies;
}
