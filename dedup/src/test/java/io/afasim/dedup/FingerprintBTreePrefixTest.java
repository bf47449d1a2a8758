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
import java.util.TreeMap;

import static io.afasim.dedup.FingerprintBTree.MISSING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FingerprintBTree#removeByPrefixAndValue} and {@link FingerprintBTree#replaceValueByPrefixAndValue} against a
 * model. Long runs of keys sharing one 8-byte prefix (leaves hold 102 entries) put the entry sought past the leaf the
 * descent reaches, and runs that start exactly at a leaf boundary make the descent land left of the run (lower bound
 * at the leaf's count): both take the sibling walk. Neighbouring prefixes (prefix - 1 with high tails, prefix + 1
 * with low tails, the signed/unsigned boundary) catch a walk that runs past the prefix.
 */
class FingerprintBTreePrefixTest
{
    private static final int POOL_PAGE_COUNT_MAX = 1 << 16;
    /** Three leaves or more of one prefix. */
    private static final int LONG_RUN_KEYS = 300;
    /** One prefix deep enough for height 3 (102-entry leaves, 114-way branches). */
    private static final int DEEP_RUN_KEYS = 15_000;
    private static final int BACKGROUND_KEYS = 20_000;
    private static final int MIXED_OPS = 40_000;
    private static final int CHECK_INTERVAL_OPS = 500;

    private final UnsafeBuffer keyBuffer = new UnsafeBuffer(new byte[32]);
    private final TreeMap<Fp, Long> model = new TreeMap<>();
    private PagePool pool;
    private FingerprintBTree tree;
    /** Values handed out so far: unique unless a test reuses one on purpose. */
    private long nextValue = 1;

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
    void longRunsOfOnePrefixAmongOthersRemovedAndRepointed()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreePrefixTest.longRunsOfOnePrefixAmongOthers"));
        final long hot = random.nextLong();
        final long[] runPrefixes = {hot, Long.MAX_VALUE, Long.MIN_VALUE, 0, -1L};
        for (int i = 0; i < BACKGROUND_KEYS; i++)
        {
            put(randomFp(random), nextValue++);
        }
        for (final long prefix : runPrefixes)
        {
            putNeighbours(random, prefix);
            for (int i = 0; i < LONG_RUN_KEYS; i++)
            {
                put(randomFpWithPrefix(random, prefix), nextValue++);
            }
        }
        tree.check();
        assertTrue(tree.height() >= 3, "height " + tree.height());
        assertContentsEqual("after load");

        // Repoint every entry of the runs, in random order: the walk must find entries in later leaves too.
        for (final long prefix : runPrefixes)
        {
            final List<Map.Entry<Fp, Long>> run = entriesWithPrefix(prefix);
            Collections.shuffle(run, random);
            for (final Map.Entry<Fp, Long> entry : run)
            {
                replace(prefix, entry.getValue(), nextValue++);
            }
            tree.check();
            assertContentsEqual("after repointing prefix " + Long.toHexString(prefix));
        }

        // Remove the hot run in random order, checking the structure after every remove.
        final List<Map.Entry<Fp, Long>> hotRun = entriesWithPrefix(hot);
        assertEquals(LONG_RUN_KEYS, hotRun.size());
        Collections.shuffle(hotRun, random);
        for (final Map.Entry<Fp, Long> entry : hotRun)
        {
            remove(hot, entry.getValue());
            tree.check();
        }
        assertContentsEqual("after removing the hot run");
        assertEquals(0, entriesWithPrefix(hot).size());

        // The other runs, each in key order from its end: the entries sought sit in the run's last leaf.
        for (int r = 1; r < runPrefixes.length; r++)
        {
            final List<Map.Entry<Fp, Long>> run = entriesWithPrefix(runPrefixes[r]);
            Collections.reverse(run);
            for (final Map.Entry<Fp, Long> entry : run)
            {
                remove(runPrefixes[r], entry.getValue());
            }
            tree.check();
            assertContentsEqual("after removing prefix " + Long.toHexString(runPrefixes[r]));
        }

