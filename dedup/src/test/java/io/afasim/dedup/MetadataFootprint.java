package io.afasim.dedup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.stream.Stream;

import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Metadata memory per mapped unique block: writes {@link #BLOCKS} unique 4 KiB blocks at random LBAs
 * of a volume (shelf on /dev/shm) and divides the engine's off-heap metadata (mapping trees,
 * fingerprint index, block table) by the blocks stored. Run by {@code bin/afasim bench dedup}.
 */
public final class MetadataFootprint
{
    static final int BLOCKS = 1 << 19;
    static final long VOLUME_BLOCKS = 1L << 21;

    private MetadataFootprint()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        final Path shm = Path.of("/dev/shm");
        final Path dir = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of("/tmp"), "afasim-footprint-");
        try (DedupStore store = DedupStore.format(dir.resolve("shelf"), UUID.randomUUID(),
            new ShelfConfig(4, 1L << 30, 4 << 20, 256L << 20), new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(1, VOLUME_BLOCKS);
            final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
            final SplittableRandom random = new SplittableRandom(42);
            for (int i = 0; i < 4096; i += 8)
            {
                block.putLong(i, random.nextLong());
            }
            int written = 0;
            while (volume.uniqueBlocks() < BLOCKS)
            {
                block.putLong(0, ++written);
                final int status = volume.write(random.nextLong(VOLUME_BLOCKS), block, 0);
                if (status != IoStatus.OK)
                {
                    throw new IllegalStateException("write failed: " + IoStatus.name(status));
                }
                if (written % 4096 == 0 && store.commit() < 0)
                {
                    throw new IllegalStateException("commit failed");
                }
            }
            final double perBlock = (double)volume.metadataBytes() / volume.uniqueBlocks();
            System.out.printf("[afasim] metadata per mapped unique block: %.1f bytes " +
                "(%,d blocks stored, %,d mapped; mapping trees + fingerprint index + block table = %,d bytes; " +
                "target <= 128, ZFS DDT ~320)%n",
                perBlock, volume.uniqueBlocks(), volume.mappedBlocks(), volume.metadataBytes());
        }
        finally
        {
            try (Stream<Path> paths = Files.walk(dir))
            {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
