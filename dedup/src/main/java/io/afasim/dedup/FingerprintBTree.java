package io.afasim.dedup;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;

import static io.afasim.dedup.PagePool.NULL_PAGE_ID;
import static io.afasim.dedup.PagePool.PAGES_PER_CHUNK_MASK;
import static io.afasim.dedup.PagePool.PAGES_PER_CHUNK_SHIFT;
import static io.afasim.dedup.PagePool.PAGE_SIZE_SHIFT;

/**
 * Off-heap B+ tree from a 32-byte key (SHA-256 fingerprint) to a long value; nodes are {@link PagePool} pages.
 * <p>
 * Key order: the 32 bytes compared as unsigned bytes, first byte most significant (memcmp order). Implemented as
 * four big-endian longs compared unsigned, most significant first. Keys are stored as the raw 32 bytes, so a scan
 * hands out exactly the bytes that were put.
 * <p>
 * Layout per node (see {@link BPlusTree} for the invariants), key width 32:
 * <pre>
 *   0       4       8          12         16                     3280                   4096
 *   +-------+-------+----------+----------+----------------------+----------------------+
 *   | count | kind  | prevPage | nextPage | key[0..102) 32 bytes | value[0..102) long   |  leaf, 102 entries
 *   +-------+-------+----------+----------+----------------------+----------------------+
 *   0                                     16                     3632               4088
 *   +-------+-------+----------+----------+----------------------+------------------+---+
 *   | count | kind  |   (unused: -1)      | key[0..113) 32 bytes | child[0..114) int|   |  branch, 113 keys
 *   +-------+-------+----------+----------+----------------------+------------------+---+
 * </pre>
 * Values may be anything except {@link #MISSING}. Single-threaded; no allocation on get, put, remove or scan, nor
 * on the removes and replaces by prefix and value.
 */
public final class FingerprintBTree extends BPlusTree
{
    public static final long MISSING = LongBTree.MISSING;
    public static final int KEY_WIDTH_BYTES = 32;

    static final int LEAF_CAPACITY = leafCapacity(KEY_WIDTH_BYTES);
    static final int BRANCH_CAPACITY = branchCapacity(KEY_WIDTH_BYTES);
    static final int LEAF_VALUES_OFFSET = KEYS_OFFSET + LEAF_CAPACITY * KEY_WIDTH_BYTES;
    static final int BRANCH_CHILDREN_OFFSET = KEYS_OFFSET + BRANCH_CAPACITY * KEY_WIDTH_BYTES;
    private static final ByteOrder KEY_ORDER = ByteOrder.BIG_ENDIAN;

    /** Visits entries in key order; the key is valid only during the call. */
    @FunctionalInterface
    public interface FingerprintConsumer
    {
        void accept(DirectBuffer keyBuffer, int keyOffset, long value);
    }

    /** Visits entries in key order while it returns true; the key is valid only during the call. */
    @FunctionalInterface
    public interface FingerprintPredicate
    {
        boolean test(DirectBuffer keyBuffer, int keyOffset, long value);
    }

    // Search key as four big-endian longs, loaded once per operation.
    private long search0;
    private long search1;
    private long search2;
    private long search3;
    private DirectBuffer pendingKeyBuffer;
    private int pendingKeyOffset;
    /** Leaf holding the entry the last {@link #findByPrefixAndValue} found. */
    private int foundLeafPageId = NULL_PAGE_ID;
    /** First 8 bytes (unsigned) of the keys bounding the range of the leaf the last {@link #descend} reached. */
    private long leafLow0;
    private long leafHigh0 = -1L;

    /** {@link #scan} runs through {@link #scanWhile}: one adapter, reused (single-threaded, no allocation). */
    private FingerprintConsumer scanConsumer;
    private final FingerprintPredicate scanAdapter = (keyBuffer, keyOffset, value) ->
    {
        scanConsumer.accept(keyBuffer, keyOffset, value);
        return true;
    };

    public FingerprintBTree(final PagePool pool)
    {
        super(pool, KEY_WIDTH_BYTES);
        assert leafValuesOffset == LEAF_VALUES_OFFSET && branchChildrenOffset == BRANCH_CHILDREN_OFFSET;
    }

