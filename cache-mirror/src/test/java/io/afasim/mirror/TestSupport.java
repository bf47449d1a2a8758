package io.afasim.mirror;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/** Seeds, region directories and deterministic block contents shared by the tests. */
final class TestSupport
{
    static final int BLOCK = NvmeRegion.BLOCK_SIZE_BYTES;

    private TestSupport()
    {
    }

    /** The seed from {@code -Dafasim.seed} (blank = unset: a random one), printed for replay. */
    static long seed(final String testName)
    {
        final String property = System.getProperty("afasim.seed", "").trim();
        final long seed = property.isEmpty() ? ThreadLocalRandom.current().nextLong() : Long.parseLong(property);
        System.out.println("[afasim] " + testName + " seed=" + seed + " (replay with -Dafasim.seed=" + seed + ")");
        return seed;
    }

    /** A small-region context under {@code dir}. */
    static CacheContext smallContext(final Path dir)
    {
        return new CacheContext()
            .regionPath(dir.resolve("nvme"))
            .regionSizeBytes(1L << 20)
            .recordCount(64)
            .arrayId(new UUID(0xA11A7L, 42))
            .nodeId(0)
            .volumeCountMax(3)
            .volumeRecordsMax(8)
            .volumeDirtyPercentMax(40)
            .volumeLowWatermarkPercent(50)
            .globalHighWatermarkPercent(80)
            .globalLowWatermarkPercent(60)
            .destageBatchMax(32);
    }

    /** A unique directory under /dev/shm (tmpfs, like the real NVMe memory), or under /tmp without one. */
    static Path shmDirectory() throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        final Path parent = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        return Files.createDirectories(parent.resolve("afasim-test-" + UUID.randomUUID()));
    }

    static void deleteRecursively(final Path dir)
    {
        if (dir == null || !Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /** Fills a block with content determined by (volume, lba, token). */
    static void fill(final MutableDirectBuffer block, final int offset, final int volumeId, final long lba,
        final long token)
    {
        long x = token * 0x9E3779B97F4A7C15L ^ lba * 0xC2B2AE3D27D4EB4FL ^ (volumeId + 1L) * 0x165667B19E3779F9L;
        for (int i = 0; i < BLOCK; i += Long.BYTES)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            block.putLong(offset + i, x);
        }
        block.putLong(offset, token);
    }

    /** True when the block holds exactly fill(volume, lba, token). */
    static boolean matches(final DirectBuffer block, final int offset, final int volumeId, final long lba,
        final long token, final MutableDirectBuffer scratch)
    {
        fill(scratch, 0, volumeId, lba, token);
        for (int i = 0; i < BLOCK; i += Long.BYTES)
        {
            if (block.getLong(offset + i) != scratch.getLong(i))
            {
                return false;
            }
        }
        return true;
    }

    static boolean isZero(final DirectBuffer block, final int offset)
    {
        for (int i = 0; i < BLOCK; i += Long.BYTES)
        {
            if (block.getLong(offset + i) != 0)
            {
                return false;
            }
        }
        return true;
    }
}
