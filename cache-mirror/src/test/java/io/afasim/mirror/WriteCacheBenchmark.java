package io.afasim.mirror;

import java.io.IOException;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
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
 * 4 KiB write-cache operations per second on a 64 MiB region under /dev/shm: a write (copy, crc32c,
 * descriptor, sequence last) with destage of the oldest batch whenever the volume is near its cap, and a
 * read hit (crc32c check and copy).
 *
 * <pre>
 * mvn -B -o -q -pl cache-mirror test-compile dependency:build-classpath -Dmdep.outputFile=/tmp/mirror-cp.txt
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
 *   -cp cache-mirror/target/test-classes:cache-mirror/target/classes:$(cat /tmp/mirror-cp.txt) \
 *   org.openjdk.jmh.Main WriteCacheBenchmark -f 1 -wi 2 -i 3 -w 2s -r 3s
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class WriteCacheBenchmark
{
    static final int LBAS = 4096;

    private final UnsafeBuffer block = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
    private final DestageConsumer discard = new DestageConsumer()
    {
        public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer page,
            final int offset)
        {
        }

        public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
            final boolean zeroes)
        {
        }
    };
    private Path dir;
    private NvmeCache nvme;
    private WriteCache cache;
    private long lba;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        dir = TestSupport.shmDirectory();
        final CacheContext ctx = new CacheContext()
            .regionPath(dir.resolve("nvme"))
            .regionSizeBytes(64L << 20)
            .arrayId(UUID.randomUUID())
            .volumeCountMax(4)
            .recordCount(256)
            .volumeDirtyPercentMax(50)
            .conclude();
        nvme = NvmeCache.openOrCreate(ctx);
        cache = nvme.newWriteCache(0);
        TestSupport.fill(block, 0, 0, 0, 1);
        for (long i = 0; i < LBAS; i++)
        {
            cache.write(i, block, 0);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown()
    {
        nvme.close();
        TestSupport.deleteRecursively(dir);
    }

    @Benchmark
    public int write()
    {
        lba = (lba + 7919) % LBAS;
        int status = cache.write(lba, block, 0);
        while (status == CacheStatus.BACK_PRESSURE)
        {
            cache.onDestaged(cache.destageBatch(Integer.MAX_VALUE, discard));
            status = cache.write(lba, block, 0);
        }
        if (cache.isDestageUrgent())
        {
            cache.onDestaged(cache.destageBatch(Integer.MAX_VALUE, discard));
        }
        return status;
    }

    @Benchmark
    public int readHit()
    {
        lba = (lba + 7919) % LBAS;
        final int status = cache.read(lba, block, 0);
        if (status == CacheStatus.MISS)
        {
            cache.write(lba, block, 0);
        }
        return status;
    }
}