    /**
     * @return the value for the key at {@code keyBuffer[keyOffset, keyOffset + 32)}, or {@link #MISSING}.
     */
    public long get(final DirectBuffer keyBuffer, final int keyOffset)
    {
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        loadSearchKey(keyBuffer, keyOffset);
        final int leafPageId = descend(false);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int index = findInLeaf(buffer, base);
        return index >= 0 ? buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3)) : MISSING;
    }

    public boolean containsKey(final DirectBuffer keyBuffer, final int keyOffset)
    {
        return get(keyBuffer, keyOffset) != MISSING;
    }

    /**
     * Inserts or overwrites.
     *
     * @return the previous value, or {@link #MISSING} if the key was absent.
     * @throws IllegalArgumentException if value is {@link #MISSING}.
     * @throws IllegalStateException if the pool cannot supply the pages a split may need (tree unchanged).
     */
    public long put(final DirectBuffer keyBuffer, final int keyOffset, final long value)
    {
        if (value == MISSING)
        {
            throw new IllegalArgumentException("value MISSING (Long.MIN_VALUE) cannot be stored");
        }
        if (rootPageId == NULL_PAGE_ID)
        {
            createRootLeaf();
        }
        loadSearchKey(keyBuffer, keyOffset);
        final int leafPageId = descend(true);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int index = findInLeaf(buffer, base);
        if (index >= 0)
        {
            final int valueOffset = base + LEAF_VALUES_OFFSET + (index << 3);
            final long previous = buffer.getLong(valueOffset);
            buffer.putLong(valueOffset, value);
            return previous;
        }
        pendingKeyBuffer = keyBuffer;
        pendingKeyOffset = keyOffset;
        insertIntoLeaf(-index - 1, value);
        pendingKeyBuffer = null;
        return MISSING;
    }

    /**
     * Overwrites the value of a present key in place; never inserts or changes structure.
     *
     * @return the previous value, or {@link #MISSING} (and no change) if the key is absent.
     */
    public long replaceValue(final DirectBuffer keyBuffer, final int keyOffset, final long value)
    {
        if (value == MISSING)
        {
            throw new IllegalArgumentException("value MISSING (Long.MIN_VALUE) cannot be stored");
        }
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        loadSearchKey(keyBuffer, keyOffset);
        final int leafPageId = descend(false);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int index = findInLeaf(buffer, base);
        if (index < 0)
        {
            return MISSING;
        }
        final int valueOffset = base + LEAF_VALUES_OFFSET + (index << 3);
        final long previous = buffer.getLong(valueOffset);
        buffer.putLong(valueOffset, value);
        return previous;
    }

    /**
     * @return the removed value, or {@link #MISSING} if the key was absent.
     */
    public long remove(final DirectBuffer keyBuffer, final int keyOffset)
    {
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        loadSearchKey(keyBuffer, keyOffset);
        final int leafPageId = descend(true);
        final UnsafeBuffer buffer = pool.buffer(leafPageId);
        final int base = base(leafPageId);
        final int index = findInLeaf(buffer, base);
        if (index < 0)
        {
            return MISSING;
        }
        final long previous = buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3));
        removeFromLeaf(index);
        return previous;
    }

    /**
     * Removes the first entry (in key order) whose key starts with the 8 bytes {@code prefix} (big-endian, as
     * {@link Fingerprinter#prefix} reads them) and whose value is {@code value}: the fingerprint of a block known
     * only by its prefix and PBA, whose last reference went. One descent, recording the path, for (prefix, 0, 0, 0):
     * the run of keys with the prefix almost always starts in the leaf it reaches and is one entry long, so the entry
     * is removed there through that path, instead of a scan for the key and then a second descent to remove it.
     * Only when the run leaves that leaf before the entry is found (a prefix collision run across a leaf boundary,
     * or a run starting in the next leaf) does the walk go on through the sibling links; the recorded path then
     * leads to the wrong leaf, so it descends again with the full key found.
     *
     * @return {@code value} when removed, or {@link #MISSING} (and no change) if no such entry exists.
     */
    public long removeByPrefixAndValue(final long prefix, final long value)
    {
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        int index = findByPrefixAndValue(prefix, value, true);
        if (index < 0)
        {
            return MISSING;
        }
        final int leafPageId = foundLeafPageId;
        if (leafPageId != pathPageIds[height - 1])
        {
            loadSearchKey(pool.buffer(leafPageId), base(leafPageId) + KEYS_OFFSET + index * KEY_WIDTH_BYTES);
            final int pathLeafPageId = descend(true);
            index = findInLeaf(pool.buffer(pathLeafPageId), base(pathLeafPageId));
            assert pathLeafPageId == leafPageId && index >= 0 : "entry found by the sibling walk not on its path";
        }
        removeFromLeaf(index);
        return value;
    }

    /**
     * Overwrites in place the value of the first entry (in key order) whose key starts with the 8 bytes
     * {@code prefix} (big-endian) and whose value is {@code oldValue}: repoints a block known only by its prefix and
     * PBA. One descent; never changes structure, so an entry past the first leaf is overwritten where the sibling
     * walk finds it.
     *
     * @return {@code oldValue} when replaced, or {@link #MISSING} (and no change) if no such entry exists.
     * @throws IllegalArgumentException if newValue is {@link #MISSING}.
     */
    public long replaceValueByPrefixAndValue(final long prefix, final long oldValue, final long newValue)
    {
        if (newValue == MISSING)
        {
            throw new IllegalArgumentException("value MISSING (Long.MIN_VALUE) cannot be stored");
        }
        if (rootPageId == NULL_PAGE_ID)
        {
            return MISSING;
        }
        final int index = findByPrefixAndValue(prefix, oldValue, false);
        if (index < 0)
        {
            return MISSING;
        }
        final int leafPageId = foundLeafPageId;
        pool.buffer(leafPageId).putLong(base(leafPageId) + LEAF_VALUES_OFFSET + (index << 3), newValue);
        return oldValue;
    }

    /**
     * Descends for the smallest key with the prefix, (prefix, 0, 0, 0), then walks the entries from its lower bound,
     * following sibling links, while their first 8 bytes equal the prefix. No key with the prefix lies left of that
     * lower bound: every key in the subtrees left of the descent is below a separator {@code <=} the search key.
     *
     * @return the index in {@link #foundLeafPageId} of the first entry with the prefix and value, or -1 if none.
     */
    private int findByPrefixAndValue(final long prefix, final long value, final boolean recordPath)
    {
        search0 = prefix;
        search1 = 0;
        search2 = 0;
        search3 = 0;
        int pageId = descend(recordPath);
        int index = lowerBound(pool.buffer(pageId), base(pageId));
        while (pageId != NULL_PAGE_ID)
        {
            final UnsafeBuffer buffer = pool.buffer(pageId);
            final int base = base(pageId);
            final int count = buffer.getInt(base + COUNT_OFFSET);
            for (; index < count; index++)
            {
                if (buffer.getLong(base + KEYS_OFFSET + index * KEY_WIDTH_BYTES, KEY_ORDER) != prefix)
                {
                    return -1;
                }
                if (buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3)) == value)
                {
                    foundLeafPageId = pageId;
                    return index;
                }
            }
            pageId = buffer.getInt(base + NEXT_OFFSET);
            index = 0;
        }
        return -1;
    }

    /**
     * Visits entries with {@code fromKey <= key < toKeyExclusive} in key order. A null buffer leaves that end of the
     * range open. The consumer must not modify the tree.
     */
    public void scan(
        final DirectBuffer fromKeyBuffer,
        final int fromKeyOffset,
        final DirectBuffer toKeyBuffer,
        final int toKeyOffset,
        final FingerprintConsumer consumer)
    {
        if (scanConsumer != null)
        {
            throw new IllegalStateException("scan inside a scan of the same tree (use scanWhile)");
        }
        scanConsumer = consumer;
        try
        {
            scanWhile(fromKeyBuffer, fromKeyOffset, toKeyBuffer, toKeyOffset, scanAdapter);
        }
        finally
        {
            scanConsumer = null;
        }
    }

    /**
     * Like {@link #scan} but stops when the predicate returns false.
     *
     * @return true if the range was visited completely, false if the predicate stopped the scan.
     */
    public boolean scanWhile(
        final DirectBuffer fromKeyBuffer,
        final int fromKeyOffset,
        final DirectBuffer toKeyBuffer,
        final int toKeyOffset,
        final FingerprintPredicate predicate)
    {
        int pageId = firstLeafAtOrAfter(fromKeyBuffer, fromKeyOffset);
        int index = fromKeyBuffer == null || pageId == NULL_PAGE_ID ?
            0 : lowerBound(pool.buffer(pageId), base(pageId));
        while (pageId != NULL_PAGE_ID)
        {
            final UnsafeBuffer buffer = pool.buffer(pageId);
            final int base = base(pageId);
            final int count = buffer.getInt(base + COUNT_OFFSET);
            for (; index < count; index++)
            {
                final int keyOffset = base + KEYS_OFFSET + index * KEY_WIDTH_BYTES;
                if (toKeyBuffer != null && compareFingerprints(buffer, keyOffset, toKeyBuffer, toKeyOffset) >= 0)
                {
                    return true;
                }
                if (!predicate.test(buffer, keyOffset, buffer.getLong(base + LEAF_VALUES_OFFSET + (index << 3))))
                {
                    return false;
                }
            }
            pageId = buffer.getInt(base + NEXT_OFFSET);
            index = 0;
        }
        return true;
    }

    /** Leaf to start a scan in: the first leaf, or the leaf holding fromKey's position (search key loaded). */
    private int firstLeafAtOrAfter(final DirectBuffer fromKeyBuffer, final int fromKeyOffset)
    {
        if (rootPageId == NULL_PAGE_ID)
        {
            return NULL_PAGE_ID;
        }
        if (fromKeyBuffer != null)
        {
            loadSearchKey(fromKeyBuffer, fromKeyOffset);
            return descend(false);
        }
        int pageId = rootPageId;
        for (int level = height - 1; level > 0; level--)
        {
            pageId = child(pageId, 0);
        }
        return pageId;
    }

    private void loadSearchKey(final DirectBuffer keyBuffer, final int keyOffset)
    {
        search0 = keyBuffer.getLong(keyOffset, KEY_ORDER);
        search1 = keyBuffer.getLong(keyOffset + 8, KEY_ORDER);
        search2 = keyBuffer.getLong(keyOffset + 16, KEY_ORDER);
        search3 = keyBuffer.getLong(keyOffset + 24, KEY_ORDER);
    }

    /** Sign of (search key - key at offset). */
    private int compareSearchKey(final UnsafeBuffer buffer, final int offset)
    {
        long key = buffer.getLong(offset, KEY_ORDER);
        if (search0 != key)
        {
            return Long.compareUnsigned(search0, key);
        }
        key = buffer.getLong(offset + 8, KEY_ORDER);
        if (search1 != key)
        {
            return Long.compareUnsigned(search1, key);
        }
        key = buffer.getLong(offset + 16, KEY_ORDER);
        if (search2 != key)
        {
            return Long.compareUnsigned(search2, key);
        }
        return Long.compareUnsigned(search3, buffer.getLong(offset + 24, KEY_ORDER));
    }

    /**
     * Descends to the leaf for the search key; records the path when asked (insert and remove). Leaves the first
     * 8 bytes of the keys that bound the leaf's range in {@link #leafLow0} and {@link #leafHigh0}.
     */
    private int descend(final boolean recordPath)
    {
        int pageId = rootPageId;
        final UnsafeBuffer[] chunks = pool.chunks();
        final int leafLevel = height - 1;
        long low0 = 0;
        long high0 = -1L;
        for (int level = 0; level < leafLevel; level++)
        {
            final UnsafeBuffer buffer = chunks[pageId >>> PAGES_PER_CHUNK_SHIFT];
            final int base = (pageId & PAGES_PER_CHUNK_MASK) << PAGE_SIZE_SHIFT;
            final int count = buffer.getInt(base + COUNT_OFFSET);
            final int childIndex = search(buffer, base + KEYS_OFFSET, count, low0, high0, true);
            if (childIndex > 0)
            {
                low0 = buffer.getLong(base + KEYS_OFFSET + (childIndex - 1) * KEY_WIDTH_BYTES, KEY_ORDER);
            }
            if (childIndex < count)
            {
                high0 = buffer.getLong(base + KEYS_OFFSET + childIndex * KEY_WIDTH_BYTES, KEY_ORDER);
            }
            if (recordPath)
            {
                pathPageIds[level] = pageId;
                pathChildIndexes[level] = childIndex;
            }
            pageId = buffer.getInt(base + BRANCH_CHILDREN_OFFSET + (childIndex << 2));
        }
        if (recordPath)
        {
            pathPageIds[leafLevel] = pageId;
        }
        leafLow0 = low0;
        leafHigh0 = high0;
        return pageId;
    }

    /** @return the index of the search key in the leaf, or {@code -(insertion index) - 1}. */
    private int findInLeaf(final UnsafeBuffer buffer, final int base)
    {
        final int count = buffer.getInt(base + COUNT_OFFSET);
        final int index = search(buffer, base + KEYS_OFFSET, count, leafLow0, leafHigh0, false);
        return index < count && compareSearchKey(buffer, base + KEYS_OFFSET + index * KEY_WIDTH_BYTES) == 0 ?
            index : -index - 1;
    }

    /** First index in the leaf {@link #descend} reached whose key is {@code >= search key}. */
    private int lowerBound(final UnsafeBuffer buffer, final int base)
    {
        return search(buffer, base + KEYS_OFFSET, buffer.getInt(base + COUNT_OFFSET), leafLow0, leafHigh0, false);
    }

    /**
     * The first index whose key is above the search key ({@code upper}: the child to descend into) or at or above it
     * (not {@code upper}: lower bound), among {@code count} sorted keys whose first 8 bytes lie in
     * {@code [low0, high0]} (unsigned).
     * <p>
     * Fingerprints are SHA-256 digests, uniform over the key space, so the search key's rank is close to
     * {@code count * (search0 - low0) / (high0 - low0)}: the search probes there first and gallops outwards (1, 2,
     * 4, ... entries) to bracket the answer, then halves the bracket. The estimate is typically off by a few entries,
     * so the probes stay within a few adjacent cache lines of the node, where a plain binary search touches about
     * log2(count) lines spread across it. Keys that are not uniform cost at most about twice a binary search.
     */
    private int search(
        final UnsafeBuffer buffer, final int keysOffset, final int count, final long low0, final long high0,
        final boolean upper)
    {
        if (count == 0)
        {
            return 0;
        }
        final int guess = estimate(count, low0, high0);
        int low;
        int high;
        if (goesRight(buffer, keysOffset, guess, upper))
        {
            low = guess + 1;
            high = count;
            for (int step = 1; low < count; step <<= 1)
            {
                final int probe = Math.min(guess + step, count - 1);
                if (!goesRight(buffer, keysOffset, probe, upper))
                {
                    high = probe;
                    break;
                }
                low = probe + 1;
            }
        }
        else
        {
            low = 0;
            high = guess;
            for (int step = 1; high > 0; step <<= 1)
            {
                final int probe = Math.max(guess - step, 0);
                if (goesRight(buffer, keysOffset, probe, upper))
                {
                    low = probe + 1;
                    break;
                }
                high = probe;
            }
        }
        while (low < high)
        {
            final int mid = (low + high) >>> 1;
            if (goesRight(buffer, keysOffset, mid, upper))
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

    /** Whether the answer lies right of index i: key[i] {@code <=} search key (upper) or {@code <} it (lower). */
    private boolean goesRight(final UnsafeBuffer buffer, final int keysOffset, final int i, final boolean upper)
    {
        final int comparison = compareSearchKey(buffer, keysOffset + i * KEY_WIDTH_BYTES);
        return upper ? comparison >= 0 : comparison > 0;
    }

    /** Index in {@code [0, count)} where a uniform key {@code search0} sits among keys in {@code [low0, high0]}. */
    private int estimate(final int count, final long low0, final long high0)
    {
        final long offset = search0 - low0;
        final long span = high0 - low0;
        if (Long.compareUnsigned(offset, span) >= 0 || span == 0)
        {
            return Long.compareUnsigned(search0, low0) <= 0 ? 0 : count - 1;
        }
        // unsigned magnitudes: halved, they are non-negative longs, which convert to double as the values they are
        final int guess = (int)((double)(offset >>> 1) / (double)(span >>> 1 | 1) * count);
        return Math.min(guess, count - 1);
    }

    @Override
    void writePendingKey(final UnsafeBuffer dst, final int dstOffset)
    {
        dst.putBytes(dstOffset, pendingKeyBuffer, pendingKeyOffset, KEY_WIDTH_BYTES);
    }

    @Override
    int compareKeys(final UnsafeBuffer a, final int aOffset, final UnsafeBuffer b, final int bOffset)
    {
        return compareFingerprints(a, aOffset, b, bOffset);
    }

    /** The documented key order: unsigned lexicographic over the 32 bytes. */
    public static int compareFingerprints(
        final DirectBuffer a, final int aOffset, final DirectBuffer b, final int bOffset)
    {
        for (int i = 0; i < KEY_WIDTH_BYTES; i += 8)
        {
            final long x = a.getLong(aOffset + i, KEY_ORDER);
            final long y = b.getLong(bOffset + i, KEY_ORDER);
            if (x != y)
            {
                return Long.compareUnsigned(x, y);
            }
        }
        return 0;
    }

    @Override
    String describeKey(final UnsafeBuffer buffer, final int offset)
    {
        final StringBuilder builder = new StringBuilder(2 * KEY_WIDTH_BYTES);
        for (int i = 0; i < KEY_WIDTH_BYTES; i++)
        {
            builder.append(Character.forDigit((buffer.getByte(offset + i) >> 4) & 0xF, 16));
            builder.append(Character.forDigit(buffer.getByte(offset + i) & 0xF, 16));
        }
        return builder.toString();
    }
}
