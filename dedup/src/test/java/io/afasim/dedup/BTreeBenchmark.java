package io.afasim.dedup;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * LongBTree vs {@code TreeMap<Long, Long>} on the same 4M random keys in the same order.
 * <ul>
 *   <li>{@code get*}: lookups of present keys, cycling through the key array.</li>
 *   <li>{@code put*}: one invocation inserts all 4M keys into an empty map (cleared before each invocation), so
 *   the score is inserts per second while the map grows from 0 to 4M entries.</li>
 * </ul>
 * Run (see the module notes): {@code java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED -cp ...
 * org.openjdk.jmh.Main BTreeBenchmark -f 1 -wi 2 -i 3 -w 2s -r 3s}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class BTreeBenchmark
{
    static final int KEY_COUNT = 1 << 22;
    static final int KEY_MASK = KEY_COUNT - 1;
    static final long KEY_SEED = 0x5EED_B7EEL;
    /** 4M keys need ~25k leaves at 69 % fill; pool bounded with room for fill variance. */
    static final int POOL_PAGE_COUNT_MAX = 1 << 16;

    static long[] randomKeys()
    {
        final SplittableRandom random = new SplittableRandom(KEY_SEED);
        final long[] keys = new long[KEY_COUNT];
        for (int i = 0; i < KEY_COUNT; i++)
        {
            keys[i] = random.nextLong();
        }
        return keys;
    }

    @State(Scope.Thread)
    public static class GetState
    {
        long[] keys;
        LongBTree tree;
        TreeMap<Long, Long> treeMap;
        int index;

        @Setup(Level.Trial)
        public void setUp()
        {
            keys = randomKeys();
            tree = new LongBTree(new PagePool(POOL_PAGE_COUNT_MAX));
            treeMap = new TreeMap<>();
            for (int i = 0; i < KEY_COUNT; i++)
            {
                tree.put(keys[i], i);
                treeMap.put(keys[i], (long)i);
            }
        }

        @TearDown(Level.Trial)
        public void tearDown()
        {
            tree.check();
            System.out.printf("%n[afasim] LongBTree entries=%d height=%d pages=%d bytesPerEntry=%.1f%n",
                tree.size(), tree.height(), tree.pagesInUse(), tree.bytesPerEntry());
            tree.clear();
        }
    }

    @State(Scope.Thread)
    public static class PutState
    {
        long[] keys;
        LongBTree tree;
        TreeMap<Long, Long> treeMap;

        @Setup(Level.Trial)
        public void setUpTrial()
        {
            keys = randomKeys();
            tree = new LongBTree(new PagePool(POOL_PAGE_COUNT_MAX));
            treeMap = new TreeMap<>();
        }

        @Setup(Level.Invocation)
        public void setUpInvocation()
        {
            tree.clear();
            treeMap = new TreeMap<>();
        }
    }

    @Benchmark
    public long getBTree(final GetState state)
    {
        return state.tree.get(state.keys[state.index++ & KEY_MASK]);
    }

    @Benchmark
    public Long getTreeMap(final GetState state)
    {
        return state.treeMap.get(state.keys[state.index++ & KEY_MASK]);
    }

    @Benchmark
    @OperationsPerInvocation(KEY_COUNT)
    public long putBTree(final PutState state)
    {
        final LongBTree tree = state.tree;
        final long[] keys = state.keys;
        long sum = 0;
        for (int i = 0; i < KEY_COUNT; i++)
        {
            sum += tree.put(keys[i], i);
        }
        return sum + tree.size();
    }

    @Benchmark
    @OperationsPerInvocation(KEY_COUNT)
    public long putTreeMap(final PutState state)
    {
        final TreeMap<Long, Long> treeMap = state.treeMap;
        final long[] keys = state.keys;
        long sum = 0;
        for (int i = 0; i < KEY_COUNT; i++)
        {
            final Long previous = treeMap.put(keys[i], (long)i);
            sum += previous == null ? 0 : previous;
        }
        return sum + treeMap.size();
    }
}
