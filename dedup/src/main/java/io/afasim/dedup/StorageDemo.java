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
 * {@code bin/afasim demo} for the storage core: formats a shelf in a temporary directory under
 * /tmp (ext4, O_DIRECT), creates a volume, writes a verified workload where half the blocks
 * duplicate earlier ones, commits in groups, "crashes" (closes without committing the tail),
 * recovers, verifies every committed block, and prints what it measured.
 */
public final class StorageDemo
{
    static final int VOLUME_ID = 1;
    static final long VOLUME_BLOCKS = 64 * 1024;       // 256 MiB volume
    static final int WRITE_COUNT = 100_000;
    static final int COMMIT_EVERY = 64;
    static final int UNCOMMITTED_TAIL = 1000;

    private StorageDemo()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        final long seed = args.length > 0 ? Long.parseLong(args[0]) : System.nanoTime();
        final Path dir = Files.createTempDirectory("afasim-demo-");
        System.out.println("[afasim] demo seed=" + seed + " shelf=" + dir);
        try
        {
            run(dir, seed);
        }
        finally
        {
            try (Stream<Path> paths = Files.walk(dir))
            {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static void run(final Path dir, final long seed)
    {
        final ShelfConfig shelfConfig = new ShelfConfig(4, 256L << 20, 4 << 20, 64L << 20);
        final SplittableRandom random = new SplittableRandom(seed);
        final long[] committedContent = new long[(int)VOLUME_BLOCKS];
        final long[] content = new long[(int)VOLUME_BLOCKS];
        final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
        long nextContent = 1;

        final long startNs;
        final long writeNs;
        final long committedWrites = WRITE_COUNT - UNCOMMITTED_TAIL;
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), shelfConfig, new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            check(store.commit(), "commit");
            startNs = System.nanoTime();
            for (int i = 0; i < WRITE_COUNT; i++)
            {
                final int lba = random.nextInt((int)VOLUME_BLOCKS);
                final long id = nextContent > 1 && random.nextBoolean() ? 1 + random.nextLong(nextContent - 1) : nextContent++;
                fill(block, id);
                check(volume.write(lba, block, 0), "write");
                content[lba] = id;
                if (i < committedWrites && (i + 1) % COMMIT_EVERY == 0)
                {
                    check(store.commit(), "commit");
                    System.arraycopy(content, 0, committedContent, 0, content.length);
                }
            }
            writeNs = System.nanoTime() - startNs;
            System.out.printf("[afasim] wrote %,d blocks (%,d unique contents) in %.2f s: %,.0f blocks/s, group commit every %d%n",
                WRITE_COUNT, nextContent - 1, writeNs / 1e9, WRITE_COUNT * 1e9 / writeNs, COMMIT_EVERY);
            System.out.printf("[afasim] mapped %,d  stored %,d  dedup ratio %.2f  metadata %.1f bytes per stored block%n",
                volume.mappedBlocks(), volume.uniqueBlocks(), volume.dedupRatio(),
                (double)volume.metadataBytes() / Math.max(1, volume.uniqueBlocks()));
            System.out.println("[afasim] crash: closing without committing the last " + UNCOMMITTED_TAIL + " writes");
        }

        final long recoverStartNs = System.nanoTime();
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            final long recoverNs = System.nanoTime() - recoverStartNs;
            System.out.printf("[afasim] recovered in %.0f ms: %s%n", recoverNs / 1e6, store.recovery());
            final DedupVolume volume = store.volume(VOLUME_ID);
            final UnsafeBuffer expected = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
            long verified = 0;
            for (int lba = 0; lba < VOLUME_BLOCKS; lba++)
            {
                check(volume.readBlock(lba, block, 0), "read");
                fill(expected, committedContent[lba]);
                for (int i = 0; i < 4096; i += 8)
                {
                    if (block.getLong(i) != expected.getLong(i))
                    {
                        throw new IllegalStateException("lba " + lba + " lost its committed content " +
                            committedContent[lba] + " (seed " + seed + ")");
                    }
                }
                verified++;
            }
            store.check(true);
            System.out.printf("[afasim] verified %,d blocks after recovery: every committed write reads back; " +
                "invariants hold (counts, fingerprints, content hashes)%n", verified);
            final int freeBefore = store.allocator().freeCount();
            final long moved = store.clean();
            check(moved, "clean");
            System.out.printf("[afasim] cleaning pass (LFS cost-benefit): moved %,d live blocks, freed %d segments%n",
                moved, store.allocator().freeCount() - freeBefore);
        }
    }

    static void fill(final UnsafeBuffer block, final long id)
    {
        if (id == 0)
        {
            block.setMemory(0, 4096, (byte)0);
            return;
        }
        long x = 0x9E3779B97F4A7C15L * id;
        for (int i = 0; i < 4096; i += 8)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            block.putLong(i, x);
        }
    }

    private static void check(final long status, final String what)
    {
        if (status < 0)
        {
            throw new IllegalStateException(what + " failed: " + IoStatus.name(status));
        }
    }
}
