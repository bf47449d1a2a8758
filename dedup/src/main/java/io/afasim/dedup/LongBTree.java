package io.afasim.dedup;

import org.agrona.concurrent.UnsafeBuffer;

import static io.afasim.dedup.PagePool.NULL_PAGE_ID;
import static io.afasim.dedup.PagePool.PAGES_PER_CHUNK_MASK;
import static io.afasim.dedup.PagePool.PAGES_PER_CHUNK_SHIFT;
import static io.afasim.dedup.PagePool.PAGE_SIZE_SHIFT;

/**
 * Off-heap B+ tree from long key to long value (e.g. LBA to PBA), nodes are {@link PagePool} pages.
 * <p>
 * Layout per node (see {@link BPlusTree} for the invariants), key width 8:
 * <pre>
 *   0       4       8          12         16                    2056                   4096
 *   +-------+-------+----------+----------+---------------------+----------------------+
 *   | count | kind  | prevPage | nextPage | key[0..255) long    | value[0..255) long   |  leaf, 255 entries
 *   +-------+-------+----------+----------+---------------------+----------------------+
 *   0                                     16                    2728                4088
 *   +-------+-------+----------+----------+---------------------+------------------+---+
 *   | count | kind  |   (unused: -1)      | key[0..339) long    | child[0..340) int|   |  branch, 339 keys
 *   +-------+-------+----------+----------+---------------------+------------------+---+
 * </pre>
 * Keys are ordered as signed longs, every long is a valid key. Values may be anything except {@link #MISSING},
 * which {@link #get}, {@link #put} and {@link #remove} return for "absent". Searches within a node interpolate
 * between its first and last key, then gallop and binary-search (see {@link #lowerBound}), which touches fewer
 * cache lines than a plain binary search over the 2 KiB key array. Single-threaded; no allocation on get, put,
 * remove or scan.
 */
public final class LongBTree extends BPlusTree
{
    public static final long MISSING = Long.MIN_VALUE;
    public static final int KEY_WIDTH_BYTES = 8;

    static final int LEAF_CAPACITY = leafCapacity(KEY_WIDTH_BYTES);
    static final int BRANCH_CAPACITY = branchCapacity(KEY_WIDTH_BYTES);
    static final int LEAF_VALUES_OFFSET = KEYS_OFFSET + LEAF_CAPACITY * KEY_WIDTH_BYTES;
    static final int BRANCH_CHILDREN_OFFSET = KEYS_OFFSET + BRANCH_CAPACITY * KEY_WIDTH_BYTES;

    /** Visits entries in key order. */
    @FunctionalInterface
    public interface LongLongConsumer
    {
        void accept(long key, long value);
    }

    /** Visits entries in key order; return false to stop the scan. */
    @FunctionalInterface
    public interface LongLongPredicate
    {
        boolean test(long key, long value);
    }

    private long pendingKey;

    /** {@link #scan} runs through {@link #scanWhile}: one adapter, reused (single-threaded, no allocation). */
    private LongLongConsumer scanConsumer;
    private final LongLongPredicate scanAdapter = (key, value) ->
    {
        scanConsumer.accept(key, value);
        return true;
    };

    public LongBTree(final PagePool pool)
    {
        super(pool, KEY_WIDTH_BYTES);
        assert leafValuesOffset == LEAF_VALUES_OFFSET && branchChildrenOffset == BRANCH_CHILDREN_OFFSET;
    }

