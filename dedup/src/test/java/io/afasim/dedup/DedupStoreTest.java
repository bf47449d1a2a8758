package io.afasim.dedup;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.UUID;

import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.afasim.dedup.DedupModelTest.compare;
import static io.afasim.dedup.DedupModelTest.fill;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DedupStoreTest
{
    static final ShelfConfig SHELF = new ShelfConfig(2, 48L << 20, 256 << 10, 1L << 20);
    static final int VOLUME_ID = 3;
    static final long VOLUME_BLOCKS = 4096;

    @TempDir
    Path dir;

    private final UnsafeBuffer block = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
    private final UnsafeBuffer readBack = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));

    @Test
    void aZeroedStoreServesWritesAndAnUnknownProvisioningIsRefused()
    {
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext().shelfProvision("zeroed")))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            fill(block, 9);
            assertEquals(IoStatus.OK, volume.write(7, block, 0));
            assertEquals(IoStatus.OK, volume.readBlock(7, readBack, 0));
            assertEquals(0, compare(block, readBack), "the written block reads back");
            assertEquals(IoStatus.OK, volume.readBlock(8, readBack, 0));
            assertEquals(0, compare(new UnsafeBuffer(ByteBuffer.allocateDirect(4096)), readBack), "a hole reads as zeros");
        }
        final IllegalArgumentException refused = org.junit.jupiter.api.Assertions.assertThrows(
            IllegalArgumentException.class,
            () -> DedupStore.format(dir.resolve("other"), UUID.randomUUID(), SHELF, new DedupContext().shelfProvision("thick")));
        assertEquals("afasim.shelf.provision=thick must be sparse or zeroed", refused.getMessage());
    }

    @Test
    void duplicateBlocksAreStoredOnceAndZeroBlocksAreHoles()
    {
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            fill(block, 5);
            for (int lba = 0; lba < 100; lba++)
            {
                assertEquals(IoStatus.OK, volume.write(lba, block, 0));
            }
            assertEquals(100, volume.mappedBlocks());
            assertEquals(1, volume.uniqueBlocks());
            assertEquals(100.0, volume.dedupRatio());
            assertEquals(volume.read(0), volume.read(99), "all LBAs share one PBA");

            fill(block, 0);
            assertEquals(IoStatus.OK, volume.write(50, block, 0));
            assertEquals(DedupVolume.HOLE, volume.read(50), "a zero block unmaps (thin)");
            assertEquals(IoStatus.OK, volume.trim(0, 50));
            assertEquals(49, volume.mappedBlocks());
            assertEquals(IoStatus.OK, volume.trim(51, 49));
            assertEquals(0, volume.uniqueBlocks(), "the last reference gone, the fingerprint goes too");
            store.check(true);
        }
    }

    @Test
    void corruptionOnTheDriveIsReportedNeverReturnedAsData()
    {
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            fill(block, 9);
            assertEquals(IoStatus.OK, volume.write(7, block, 0));
            assertTrue(store.commit() > 0);

            final int drive = store.shelf().layout().driveOf(volume.read(7));
            store.shelf().drive(drive).faults().corruptNextReads(1);
            readBack.setMemory(0, 4096, (byte)0x55);
            assertEquals(IoStatus.CHECKSUM_MISMATCH, volume.readBlock(7, readBack, 0));
            store.shelf().drive(drive).faults().failNextReads(1);
            assertEquals(IoStatus.MEDIA_ERROR, volume.readBlock(7, readBack, 0));
            assertEquals(IoStatus.OK, volume.readBlock(7, readBack, 0));
            assertEquals(0, compare(block, readBack));
        }
    }

    @Test
    void aFailedSyncFencesTheStoreAndReopenRecoversExactlyTheCommittedState()
    {
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            for (int lba = 0; lba < 200; lba++)
            {
                fill(block, 1 + lba);
                assertEquals(IoStatus.OK, volume.write(lba, block, 0));
            }
            assertTrue(store.commit() > 0);
            for (int lba = 200; lba < 300; lba++)
            {
                fill(block, 1 + lba);
                assertEquals(IoStatus.OK, volume.write(lba, block, 0));
            }
            for (int i = 0; i < store.shelf().driveCount(); i++)
            {
                store.shelf().drive(i).faults().failNextSyncs(1);
            }
            assertEquals(IoStatus.MEDIA_ERROR, store.commit());
            assertTrue(store.isFailed());
            assertEquals(IoStatus.MEDIA_ERROR, store.commit(), "nothing more is committed once fenced");
        }
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            final DedupVolume volume = store.volume(VOLUME_ID);
            for (int lba = 0; lba < 300; lba++)
            {
                assertEquals(IoStatus.OK, volume.readBlock(lba, readBack, 0));
                fill(block, lba < 200 ? 1 + lba : 0);
                assertEquals(0, compare(block, readBack), "lba " + lba);
            }
            store.check(true);
        }
    }

    @Test
    void segmentsOfAnImageLeftBehindByACrashAreFreedOnRecovery()
    {
        final int allocatedAfterCheckpoint;
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext()))
        {
            final DedupVolume volume = store.createVolume(VOLUME_ID, VOLUME_BLOCKS);
            for (int lba = 0; lba < 2000; lba++)
            {
                fill(block, 1 + lba);
                assertEquals(IoStatus.OK, volume.write(lba, block, 0));
            }
            assertEquals(IoStatus.OK, store.checkpoint());
            allocatedAfterCheckpoint = store.allocator().allocatedCount();
            // crash between the new superblock and the release of the previous image
            assertEquals(IoStatus.OK, store.checkpoint(false));
            assertTrue(store.allocator().allocatedCount() > allocatedAfterCheckpoint, "the first image is still allocated");
        }
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            assertTrue(store.recovery().orphanedSegmentsFreed() > 0, store.recovery().toString());
            assertEquals(allocatedAfterCheckpoint, store.allocator().allocatedCount(), store.recovery().toString());
            store.check(true);
            final DedupVolume volume = store.volume(VOLUME_ID);
            for (int lba = 0; lba < 2000; lba += 97)
            {
                assertEquals(IoStatus.OK, volume.readBlock(lba, readBack, 0));
                fill(block, 1 + lba);
                assertEquals(0, compare(block, readBack), "lba " + lba);
            }
        }
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            assertEquals(0, store.recovery().orphanedSegmentsFreed(), "the frees were journaled");
            assertEquals(allocatedAfterCheckpoint, store.allocator().allocatedCount());
        }
    }

    @Test
    void aDeletedVolumeFreesItsSegmentsAndStaysDeletedWhileOthersKeepTheirData()
    {
        final int freeBefore;
        try (DedupStore store = DedupStore.format(dir, UUID.randomUUID(), SHELF, new DedupContext()))
        {
            freeBefore = store.allocator().freeCount();
            final DedupVolume keep = store.createVolume(1, VOLUME_BLOCKS);
            final DedupVolume drop = store.createVolume(2, VOLUME_BLOCKS);
            for (int lba = 0; lba < 1000; lba++)
            {
                fill(block, 1 + lba);
                assertEquals(IoStatus.OK, keep.write(lba, block, 0));
                fill(block, 100_000 + lba);
                assertEquals(IoStatus.OK, drop.write(lba, block, 0));
            }
            assertTrue(store.commit() > 0);
            final int freeWithBoth = store.allocator().freeCount();
            assertEquals(IoStatus.OK, store.deleteVolume(2));
            assertTrue(store.allocator().freeCount() > freeWithBoth, "the deleted volume's segments are free");
            assertEquals(null, store.volume(2));
        }
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            assertEquals(null, store.volume(2), "deleted durably");
            final DedupVolume keep = store.volume(1);
            for (int lba = 0; lba < 1000; lba += 37)
            {
                assertEquals(IoStatus.OK, keep.readBlock(lba, readBack, 0));
                fill(block, 1 + lba);
                assertEquals(0, compare(block, readBack), "lba " + lba);
            }
            store.check(true);
            assertEquals(IoStatus.OK, store.deleteVolume(1));
            assertTrue(store.checkpoint() == IoStatus.OK);
        }
        try (DedupStore store = DedupStore.open(dir, new DedupContext()))
        {
            assertEquals(0, store.volumeIds().length);
            assertEquals(freeBefore - 1, store.allocator().freeCount(), "only the checkpoint image's segment is in use");
        }
    }
}