        removeAllByPrefixAndValue(random);
    }

    @Test
    void singlePrefixTreeCollapsesToEmpty()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreePrefixTest.singlePrefixTreeCollapsesToEmpty"));
        final long prefix = random.nextLong();
        putPrefixRun(random, prefix, LONG_RUN_KEYS, 2);
        final List<Map.Entry<Fp, Long>> run = entriesWithPrefix(prefix);
        Collections.shuffle(run, random);
        for (final Map.Entry<Fp, Long> entry : run)
        {
            remove(prefix, entry.getValue());
            tree.check();
            assertContentsEqual("single prefix, " + model.size() + " left");
        }
        assertEmptyWithNoPages();
    }

    @Test
    void deepSinglePrefixTreeRepointedThenCollapsesToEmpty()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreePrefixTest.deepSinglePrefixTree"));
        final long prefix = random.nextLong();
        putNeighbours(random, prefix);
        putPrefixRun(random, prefix, DEEP_RUN_KEYS, 3);

        final List<Map.Entry<Fp, Long>> run = entriesWithPrefix(prefix);
        Collections.shuffle(run, random);
        for (int i = 0; i < run.size(); i += 7)
        {
            replace(prefix, run.get(i).getValue(), nextValue++);
        }
        tree.check();
        assertContentsEqual("after repointing");

        int op = 0;
        for (final Map.Entry<Fp, Long> entry : entriesWithPrefix(prefix))
        {
            if (random.nextBoolean())
            {
                remove(prefix, entry.getValue());
                if (++op % CHECK_INTERVAL_OPS == 0)
                {
                    tree.check();
                }
            }
        }
        tree.check();
        assertContentsEqual("after removing half");
        removeAllByPrefixAndValue(random);
    }

    @Test
    void randomMixOfPutsRemovesAndRepointsOnFewPrefixes()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreePrefixTest.randomMixOnFewPrefixes"));
        // Few prefixes, so runs grow past leaves, shrink, and start and end anywhere relative to leaf boundaries.
        final long[] prefixes = new long[16];
        for (int i = 0; i < prefixes.length; i++)
        {
            prefixes[i] = i < 4 ? random.nextLong() : i < 8 ? prefixes[i - 4] + 1 : i < 12 ? prefixes[i - 8] - 1 :
                i == 12 ? Long.MAX_VALUE : i == 13 ? Long.MIN_VALUE : i == 14 ? 0 : -1L;
        }
        final List<Fp> keys = new ArrayList<>();
        for (int op = 0; op < MIXED_OPS; op++)
        {
            final long prefix = prefixes[random.nextInt(prefixes.length)];
            final int dice = random.nextInt(100);
            if (dice < 45)
            {
                // Now and then a value already used in the run: the first entry in key order must be the one taken.
                final Map.Entry<Fp, Long> sameRun = dice < 2 ? randomEntryWithPrefix(random, prefix) : null;
                final Fp key = randomFpWithPrefix(random, prefix);
                put(key, sameRun != null ? sameRun.getValue() : nextValue++);
                keys.add(key);
            }
            else if (dice < 80)
            {
                final Map.Entry<Fp, Long> entry = randomEntryWithPrefix(random, prefix);
                remove(prefix, entry != null ? entry.getValue() : nextValue++);
            }
            else if (dice < 95)
            {
                final Map.Entry<Fp, Long> entry = randomEntryWithPrefix(random, prefix);
                replace(prefix, entry != null ? entry.getValue() : nextValue++, nextValue++);
            }
            else if (!keys.isEmpty())
            {
                // The value of an entry, asked for under a neighbouring prefix: must miss.
                final Long value = model.get(keys.get(random.nextInt(keys.size())));
                if (value != null)
                {
                    remove(prefix, value);
                }
            }
            if (op % CHECK_INTERVAL_OPS == 0)
            {
                tree.check();
                assertEquals(model.size(), tree.size(), "size at op " + op);
            }
        }
        tree.check();
        assertContentsEqual("after the mix");
        removeAllByPrefixAndValue(random);
    }

    @Test
    void missingPrefixOrValueLeavesTreeUnchanged()
    {
        final Random random = new Random(Seeds.seed("FingerprintBTreePrefixTest.missingPrefixOrValue"));
        assertEquals(MISSING, tree.removeByPrefixAndValue(1, 1), "empty tree");
        assertEquals(MISSING, tree.replaceValueByPrefixAndValue(1, 1, 2), "empty tree");
        assertEmptyWithNoPages();

        final long prefix = random.nextLong();
        putNeighbours(random, prefix);
        for (int i = 0; i < LONG_RUN_KEYS; i++)
        {
            put(randomFpWithPrefix(random, prefix), nextValue++);
        }
        for (int i = 0; i < 5_000; i++)
        {
            put(randomFp(random), nextValue++);
        }
        // The smallest and largest key with the prefix, and a key equal to the descent's search key.
        put(new Fp(prefix, 0, 0, 0), nextValue++);
        put(new Fp(prefix, -1L, -1L, -1L), nextValue++);
        tree.check();
        final List<Map.Entry<Fp, Long>> before = scan();
        final int pagesBefore = tree.pagesInUse();

        final long valueBelowRun = model.lowerEntry(new Fp(prefix, 0, 0, 0)).getValue();
        final long valueAboveRun = model.higherEntry(new Fp(prefix, -1L, -1L, -1L)).getValue();
        final long valueInRun = entriesWithPrefix(prefix).get(LONG_RUN_KEYS / 2).getValue();
        final long absentValue = nextValue + 1;
        for (final long absentPrefix : new long[]{prefix + 2, prefix - 2, 0, -1L})
        {
            assertTrue(entriesWithPrefix(absentPrefix).isEmpty(), "prefix meant to be absent is present");
        }
        final long[][] misses = {
            {prefix, absentValue},
            {prefix, MISSING},
            {prefix, valueBelowRun},
            {prefix, valueAboveRun},
            {prefix - 1, valueInRun},
            {prefix + 1, valueInRun},
            {prefix + 2, valueAboveRun},
            {prefix - 2, valueBelowRun},
            {0, absentValue},
            {-1L, absentValue}};
        for (final long[] miss : misses)
        {
            final String what = "prefix 0x" + Long.toHexString(miss[0]) + " value " + miss[1];
            assertEquals(MISSING, tree.removeByPrefixAndValue(miss[0], miss[1]), "remove " + what);
            assertEquals(MISSING, tree.replaceValueByPrefixAndValue(miss[0], miss[1], 5), "replace " + what);
            assertEquals(before, scan(), "tree changed by " + what);
            assertEquals(pagesBefore, tree.pagesInUse(), what);
            tree.check();
        }

        final long present = entriesWithPrefix(prefix).get(LONG_RUN_KEYS - 1).getValue();
        assertThrows(
            IllegalArgumentException.class, () -> tree.replaceValueByPrefixAndValue(prefix, present, MISSING));
        assertEquals(before, scan(), "tree changed by a rejected replace");
        tree.check();
    }

    private static Fp randomFp(final Random random)
    {
        return new Fp(random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong());
    }

    /** Tails drawn from a small range now and then, so keys collide in word 1 and order falls to words 2 and 3. */
    private static Fp randomFpWithPrefix(final Random random, final long prefix)
    {
        return random.nextInt(4) == 0 ?
            new Fp(prefix, random.nextInt(3), random.nextInt(3), random.nextLong()) :
            new Fp(prefix, random.nextLong(), random.nextLong(), random.nextLong());
    }

    /** Keys right next to the prefix's run: the top of prefix - 1 and the bottom of prefix + 1. */
    /** Puts {@code count} keys with the prefix and checks the tree has grown to at least {@code minHeight}. */
    private void putPrefixRun(final Random random, final long prefix, final int count, final int minHeight)
    {
        for (int i = 0; i < count; i++)
        {
            put(randomFpWithPrefix(random, prefix), nextValue++);
        }
        tree.check();
        assertTrue(tree.height() >= minHeight, "height " + tree.height());
    }

    private void putNeighbours(final Random random, final long prefix)
    {
        for (int i = 0; i < 3; i++)
        {
            put(new Fp(prefix - 1, -1L, -1L, -1L - i), nextValue++);
            put(new Fp(prefix + 1, 0, 0, i), nextValue++);
            put(new Fp(prefix - 1, random.nextLong(), random.nextLong(), random.nextLong()), nextValue++);
            put(new Fp(prefix + 1, random.nextLong(), random.nextLong(), random.nextLong()), nextValue++);
        }
    }

    private void put(final Fp key, final long value)
    {
        key.writeTo(keyBuffer, 0);
        final Long expected = model.put(key, value);
        assertEquals(expected == null ? MISSING : expected, tree.put(keyBuffer, 0, value), "put " + key);
    }

    /** Entries with the prefix in key order (copies). */
    private List<Map.Entry<Fp, Long>> entriesWithPrefix(final long prefix)
    {
        final List<Map.Entry<Fp, Long>> entries = new ArrayList<>();
        for (final Map.Entry<Fp, Long> entry : model.tailMap(new Fp(prefix, 0, 0, 0), true).entrySet())
        {
            if (entry.getKey().a() != prefix)
            {
                break;
            }
            entries.add(Map.entry(entry.getKey(), entry.getValue()));
        }
        return entries;
    }

    private Map.Entry<Fp, Long> randomEntryWithPrefix(final Random random, final long prefix)
    {
        final List<Map.Entry<Fp, Long>> entries = entriesWithPrefix(prefix);
        return entries.isEmpty() ? null : entries.get(random.nextInt(entries.size()));
    }

    /** The model's answer: the first key in key order with the prefix and the value, or null. */
    private Fp expectedKey(final long prefix, final long value)
    {
        for (final Map.Entry<Fp, Long> entry : entriesWithPrefix(prefix))
        {
            if (entry.getValue() == value)
            {
                return entry.getKey();
            }
        }
        return null;
    }

    private void remove(final long prefix, final long value)
    {
        final Fp key = expectedKey(prefix, value);
        final String what = "remove prefix 0x" + Long.toHexString(prefix) + " value " + value;
        if (key == null)
        {
            final long sizeBefore = tree.size();
            assertEquals(MISSING, tree.removeByPrefixAndValue(prefix, value), what);
            assertEquals(sizeBefore, tree.size(), what);
            return;
        }
        model.remove(key);
        assertEquals(value, tree.removeByPrefixAndValue(prefix, value), what);
        key.writeTo(keyBuffer, 0);
        assertEquals(MISSING, tree.get(keyBuffer, 0), what + ": key " + key + " still present");
        assertEquals(model.size(), tree.size(), what);
    }

    private void replace(final long prefix, final long oldValue, final long newValue)
    {
        final Fp key = expectedKey(prefix, oldValue);
        final String what = "replace prefix 0x" + Long.toHexString(prefix) + " value " + oldValue;
        if (key == null)
        {
            assertEquals(MISSING, tree.replaceValueByPrefixAndValue(prefix, oldValue, newValue), what);
            return;
        }
        model.put(key, newValue);
        assertEquals(oldValue, tree.replaceValueByPrefixAndValue(prefix, oldValue, newValue), what);
        key.writeTo(keyBuffer, 0);
        assertEquals(newValue, tree.get(keyBuffer, 0), what + ": key " + key);
    }

    private List<Map.Entry<Fp, Long>> scan()
    {
        final List<Map.Entry<Fp, Long>> entries = new ArrayList<>();
        tree.scan(null, 0, null, 0, (k, o, v) -> entries.add(Map.entry(Fp.read(k, o), v)));
        return entries;
    }

    private void assertContentsEqual(final String when)
    {
        assertEquals(model.size(), tree.size(), when);
        assertEquals(new ArrayList<>(model.entrySet()), scan(), when);
    }

    /** Removes every entry by its prefix and value, in random order, down to an empty tree with no pages. */
    private void removeAllByPrefixAndValue(final Random random)
    {
        final List<Map.Entry<Fp, Long>> entries = new ArrayList<>();
        for (final Map.Entry<Fp, Long> entry : model.entrySet())
        {
            entries.add(Map.entry(entry.getKey(), entry.getValue()));
        }
        Collections.shuffle(entries, random);
        int op = 0;
        for (final Map.Entry<Fp, Long> entry : entries)
        {
            // A duplicated value may have taken an earlier key of the run already: remove whichever is first.
            remove(entry.getKey().a(), entry.getValue());
            if (++op % CHECK_INTERVAL_OPS == 0 || entries.size() - op < LONG_RUN_KEYS)
            {
                tree.check();
            }
        }
        assertContentsEqual("after removing everything");
        assertEmptyWithNoPages();
    }

    private void assertEmptyWithNoPages()
    {
        tree.check();
        assertEquals(0, tree.size());
        assertEquals(0, tree.height());
        assertEquals(0, tree.pagesInUse());
        assertEquals(0, pool.pagesInUse());
    }
}
