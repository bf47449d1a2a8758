package io.afasim.dedup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Inline dedup engine, 4 KiB unique writes per second, against bare SHA-256 of the same blocks
 * (the floor any inline dedup pays). The engine run includes the mapping and fingerprint B+ trees,
 * reference counts, the redo record, the segment log append (staged writes to the shelf) and a
 * journal group commit every {@link #COMMIT_EVERY} writes. The shelf is on /dev/shm so the number
 * is the engine's CPU cost, not this VM's disk.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class DedupBenchmark
{
    static final int COMMIT_EVERY = 256;
    static final long VOLUME_BLOCKS = 256 * 1024;
    static final int CLEAN_EVERY = 64 * 1024;

    private final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
    private final byte[] heapBlock = new byte[4096];
    private final byte[] digest = new byte[32];
    private MessageDigest sha256;
    private Path dir;
    private DedupStore store;
    private DedupVolume volume;
    private long counter;

    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        sha256 = MessageDigest.getInstance("SHA-256");
        final Path shm = Path.of("/dev/shm");
        dir = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")),
            "afasim-bench-");
        store = DedupStore.format(dir.resolve("shelf"), UUID.randomUUID(),
            new ShelfConfig(4, 1L << 30, 4 << 20, 256L << 20), new DedupContext());
        volume = store.createVolume(1, VOLUME_BLOCKS);
        for (int i = 0; i < 4096; i += 8)
        {
            block.putLong(i, 0x9E3779B97F4A7C15L * (i + 1));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        System.out.printf("%n[afasim] engine: %,d writes, %,d stored, metadata %.1f bytes per stored block%n",
            volume.writeCount(), volume.uniqueBlocks(), (double)volume.metadataBytes() / Math.max(1, volume.uniqueBlocks()));
        store.close();
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Bare SHA-256 of a 4 KiB block whose first word changes each time. */
    @Benchmark
    public byte[] sha256Only() throws Exception
    {
        counter++;
        heapBlock[0] = (byte)counter;
        heapBlock[1] = (byte)(counter >>> 8);
        heapBlock[2] = (byte)(counter >>> 16);
        heapBlock[3] = (byte)(counter >>> 24);
        sha256.update(heapBlock, 0, 4096);
        sha256.digest(digest, 0, 32);
        return digest;
    }

    /** One unique 4 KiB write through the dedup engine (LBAs wrap, so old blocks die and are cleaned). */
    @Benchmark
    public int dedupUniqueWrite()
    {
        final long n = ++counter;
        block.putLong(0, n);
        final int status = volume.write(n % VOLUME_BLOCKS, block, 0);
        if (n % COMMIT_EVERY == 0)
        {
            check(store.commit());
        }
        if (n % CLEAN_EVERY == 0)
        {
            check(store.clean());
        }
        return status;
    }

    private static void check(final long status)
    {
        if (status < 0)
        {
            throw new IllegalStateException(IoStatus.name(status));
        }
    }
}