    /**
     * @return the value for {@code key}, or {@link #MISSING}.
     */
    public long get(final long key)
    {
        int pageId = rootPageId;
        if (pageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        final UnsafeBuffer[] chunks = pool.chunks();
        for (int level = height - 1; level > 0; level--)
        {
            final UnsafeBuffer buffer = chunks[pageId >>> PAGES_PER_CHUNK_SHIFT];
            final int base = (pageId & PAGES_PER_CHUNK_MASK) << PAGE_SIZE_SHIFT;
            final int childIndex = childIndex(buffer, base, buffer.getInt(base + COUNT_OFFSET), key);
            pageId = buffer.getInt(base + BRANCH_CHILDREN_OFFSET + (childIndex << 2));
        }
        final UnsafeBuffer buffer = chunks[pageId >>> PAGES_PER_CHUNK_SHIFT];
        final int base = (pageId & PAGES_PER_CHUNK_MASK) << PAGE_SIZE_SHIFT;
        final int count = buffer.getInt(base + COUNT_OFFSET);
        final int index = lowerBound(buffer, base, count, key);
        if (index < count && buffer.getLong(base + KEYS_OFFSET + (index << 3)) == key)
        {
            return buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3));
        }
        return MISSING;
    }

    public boolean containsKey(final long key)
    {
        return get(key) != MISSING;
    }

    /**
     * Inserts or overwrites.
     *
     * @return the previous value, or {@link #MISSING} if the key was absent.
     * @throws IllegalArgumentException if value is {@link #MISSING}.
     * @throws IllegalStateException if the pool cannot supply the pages a split may need (tree unchanged).
     */
    public long put(final long key, final long value)
    {
        if (value == MISSING)
        {
            throw new IllegalArgumentException("value MISSING (Long.MIN_VALUE) cannot be stored, key=" + key);
        }
        if (rootPageId == NULL_PAGE_ID)
        {
            createRootLeaf();
        }
        final int leafPageId = descend(key);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int count = buffer.getInt(base + COUNT_OFFSET);
        final int index = lowerBound(buffer, base, count, key);
        if (index < count && buffer.getLong(base + KEYS_OFFSET + (index << 3)) == key)
        {
            final int valueOffset = base + LEAF_VALUES_OFFSET + (index << 3);
            final long previous = buffer.getLong(valueOffset);
            buffer.putLong(valueOffset, value);
            return previous;
        }
        pendingKey = key;
        insertIntoLeaf(index, value);
        return MISSING;
    }

    /**
     * Overwrites the value of a present key in place; never inserts or changes structure.
     *
     * @return the previous value, or {@link #MISSING} (and no change) if the key is absent.
     */
    public long replaceValue(final long key, final long value)
    {
        if (value == MISSING)
        {
            throw new IllegalArgumentException("value MISSING (Long.MIN_VALUE) cannot be stored, key=" + key);
        }
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        final int leafPageId = descend(key);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int count = buffer.getInt(base + COUNT_OFFSET);
        final int index = lowerBound(buffer, base, count, key);
        if (index < count && buffer.getLong(base + KEYS_OFFSET + (index << 3)) == key)
        {
            final int valueOffset = base + LEAF_VALUES_OFFSET + (index << 3);
            final long previous = buffer.getLong(valueOffset);
            buffer.putLong(valueOffset, value);
            return previous;
        }
        return MISSING;
    }

    /**
     * @return the removed value, or {@link #MISSING} if the key was absent.
     */
    public long remove(final long key)
    {
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        final int leafPageId = descend(key);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int count = buffer.getInt(base + COUNT_OFFSET);
        final int index = lowerBound(buffer, base, count, key);
        if (index < count && buffer.getLong(base + KEYS_OFFSET + (index << 3)) == key)
        {
            final long previous = buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3));
            removeFromLeaf(index);
            return previous;
        }
        return MISSING;
    }

    /**
     * Visits entries with {@code fromKey <= key < toKeyExclusive} in ascending key order. The consumer must not
     * modify the tree.
     */
    public void scan(final long fromKey, final long toKeyExclusive, final LongLongConsumer consumer)
    {
        if (scanConsumer != null)
        {
            throw new IllegalStateException("scan inside a scan of the same tree (use scanWhile)");
        }
        scanConsumer = consumer;
        try
        {
            scanWhile(fromKey, toKeyExclusive, scanAdapter);
        }
        finally
        {
            scanConsumer = null;
        }
    }

    /**
     * Visits entries with {@code fromKey <= key < toKeyExclusive} in ascending key order while the predicate
     * returns true.
     *
     * @return true if the range was visited completely, false if the predicate stopped the scan.
     */
    public boolean scanWhile(final long fromKey, final long toKeyExclusive, final LongLongPredicate predicate)
    {
        if (rootPageId == NULL_PAGE_ID || fromKey >= toKeyExclusive)
        {
            return true;
        }
        int pageId = descend(fromKey);
        int index = lowerBound(pool.buffer(pageId), base(pageId), count(pageId), fromKey);
        while (pageId != NULL_PAGE_ID)
        {
            final UnsafeBuffer buffer = pool.buffer(pageId);
            final int base = base(pageId);
            final int count = buffer.getInt(base + COUNT_OFFSET);
            for (; index < count; index++)
            {
                final long key = buffer.getLong(base + KEYS_OFFSET + (index << 3));
                if (key >= toKeyExclusive)
                {
                    return true;
                }
                if (!predicate.test(key, buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3))))
                {
                    return false;
                }
            }
            pageId = buffer.getInt(base + NEXT_OFFSET);
            index = 0;
        }
        return true;
    }

    /** Visits every entry in ascending key order (includes {@code Long.MAX_VALUE}, unlike a half-open scan). */
    public void forEach(final LongLongConsumer consumer)
    {
        int pageId = firstLeaf();
        while (pageId != NULL_PAGE_ID)
        {
            final UnsafeBuffer buffer = pool.buffer(pageId);
            final int base = base(pageId);
            final int count = buffer.getInt(base + COUNT_OFFSET);
            for (int index = 0; index < count; index++)
            {
                consumer.accept(
                    buffer.getLong(base + KEYS_OFFSET + (index << 3)),
                    buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3)));
            }
            pageId = buffer.getInt(base + NEXT_OFFSET);
        }
    }

    /** @return the smallest key, or {@link #MISSING} when empty (ambiguous with key Long.MIN_VALUE: check size). */
    public long firstKey()
    {
        final int pageId = firstLeaf();
        return pageId == NULL_PAGE_ID ? MISSING : pool.buffer(pageId).getLong(base(pageId) + KEYS_OFFSET);
    }

    private int firstLeaf()
    {
        int pageId = rootPageId;
        if (pageId == NULL_PAGE_ID)
        {
            return NULL_PAGE_ID;
        }
        for (int level = height - 1; level > 0; level--)
        {
            pageId = child(pageId, 0);
        }
        return pageId;
    }

    /** Descends to the leaf for key, recording the path for insert and remove. */
    private int descend(final long key)
    {
        int pageId = rootPageId;
        final UnsafeBuffer[] chunks = pool.chunks();
        final int leafLevel = height - 1;
        for (int level = 0; level < leafLevel; level++)
        {
            final UnsafeBuffer buffer = chunks[pageId >>> PAGES_PER_CHUNK_SHIFT];
            final int base = (pageId & PAGES_PER_CHUNK_MASK) << PAGE_SIZE_SHIFT;
            final int childIndex = childIndex(buffer, base, buffer.getInt(base + COUNT_OFFSET), key);
            pathPageIds[level] = pageId;
            pathChildIndexes[level] = childIndex;
            pageId = buffer.getInt(base + BRANCH_CHILDREN_OFFSET + (childIndex << 2));
        }
        pathPageIds[leafLevel] = pageId;
        return pageId;
    }

    /**
     * First index in [0, count) whose key is {@code >= key}, count if none. Leaves only.
     * <p>
     * A leaf is 2 KiB of keys, so each probe of a plain binary search is another cache miss. This guesses the
     * position by interpolating between the first and last key, then gallops outwards from the guess (1, 2, 4 ...)
     * to bracket the answer and binary-searches the bracket. Uniform keys (random LBAs, dense ranges) land within a
     * few slots of the guess: ~3 cache lines instead of ~7. Skewed keys cost at most ~2 log2(count) probes.
     */
    static int lowerBound(final UnsafeBuffer buffer, final int base, final int count, final long key)
    {
        final int keysBase = base + KEYS_OFFSET;
        if (count == 0 || key <= buffer.getLong(keysBase))
        {
            return 0;
        }
        final long first = buffer.getLong(keysBase);
        final long last = buffer.getLong(keysBase + ((count - 1) << 3));
        if (key > last)
        {
            return count;
        }
        // Here first < key <= last, so the answer is in [1, count - 1] and count >= 2.
        final double fraction = ((double)key - (double)first) / ((double)last - (double)first);
        final int guess = Math.min(Math.max((int)(fraction * (count - 1)), 1), count - 1);
        int low;
        int high;
        if (buffer.getLong(keysBase + (guess << 3)) >= key)
        {
            high = guess;
            int step = 1;
            low = guess - 1;
            while (low > 0 && buffer.getLong(keysBase + (low << 3)) >= key)
            {
                high = low;
                step <<= 1;
                low = high - step;
            }
            low = Math.max(low, 0);
        }
        else
        {
            low = guess;
            int step = 1;
            high = guess + 1;
            while (high < count - 1 && buffer.getLong(keysBase + (high << 3)) < key)
            {
                low = high;
                step <<= 1;
                high = low + step;
            }
            high = Math.min(high, count - 1);
        }
        // key[low] < key <= key[high]
        low++;
        while (low < high)
        {
            final int mid = (low + high) >>> 1;
            if (buffer.getLong(keysBase + (mid << 3)) < key)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    /** Plain binary search form of {@link #lowerBound}, kept to measure against. */
    static int lowerBoundBinary(final UnsafeBuffer buffer, final int base, final int count, final long key)
    {
        int low = 0;
        int high = count;
        final int keysBase = base + KEYS_OFFSET;
        while (low < high)
        {
            final int mid = (low + high) >>> 1;
            if (buffer.getLong(keysBase + (mid << 3)) < key)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    /** First index in [0, count) whose key is {@code > key}, count if none: the child to descend into. */
    static int childIndex(final UnsafeBuffer buffer, final int base, final int count, final long key)
    {
        return key == Long.MAX_VALUE ? count : lowerBound(buffer, base, count, key + 1);
    }

    /** Plain binary search form of {@link #childIndex}, kept to measure against. */

    static int upperBoundBinary(final UnsafeBuffer buffer, final int base, final int count, final long key)
    {
        int low = 0;
        int high = count;
        final int keysBase = base + KEYS_OFFSET;
        while (low < high)
        {
            final int mid = (low + high) >>> 1;
            if (buffer.getLong(keysBase + (mid << 3)) <= key)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    @Override
    void writePendingKey(final UnsafeBuffer dst, final int dstOffset)
    {
        dst.putLong(dstOffset, pendingKey);
    }

    @Override
    int compareKeys(final UnsafeBuffer a, final int aOffset, final UnsafeBuffer b, final int bOffset)
    {
        return Long.compare(a.getLong(aOffset), b.getLong(bOffset));
    }

    @Override
    String describeKey(final UnsafeBuffer buffer, final int offset)
    {
        return Long.toString(buffer.getLong(offset));
    }
}
