package io.afasim.dedup;

import io.afasim.journal.Seeds;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;

import static io.afasim.dedup.FingerprintBTree.MISSING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FingerprintBTreeTest
{
    /** Enough keys for height >= 3 with 102-entry leaves and 114-way branches. */
    private static final int LARGE_KEY_COUNT = 60_000;
    private static final int LARGE_CHECK_INTERVAL_OPS = 3_000;
    private static final int SMALL_PHASE_OPS = 20_000;
    private static final int SMALL_KEY_SPACE = 2_000;
    private static final int POOL_PAGE_COUNT_MAX = 1 << 16;
    /** Keys are written at a non-zero offset to check that offsets are honoured. */
    private static final int KEY_OFFSET = 3;

    private final UnsafeBuffer keyBuffer = new UnsafeBuffer(new byte[KEY_OFFSET + 32]);
    private final UnsafeBuffer toKeyBuffer = new UnsafeBuffer(new byte[32]);
    private final TreeMap<Fp, Long> model = new TreeMap<>();
    private PagePool pool;
    private FingerprintBTree tree;

    @BeforeEach
    void setUp()
    {
        pool = new PagePool(POOL_PAGE_COUNT_MAX);
        tree = new FingerprintBTree(pool);
    }

    @AfterEach
    void tearDown()
    {
        tree.clear();
        assertEquals(0, pool.pagesInUse(), "pages leaked");
    }

    @Test
    void keyOrderIsUnsignedLexicographicBytes()
    {
        final UnsafeBuffer a = new UnsafeBuffer(new byte[32]);
        final UnsafeBuffer b = new UnsafeBuffer(new byte[32]);
        a.putByte(0, (byte)0x7F);
        b.putByte(0, (byte)0x80);
        assertTrue(FingerprintBTree.compareFingerprints(a, 0, b, 0) < 0, "0x7F.. < 0x80..");
        a.putByte(0, (byte)0x80);
        a.putByte(31, (byte)0x01);
        assertTrue(FingerprintBTree.compareFingerprints(a, 0, b, 0) > 0, "last byte decides");
        b.putByte(31, (byte)0x01);
        assertEquals(0, FingerprintBTree.compareFingerprints(a, 0, b, 0));
    }

    @Test
    void emptyTree()
    {
        tree.check();
        new Fp(1, 2, 3, 4).writeTo(keyBuffer, KEY_OFFSET);
        assertEquals(MISSING, tree.get(keyBuffer, KEY_OFFSET));
        assertEquals(MISSING, tree.remove(keyBuffer, KEY_OFFSET));
        assertEquals(MISSING, tree.replaceValue(keyBuffer, KEY_OFFSET, 1));
        assertTrue(tree.scanWhile(null, 0, null, 0, (k, o, v) -> false));
        assertTrue(tree.scanWhile(keyBuffer, KEY_OFFSET, null, 0, (k, o, v) -> false));
        assertThrows(IllegalArgumentException.class, () -> tree.put(keyBuffer, KEY_OFFSET, MISSING));
        assertEquals(0, tree.size());
    }

    @Test
    void randomOpsCheckedAfterEveryOp()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.randomOpsCheckedAfterEveryOp"));
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
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.randomOpsOnLargeTree"));
        for (int i = 0; i < LARGE_KEY_COUNT; i++)
        {
            put(randomFp(random), i);
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        for (int op = 0; op < LARGE_KEY_COUNT * 2; op++)
        {
            randomOp(random, LARGE_KEY_COUNT * 2, op);
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
    void ascendingInsertFillsLeavesThenRandomDeleteToEmpty()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.ascendingInsertFillsLeaves"));
        for (int i = 0; i < LARGE_KEY_COUNT; i++)
        {
            // Carries across the longs: ascending in all four words.
            put(new Fp(i >>> 12, -1L, i & 0xF00, (long)(i & 0xFF) << 56), i);
            checkEvery(i);
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        final long leafPagesMin = (tree.size() + tree.leafCapacity() - 1) / tree.leafCapacity();
        assertTrue(tree.pagesInUse() <= leafPagesMin + leafPagesMin / 50 + 3,
            "pages " + tree.pagesInUse() + " for " + leafPagesMin + " full leaves");
        assertContentsEqual();
        removeAllInRandomOrder(random);
    }

    @Test
    void descendingInsertThenAscendingDelete()
    {
        for (int i = LARGE_KEY_COUNT; i > 0; i--)
        {
            put(new Fp(-1L, i, 0, 0), i);
            checkEvery(i);
        }
        tree.check();
        assertContentsEqual();
        int op = 0;
        while (!model.isEmpty())
        {
            remove(model.firstKey());
            checkEvery(op++);
        }
        assertEmptyWithNoPages();
    }

    @Test
    void clusteredInsertThenDeleteEverything()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.clusteredInsertThenDeleteEverything"));
        int op = 0;
        while (model.size() < LARGE_KEY_COUNT)
        {
            final Fp start = randomFp(random);
            final int runLength = 1 + random.nextInt(300);
            for (int i = 0; i < runLength; i++)
            {
                put(new Fp(start.a(), start.b(), start.c(), start.d() + i), op);
                checkEvery(op++);
            }
        }
        tree.check();
        assertContentsEqual();
        while (!model.isEmpty())
        {
            Fp key = model.ceilingKey(randomFp(random));
            if (key == null)
            {
                key = model.firstKey();
            }
            final int runLength = 1 + random.nextInt(600);
            for (int i = 0; i < runLength && key != null; i++)
            {
                final Fp next = model.higherKey(key);
                remove(key);
                checkEvery(op++);
                key = next;
            }
        }
        assertEmptyWithNoPages();
    }

    @Test
    void extremeKeys()
    {
        final Fp[] keys = {
            new Fp(0, 0, 0, 0), new Fp(0, 0, 0, 1), new Fp(-1L, -1L, -1L, -1L), new Fp(-1L, -1L, -1L, -2L),
            new Fp(Long.MIN_VALUE, 0, 0, 0), new Fp(Long.MAX_VALUE, -1L, -1L, -1L)};
        for (final Fp key : keys)
        {
            put(key, 1);
            tree.check();
        }
        for (int i = 0; i < 5_000; i++)
        {
            put(new Fp(0, 0, 1, i), i);
            put(new Fp(-1L, -1L, -2L, -i), i);
        }
        tree.check();
        assertContentsEqual();
        for (final Fp key : keys)
        {
            remove(key);
        }
        tree.check();
        assertContentsEqual();
    }

    @Test
    void scansMatchModelAndStopEarly()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.scansMatchModelAndStopEarly"));
        for (int i = 0; i < 30_000; i++)
        {
            put(randomFp(random), i);
        }
        tree.check();
        for (int i = 0; i < 300; i++)
        {
            Fp from = randomFp(random);
            Fp to = randomFp(random);
            if (from.compareTo(to) > 0)
            {
                final Fp swap = from;
                from = to;
                to = swap;
            }
            assertScanEquals(from, to);
            assertScanEquals(from, null);
            assertScanEquals(null, to);

            final int limit = 1 + random.nextInt(50);
            final List<Fp> seen = new ArrayList<>();
            from.writeTo(keyBuffer, KEY_OFFSET);
            final boolean completed = tree.scanWhile(
                keyBuffer, KEY_OFFSET, null, 0, (k, o, v) -> seen.add(Fp.read(k, o)) && seen.size() < limit);
            final List<Fp> expected = new ArrayList<>(model.tailMap(from, true).keySet());
            assertEquals(expected.size() < limit, completed);
            assertEquals(expected.subList(0, Math.min(limit, expected.size())), seen);
        }
        assertScanEquals(null, null);
    }

    @Test
    void replaceValueUpdatesOnlyPresentKeys()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreeTest.replaceValueUpdatesOnlyPresentKeys"));
        for (int i = 0; i < 5_000; i++)
        {
            put(randomFp(random), i);
        }
        final int pagesBefore = tree.pagesInUse();
        for (final Map.Entry<Fp, Long> entry : model.entrySet())
        {
            entry.getKey().writeTo(keyBuffer, KEY_OFFSET);
            assertEquals(entry.getValue(), tree.replaceValue(keyBuffer, KEY_OFFSET, entry.getValue() + 1));
            entry.setValue(entry.getValue() + 1);
        }
        randomFp(random).writeTo(keyBuffer, KEY_OFFSET);
        assertEquals(MISSING, tree.replaceValue(keyBuffer, KEY_OFFSET, 5));
        assertEquals(pagesBefore, tree.pagesInUse());
        tree.check();
        assertContentsEqual();
    }

    private static Fp randomFp(final Random random)
    {
        return new Fp(random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong());
    }

    /** Small key space with shared prefixes so comparisons reach every word. */
    private static Fp smallSpaceFp(final Random random, final int keySpace)
    {
        final int k = random.nextInt(keySpace);
        return new Fp(k % 3 == 0 ? -1L : 7, k % 5, (long)(k % 7) << 63, k);
    }

    private void randomOp(final Random random, final int keySpace, final int op)
    {
        final Fp key = smallSpaceFp(random, keySpace);
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
            key.writeTo(keyBuffer, KEY_OFFSET);
            assertEquals(model.getOrDefault(key, MISSING), tree.get(keyBuffer, KEY_OFFSET), "get at op " + op);
        }
        else if (dice < 999)
        {
            final Fp other = smallSpaceFp(random, keySpace);
            assertScanEquals(key.compareTo(other) <= 0 ? key : other, key.compareTo(other) <= 0 ? other : key);
        }
        else
        {
            tree.clear();
            model.clear();
        }
    }

    private void put(final Fp key, final long value)
    {
        key.writeTo(keyBuffer, KEY_OFFSET);
        final Long expected = model.put(key, value);
        assertEquals(expected == null ? MISSING : expected, tree.put(keyBuffer, KEY_OFFSET, value), "put " + key);
    }

    private void remove(final Fp key)
    {
        key.writeTo(keyBuffer, KEY_OFFSET);
        final Long expected = model.remove(key);
        assertEquals(expected == null ? MISSING : expected, tree.remove(keyBuffer, KEY_OFFSET), "remove " + key);
    }

    private void checkEvery(final long op)
    {
        if (op % LARGE_CHECK_INTERVAL_OPS == 0)
        {
            tree.check();
            assertEquals(model.size(), tree.size());
        }
    }

    /** Null bound = open end. */
    private void assertScanEquals(final Fp from, final Fp to)
    {
        final List<Map.Entry<Fp, Long>> actual = new ArrayList<>();
        if (from != null)
        {
            from.writeTo(keyBuffer, KEY_OFFSET);
        }
        if (to != null)
        {
            to.writeTo(toKeyBuffer, 0);
        }
        tree.scan(from == null ? null : keyBuffer, KEY_OFFSET, to == null ? null : toKeyBuffer, 0,
            (k, o, v) -> actual.add(Map.entry(Fp.read(k, o), v)));
        final SortedMap<Fp, Long> expected =
            from == null ? (to == null ? model : model.headMap(to)) : (to == null ? model.tailMap(from) :
            model.subMap(from, to));
        assertEquals(new ArrayList<>(expected.entrySet()), actual, "scan [" + from + ", " + to + ")");
    }

    private void assertContentsEqual()
    {
        assertEquals(model.size(), tree.size());
        assertScanEquals(null, null);
        for (final Map.Entry<Fp, Long> entry : model.entrySet())
        {
            entry.getKey().writeTo(keyBuffer, KEY_OFFSET);
            assertEquals(entry.getValue(), tree.get(keyBuffer, KEY_OFFSET));
        }
    }

    private void removeAllInRandomOrder(final Random random)
    {
        final List<Fp> keys = new ArrayList<>(model.keySet());
        Collections.shuffle(keys, random);
        int op = 0;
        for (final Fp key : keys)
        {
            remove(key);
            checkEvery(op++);
            if (keys.size() - op < 300)
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
    }
}
