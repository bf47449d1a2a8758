package io.afasim.dedup;

import io.afasim.journal.Seeds;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.UUID;

import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Model-based test of the dedup engine on a real (small) shelf: long seeded sequences of write,
 * overwrite, zero write, trim, read, commit, checkpoint, cleaning and crash-and-recover, checked
 * after every step against a plain array of block contents. A crash drops everything not
 * committed; recovery must give back exactly the committed state.
 */
class DedupModelTest
{
    /** Small journal and segments so that checkpoints (journal full) and cleaning happen often. */
    static final ShelfConfig SHELF = new ShelfConfig(2, 48L << 20, 256 << 10, 1L << 20);
    static final int VOLUME_ID = 7;
    static final int VOLUME_BLOCKS = 1536;
    static final int RANGE_BLOCKS = 64;
    /** Half the writes pick one of a few hot contents (they dedup), half one of many (segments die partly). */
    static final int HOT_CONTENT_COUNT = 16;
    static final int CONTENT_COUNT = 2000;
    static final int STEPS = 4500;
    /** Steps without explicit checkpoints or crashes, with more commits: the 1 MiB journal fills inside writes. */
    static final int QUIET_FROM_STEP = 1000;
    static final int QUIET_TO_STEP = 3500;
    /** Every step checks counts, fingerprints and block contents; every this many steps, every LBA is read too. */
    static final int READ_ALL_INTERVAL = 100;

    @TempDir
    Path dir;

    @Test
    void randomOperationsMatchTheModelThroughCrashesCheckpointsAndCleaning()
    {
        final long seed = Seeds.seed("DedupModelTest");
        final Random random = new Random(seed);
        final int[] current = new int[VOLUME_BLOCKS];
        int[] committed = new int[VOLUME_BLOCKS];
        final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
        final UnsafeBuffer readBack = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
        final UnsafeBuffer expected = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
        final int[] counts = new int[9];
        long movedByCleaning = 0;
        long journalFull = 0;

        DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, context());
        DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
        assertTrue(store.commit() >= 0);

        for (int step = 0; step < STEPS; step++)
        {
            final String where = "seed=" + seed + " step=" + step;
            final int[] before = current.clone();
            final long commitsBefore = store.commitCount();
            final boolean quiet = step >= QUIET_FROM_STEP && step < QUIET_TO_STEP;
            final int drawn = random.nextInt(100);
            final int op = quiet && drawn >= 88 ? 80 + random.nextInt(8) : drawn;
            if (op < 45)
            {
                counts[0]++;
                final int lba = random.nextInt(VOLUME_BLOCKS);
                final int content = random.nextInt(10) == 0 ? 0 :
                    1 + random.nextInt(random.nextBoolean() ? HOT_CONTENT_COUNT : CONTENT_COUNT);
                fill(block, content);
                assertEquals(IoStatus.OK, volume.write(lba, block, 0), where);
                current[lba] = content;
            }
            else if (op < 52)
            {
                counts[1]++;
                final int lba = random.nextInt(VOLUME_BLOCKS);
                final int blockCount = 1 + random.nextInt(Math.min(48, VOLUME_BLOCKS - lba));
                assertEquals(IoStatus.OK, volume.trim(lba, blockCount), where);
                Arrays.fill(current, lba, lba + blockCount, 0);
            }
            else if (op < 80)
            {
                counts[2]++;
                final int lba = random.nextInt(VOLUME_BLOCKS);
                assertEquals(IoStatus.OK, volume.readBlock(lba, readBack, 0), where);
                fill(expected, current[lba]);
                assertEquals(0, compare(expected, readBack), where + " lba=" + lba + " content=" + current[lba]);
                assertEquals(current[lba] == 0, volume.read(lba) == DedupVolume.HOLE, where + " hole/mapped");
            }
            else if (op < 88)
            {
                counts[3]++;
                assertTrue(store.commit() >= 0, where);
                committed = current.clone();
            }
            else if (op < 91)
            {
                counts[4]++;
                assertEquals(IoStatus.OK, store.checkpoint(), where);
                committed = current.clone();
            }
            else if (op < 95)
            {
                counts[5]++;
                final long moved = store.clean();
                assertTrue(moved >= 0, where + " clean: " + moved);
                movedByCleaning += moved;
                committed = current.clone();
            }
            else
            {
                counts[6]++;
                journalFull += store.autoCheckpointCount();
                store.close();
                store = DedupStore.open(dir, context());
                volume = store.volume(VOLUME_ID);
                System.arraycopy(committed, 0, current, 0, VOLUME_BLOCKS);
                verifyAll(volume, current, readBack, expected, where + " after recovery " + store.recovery());
                store.check(true);
            }

            if (store.commitCount() != commitsBefore && op < 52)
            {
                // the volume's redo batch filled up inside this write or trim: a commit made everything before it durable
                counts[7]++;
                committed = before;
            }
            store.check(true);
            assertEquals(mappedCount(current), volume.mappedBlocks(), where + " mapped blocks");
            if (step % READ_ALL_INTERVAL == 0)
            {
                verifyAll(volume, current, readBack, expected, where);
            }
        }
        verifyAll(volume, current, readBack, expected, "seed=" + seed + " end");
        journalFull += store.autoCheckpointCount();
        System.out.println("[afasim] ops write=" + counts[0] + " trim=" + counts[1] + " read=" + counts[2] +
            " commit=" + counts[3] + " checkpoint=" + counts[4] + " clean=" + counts[5] + " crash=" + counts[6] +
            " commitInsideWrite=" + counts[7] + " journalFullCheckpoints=" + journalFull + " movedByCleaning=" + movedByCleaning +
            " dedupRatio=" + volume.dedupRatio());
        assertTrue(counts[6] > 0 && counts[5] > 0 && counts[4] > 0, "every kind of step ran");
        assertTrue(journalFull > 0, "the journal filled up and a commit became a checkpoint at least once (seed=" + seed + ")");
        assertTrue(movedByCleaning > 0, "cleaning moved live blocks at least once (seed=" + seed + ")");
        store.close();
    }

    static DedupContext context()
    {
        // a small redo batch, so that it fills inside writes and forces commits there too
        return new DedupContext().rangeBlocks(RANGE_BLOCKS).pageCountMax(4096).cleanSegmentsMax(2)
            .redoBatchBytes(DedupContext.REDO_BATCH_BYTES_MIN);
    }

    static void verifyAll(
        final DedupVolume volume, final int[] model, final UnsafeBuffer readBack, final UnsafeBuffer expected,
        final String where)
    {
        for (int lba = 0; lba < model.length; lba++)
        {
            assertEquals(IoStatus.OK, volume.readBlock(lba, readBack, 0), where + " lba=" + lba);
            fill(expected, model[lba]);
            assertEquals(0, compare(expected, readBack), where + " lba=" + lba + " content=" + model[lba]);
        }
    }

    static long mappedCount(final int[] model)
    {
        long count = 0;
        for (final int content : model)
        {
            count += content != 0 ? 1 : 0;
        }
        return count;
    }

    /** Deterministic 4 KiB content for an id; id 0 is the zero block (the demo's generator). */
    static void fill(final UnsafeBuffer block, final int content)
    {
        StorageDemo.fill(block, content);
    }

    static int compare(final UnsafeBuffer a, final UnsafeBuffer b)
    {
        for (int i = 0; i < 4096; i += 8)
        {
            if (a.getLong(i) != b.getLong(i))
            {
                return i + 1;
            }
        }
        return 0;
    }
}
