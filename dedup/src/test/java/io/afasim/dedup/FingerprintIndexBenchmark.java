package io.afasim.dedup;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The fingerprint B+ tree as inline dedup uses it, on SHA-256-like (uniformly random) 32-byte keys:
 * <ul>
 *   <li>{@code lookupMiss}: a lookup of a key that is not indexed (a unique write's first step);</li>
 *   <li>{@code lookupHit}: a lookup of an indexed key (a duplicate block);</li>
 *   <li>{@code overwrite}: what an overwrite of a unique block does to the index: the old block's entry removed by
 *   its 8-byte prefix and PBA, then a new key inserted (the entry count stays constant).</li>
 * </ul>
 * The reference, in the same run: {@code java.util.HashMap<Fp, Long>} holding the same entries (what an index with
 * an object per entry would be), looked up the same way.
 * {@code entries} sets the index size: 64 K fits this box's L2 and L3; 4 M does not.
 * Run: {@code bin/afasim bench fingerprint}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED", "-Xmx3g"})
public class FingerprintIndexBenchmark
{
    static final long SEED = 0xF1D0_5EEDL;
    static final int KEY_BYTES = FingerprintBTree.KEY_WIDTH_BYTES;

    @Param({"65536", "4194304"})
    int entries;

    private FingerprintBTree tree;
    private HashMap<Fp, Long> hashMap;
    private UnsafeBuffer present;
    private final UnsafeBuffer absent = new UnsafeBuffer(ByteBuffer.allocateDirect(KEY_BYTES));
    private SplittableRandom random;
    /** {@code present} holds key i at offset i * 32, {@code values[i]} its value. */
    private long[] values;
    private long next;
    private int cursor;

    @Setup(Level.Trial)
    public void setUp()
    {
        random = new SplittableRandom(SEED);
        present = new UnsafeBuffer(ByteBuffer.allocateDirect(entries * KEY_BYTES));
        values = new long[entries];
        tree = new FingerprintBTree(new PagePool(2 * (entries / 50) + 64));
        hashMap = new HashMap<>(2 * entries);
        for (int i = 0; i < entries; i++)
        {
            fill(present, i * KEY_BYTES);
            values[i] = i;
            tree.put(present, i * KEY_BYTES, i);
            hashMap.put(Fp.read(present, i * KEY_BYTES), (long)i);
        }
        next = entries;
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        tree.check();
        System.out.printf("%n[afasim] FingerprintBTree entries=%d height=%d pages=%d%n",
            tree.size(), tree.height(), tree.pagesInUse());
        tree.clear();
    }

    private void fill(final UnsafeBuffer buffer, final int offset)
    {
        for (int i = 0; i < KEY_BYTES; i += 8)
        {
            buffer.putLong(offset + i, random.nextLong());
        }
    }

    @Benchmark
    public long lookupMiss()
    {
        fill(absent, 0);
        return tree.get(absent, 0);
    }

    @Benchmark
    public long lookupHit()
    {
        final int slot = cursor;
        cursor = slot + 1 == entries ? 0 : slot + 1;
        return tree.get(present, slot * KEY_BYTES);
    }

    @Benchmark
    public Long lookupMissHashMap()
    {
        fill(absent, 0);
        return hashMap.get(Fp.read(absent, 0));
    }

    @Benchmark
    public Long lookupHitHashMap()
    {
        final int slot = cursor;
        cursor = slot + 1 == entries ? 0 : slot + 1;
        return hashMap.get(Fp.read(present, slot * KEY_BYTES));
    }

    /** The entry at a random slot goes by its prefix and value (its PBA); a new key takes the slot, with a new PBA. */
    @Benchmark
    public long overwrite()
    {
        final int slot = random.nextInt(entries);
        final int offset = slot * KEY_BYTES;
        final long removed = tree.removeByPrefixAndValue(Fingerprinter.prefix(present, offset), values[slot]);
        fill(present, offset);
        values[slot] = next++;
        tree.put(present, offset, values[slot]);
        return removed;
    }
}
