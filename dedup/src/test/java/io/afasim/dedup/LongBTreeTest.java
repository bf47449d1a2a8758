package io.afasim.dedup;

import io.afasim.journal.Seeds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Random;
import java.util.TreeMap;

import static io.afasim.dedup.LongBTree.MISSING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LongBTreeTest
{
    /** Enough keys for height >= 3 with 255-entry leaves and 340-way branches. */
    private static final int LARGE_KEY_COUNT = 120_000;
    private static final int LARGE_CHECK_INTERVAL_OPS = 4_000;
    private static final int SMALL_PHASE_OPS = 30_000;
    private static final int SMALL_KEY_SPACE = 4_000;
    private static final int POOL_PAGE_COUNT_MAX = 1 << 16;

    private PagePool pool;
    private LongBTree tree;
    private final TreeMap<Long, Long> model = new TreeMap<>();

    @BeforeEach
    void setUp()
    {
        pool = new PagePool(POOL_PAGE_COUNT_MAX);
        tree = new LongBTree(pool);
    }

    @AfterEach
    void tearDown()
    {
        tree.clear();
        assertEquals(0, pool.pagesInUse(), "pages leaked");
    }

    @Test
    void emptyTree()
    {
        tree.check();
        assertEquals(MISSING, tree.get(1));
        assertEquals(MISSING, tree.remove(1));
        assertEquals(MISSING, tree.replaceValue(1, 2));
        assertEquals(0, tree.size());
        assertEquals(0, tree.pagesInUse());
        assertTrue(tree.scanWhile(Long.MIN_VALUE, Long.MAX_VALUE, (k, v) -> false));
    }

    @Test
    void rejectsMissingAsValue()
    {
        assertThrows(IllegalArgumentException.class, () -> tree.put(1, MISSING));
        assertThrows(IllegalArgumentException.class, () -> tree.replaceValue(1, MISSING));
        tree.check();
        assertEquals(0, tree.size());
    }

    @Test
    void randomOpsCheckedAfterEveryOp()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.randomOpsCheckedAfterEveryOp"));
        for (int op = 0; op < SMALL_PHASE_OPS; op++)
        {
            randomOp(random, SMALL_KEY_SPACE, op);
            tree.check();
            assertEquals(model.size(), tree.size(), "size after op " + op);
        }
        assertContentsEqual();
    }

    @Test
    void randomOpsOnLargeTree()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.randomOpsOnLargeTree"));
        for (int i = 0; i < LARGE_KEY_COUNT; i++)
        {
            put(random.nextLong(), random.nextLong() & Long.MAX_VALUE);
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        final int keySpace = LARGE_KEY_COUNT * 2;
        for (int op = 0; op < LARGE_KEY_COUNT * 2; op++)
        {
            randomOp(random, keySpace, op);
            if (op % LARGE_CHECK_INTERVAL_OPS == 0)
            {
                tree.check();
                assertEquals(model.size(), tree.size());
            }
        }
        tree.check();
        assertContentsEqual();
    }

    @Test
    void ascendingInsertFillsLeavesAndDeletesBackToEmpty()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.ascendingInsertFillsLeavesAndDeletesBackToEmpty"));
        for (long key = 0; key < LARGE_KEY_COUNT; key++)
        {
            put(key * 3, key);
            checkEvery(key);
        }
        assertFilledByAppend();
        removeAllInRandomOrder(random);
    }

    @Test
    void descendingInsertThenAscendingDelete()
    {
        for (long key = LARGE_KEY_COUNT; key > 0; key--)
        {
            put(key, -key);
            checkEvery(key);
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        assertContentsEqual();
        long op = 0;
        for (long key = 1; key <= LARGE_KEY_COUNT; key++)
        {
            assertEquals(-key, tree.remove(key));
            model.remove(key);
            checkEvery(op++);
        }
        assertEmptyWithNoPages();
    }

    @Test
    void ascendingDeleteAfterAscendingInsertThenDescendingDelete()
    {
        for (long key = 0; key < LARGE_KEY_COUNT; key++)
        {
            put(key, key + 1);
        }
        tree.check();
        long op = 0;
        for (long key = LARGE_KEY_COUNT - 1; key >= 0; key--)
        {
            assertEquals(key + 1, tree.remove(key));
            model.remove(key);
            checkEvery(op++);
        }
        assertEmptyWithNoPages();
    }

    @Test
    void randomInsertThenDeleteEverything()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.randomInsertThenDeleteEverything"));
        for (int i = 0; i < LARGE_KEY_COUNT; i++)
        {
            put(random.nextLong(), i);
            checkEvery(i);
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        assertContentsEqual();
        removeAllInRandomOrder(random);
    }

    @Test
    void clusteredInsertThenDeleteEverything()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.clusteredInsertThenDeleteEverything"));
        long op = 0;
        while (model.size() < LARGE_KEY_COUNT)
        {
            final long clusterStart = random.nextLong() >> 8;
            final int runLength = 1 + random.nextInt(512);
            final int stride = 1 + random.nextInt(4);
            final boolean descending = random.nextInt(4) == 0;
            for (int i = 0; i < runLength; i++)
            {
                final long key = descending ? clusterStart - (long)i * stride : clusterStart + (long)i * stride;
                put(key, op);
                checkEvery(op++);
            }
        }
        tree.check();
        assertContentsEqual();
        // Delete in clusters too: walk the model from random points.
        while (!model.isEmpty())
        {
            Long key = model.ceilingKey(random.nextLong());
            if (key == null)
            {
                key = model.firstKey();
            }
            final int runLength = 1 + random.nextInt(1024);
            for (int i = 0; i < runLength && key != null; i++)
            {
                final Long next = model.higherKey(key);
                remove(key);
                checkEvery(op++);
                key = next;
            }
        }
        assertEmptyWithNoPages();
    }

    @Test
    void boundaryKeys()
    {
        final long[] keys = {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1, 0, 1, Long.MAX_VALUE - 1, Long.MAX_VALUE};
        for (final long key : keys)
        {
            put(key, 7);
            tree.check();
        }
        for (final long key : keys)
        {
            assertEquals(7, tree.get(key), "key " + key);
            put(key, key == Long.MIN_VALUE ? 0 : key);
        }
        for (long i = 0; i < 20_000; i++)
        {
            put(Long.MIN_VALUE + 2 + i, i);
            put(Long.MAX_VALUE - 2 - i, i);
        }
        tree.check();
        assertEquals(Long.MAX_VALUE, tree.get(Long.MAX_VALUE));
        assertEquals(Long.MIN_VALUE + 1, tree.get(Long.MIN_VALUE + 1));
        assertEquals(0, tree.get(Long.MIN_VALUE));
        assertEquals(Long.MIN_VALUE, tree.firstKey());

        final List<Long> scanned = new ArrayList<>();
        tree.scan(Long.MAX_VALUE - 1, Long.MAX_VALUE, (k, v) -> scanned.add(k));
        assertEquals(List.of(Long.MAX_VALUE - 1), scanned);
        final List<Long> all = new ArrayList<>();
        tree.forEach((k, v) -> all.add(k));
        assertEquals(new ArrayList<>(model.keySet()), all);

        assertEquals(Long.MAX_VALUE, tree.remove(Long.MAX_VALUE));
        assertEquals(0, tree.remove(Long.MIN_VALUE));
        model.remove(Long.MAX_VALUE);
        model.remove(Long.MIN_VALUE);
        tree.check();
        assertContentsEqual();
    }

    @Test
    void scansMatchModelAndStopEarly()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.scansMatchModelAndStopEarly"));
        for (int i = 0; i < 50_000; i++)
        {
            put(random.nextInt(1_000_000), i);
        }
        tree.check();
        for (int i = 0; i < 500; i++)
        {
            final long from = random.nextInt(1_100_000) - 50_000;
            final long to = from + random.nextInt(i % 10 == 0 ? 2_000_000 : 5_000);
            assertScanEquals(from, to);

            final int limit = 1 + random.nextInt(100);
            final List<Long> seen = new ArrayList<>();
            final boolean completed = tree.scanWhile(from, to, (k, v) -> seen.add(k) && seen.size() < limit);
            final List<Long> expected = new ArrayList<>(model.subMap(from, true, to, false).keySet());
            final boolean expectCompleted = expected.size() < limit;
            assertEquals(expectCompleted, completed, "range [" + from + ", " + to + ") limit " + limit);
            assertEquals(expected.subList(0, Math.min(limit, expected.size())), seen);
        }
        assertScanEquals(5, 5);
        assertScanEquals(10, 3);
    }

    @Test
    void replaceValueUpdatesOnlyPresentKeys()
    {
        for (long key = 0; key < 10_000; key += 2)
        {
            put(key, key);
        }
        final int pagesBefore = tree.pagesInUse();
        for (long key = 0; key < 10_000; key++)
        {
            final long previous = tree.replaceValue(key, key + 100);
            if ((key & 1) == 0)
            {
                assertEquals(key, previous);
                model.put(key, key + 100);
            }
            else
            {
                assertEquals(MISSING, previous);
            }
        }
        assertEquals(pagesBefore, tree.pagesInUse());
        tree.check();
        assertContentsEqual();
    }

    @Test
    void clearReturnsAllPagesAndTreeIsReusable()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.clearReturnsAllPagesAndTreeIsReusable"));
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 30_000; i++)
            {
                put(random.nextLong(), i);
            }
            tree.check();
            assertTrue(pool.pagesInUse() > 0);
            tree.clear();
            model.clear();
            tree.check();
            assertEmptyWithNoPages();
        }
    }

    @Test
    void poolExhaustionLeavesTreeUnchanged()
    {
        final PagePool smallPool = new PagePool(8);
        final LongBTree small = new LongBTree(smallPool);
        long key = 0;
        long inserted = 0;
        try
        {
            for (; key < 1_000_000; key++)
            {
                small.put(key * 7919 % 1_000_003, key);
                inserted++;
            }
        }
        catch (final IllegalStateException expected)
        {
            assertTrue(expected.getMessage().contains("exhausted"), expected.getMessage());
        }
        assertTrue(inserted > 0 && inserted < 1_000_000, "inserted " + inserted);
        small.check();
        assertEquals(inserted, small.size());
        assertEquals(MISSING, small.get(key * 7919 % 1_000_003));
        assertTrue(smallPool.pagesInUse() <= 8);
        small.clear();
        assertEquals(0, smallPool.pagesInUse());
    }

    @Test
    void interpolatingSearchMatchesBinarySearch()
    {
        final Random random = new Random(Seeds.seed("LongBTreeTest.interpolatingSearchMatchesBinarySearch"));
        final org.agrona.concurrent.UnsafeBuffer page =
            new org.agrona.concurrent.UnsafeBuffer(new byte[PagePool.PAGE_SIZE_BYTES]);
        for (int round = 0; round < 2_000; round++)
        {
            final int count = random.nextInt(LongBTree.LEAF_CAPACITY + 1);
            final java.util.TreeSet<Long> keys = new java.util.TreeSet<>();
            final int shape = round % 4;
            while (keys.size() < count)
            {
                switch (shape)
                {
                    case 0 -> keys.add(random.nextLong());
                    case 1 -> keys.add((long)random.nextInt(count * 2 + 1));
                    case 2 -> keys.add(random.nextInt(8) == 0 ? random.nextLong() : random.nextInt(1000));
                    default -> keys.add((1L << random.nextInt(64)) + random.nextInt(1000));
                }
            }
            int i = 0;
            for (final long key : keys)
            {
                page.putLong(BPlusTree.KEYS_OFFSET + i++ * 8, key);
            }
            final List<Long> probes = new ArrayList<>(List.of(Long.MIN_VALUE, Long.MAX_VALUE, 0L));
            for (final long key : keys)
            {
                probes.add(key);
                probes.add(key - 1);
                probes.add(key + 1);
            }
            for (int p = 0; p < 50; p++)
            {
                probes.add(random.nextLong());
            }
            for (final long probe : probes)
            {
                final int expected = LongBTree.lowerBoundBinary(page, 0, count, probe);
                final int actual = LongBTree.lowerBound(page, 0, count, probe);
                if (expected != actual)
                {
                    assertEquals(expected, actual, "lowerBound probe " + probe + " in " + keys);
                }
                final int expectedChild = LongBTree.upperBoundBinary(page, 0, count, probe);
                final int actualChild = LongBTree.childIndex(page, 0, count, probe);
                if (expectedChild != actualChild)
                {
                    assertEquals(expectedChild, actualChild, "childIndex probe " + probe + " in " + keys);
                }
            }
        }
    }

    private void randomOp(final Random random, final int keySpace, final int op)
    {
        final long key = random.nextInt(100) == 0 ?
            (random.nextBoolean() ? Long.MAX_VALUE - random.nextInt(3) : Long.MIN_VALUE + random.nextInt(3)) :
            random.nextInt(keySpace) * 1_000_003L;
        final int dice = random.nextInt(1000);
        if (dice < 450)
        {
            put(key, random.nextLong() & Long.MAX_VALUE);
        }
        else if (dice < 750)
        {
            remove(key);
        }
        else if (dice < 950)
        {
            assertEquals(model.getOrDefault(key, MISSING), tree.get(key), "get " + key + " at op " + op);
        }
        else if (dice < 999)
        {
            assertScanEquals(key, key + random.nextInt(keySpace / 10 + 1) * 1_000_003L);
        }
        else
        {
            tree.clear();
            model.clear();
        }
    }

    private void put(final long key, final long value)
    {
        final Long expected = model.put(key, value);
        assertEquals(expected == null ? MISSING : expected, tree.put(key, value), "put " + key);
    }

    private void remove(final long key)
    {
        final Long expected = model.remove(key);
        assertEquals(expected == null ? MISSING : expected, tree.remove(key), "remove " + key);
    }

    private void checkEvery(final long op)
    {
        if (op % LARGE_CHECK_INTERVAL_OPS == 0)
        {
            tree.check();
            assertEquals(model.size(), tree.size());
        }
    }

    private void assertScanEquals(final long from, final long to)
    {
        final List<long[]> actual = new ArrayList<>();
        tree.scan(from, to, (k, v) -> actual.add(new long[]{k, v}));
        final NavigableMap<Long, Long> expected = from < to ? model.subMap(from, true, to, false) : new TreeMap<>();
        assertEquals(expected.size(), actual.size(), "scan [" + from + ", " + to + ") count");
        int i = 0;
        for (final Map.Entry<Long, Long> entry : expected.entrySet())
        {
            assertEquals(entry.getKey(), actual.get(i)[0], "scan key " + i);
            assertEquals(entry.getValue(), actual.get(i)[1], "scan value " + i);
            i++;
        }
    }

    private void assertContentsEqual()
    {
        assertEquals(model.size(), tree.size());
        final List<long[]> actual = new ArrayList<>();
        tree.forEach((k, v) -> actual.add(new long[]{k, v}));
        assertEquals(model.size(), actual.size());
        int i = 0;
        for (final Map.Entry<Long, Long> entry : model.entrySet())
        {
            assertEquals(entry.getKey(), actual.get(i)[0]);
            assertEquals(entry.getValue(), actual.get(i)[1]);
            assertEquals(entry.getValue(), tree.get(entry.getKey()));
            i++;
        }
    }

    private void assertFilledByAppend()
    {
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        final long leafPagesMin = (tree.size() + tree.leafCapacity() - 1) / tree.leafCapacity();
        // Leaves ~100 % full, branches add well under 1 %.
        assertTrue(tree.pagesInUse() <= leafPagesMin + leafPagesMin / 100 + 3,
            "pages " + tree.pagesInUse() + " for " + leafPagesMin + " full leaves");
        assertContentsEqual();
    }

    private void removeAllInRandomOrder(final Random random)
    {
        final List<Long> keys = new ArrayList<>(model.keySet());
        java.util.Collections.shuffle(keys, random);
        long op = 0;
        for (final Long key : keys)
        {
            remove(key);
            checkEvery(op++);
            if (keys.size() - op < 600)
            {
                tree.check();
            }
        }
        assertEmptyWithNoPages();
    }

    private void assertEmptyWithNoPages()
    {
        tree.check();
        assertEquals(0, tree.size());
        assertEquals(0, tree.pagesInUse());
        assertEquals(0, pool.pagesInUse());
        assertFalse(tree.containsKey(0));
    }
}
