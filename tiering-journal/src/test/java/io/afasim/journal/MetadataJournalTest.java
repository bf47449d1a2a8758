package io.afasim.journal;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.afasim.journal.JournalTestSupport.Collector;
import io.afasim.journal.JournalTestSupport.Rec;

import static io.afasim.journal.JournalTestSupport.assertRecords;
import static io.afasim.journal.JournalTestSupport.formatShelf;
import static io.afasim.journal.JournalTestSupport.newAllocator;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetadataJournalTest
{
    @TempDir
    Path dir;

    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[MetadataJournal.PAYLOAD_BYTES_MAX]);

    private static byte[] randomPayload(final Random random, final int length, final boolean nonZero)
    {
        final byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        if (nonZero)
        {
            for (int i = 0; i < length; i++)
            {
                if (bytes[i] == 0)
                {
                    bytes[i] = 1;
                }
            }
        }
        return bytes;
    }

    private Rec append(final MetadataJournal journal, final int type, final byte[] payload)
    {
        scratch.putBytes(0, payload);
        final long lsn = journal.append(type, scratch, 0, payload.length);
        assertTrue(lsn > 0, () -> "append: " + IoStatus.name(lsn));
        return new Rec(lsn, type, payload);
    }

    private static int randomType(final Random random)
    {
        return MetadataJournal.TYPE_USER_MIN + random.nextInt(RedoRecordTypes.TYPE_MAX - MetadataJournal.TYPE_USER_MIN + 1);
    }

    private static int randomLength(final Random random)
    {
        final int pick = random.nextInt(100);
        if (pick < 2)
        {
            return MetadataJournal.PAYLOAD_BYTES_MAX - random.nextInt(64);
        }
        if (pick < 10)
        {
            return random.nextInt(16 << 10);
        }
        return random.nextInt(700);
    }

    private static List<Rec> since(final List<Rec> all, final long checkpointLsn)
    {
        final List<Rec> result = new ArrayList<>();
        for (final Rec rec : all)
        {
            if (rec.lsn() > checkpointLsn)
            {
                result.add(rec);
            }
        }
        return result;
    }

    @Test
    void roundTripAcrossWrapsWithCheckpointsAndReopens()
    {
        final Random random = new Random(Seeds.seed("roundTripAcrossWrapsWithCheckpointsAndReopens"));
        final long journalBytes = JournalTestSupport.CONFIG.journalSizeBytes();
        final List<Rec> all = new ArrayList<>();
        long appendedBytes = 0;
        int reopens = 0;
        int checkpoints = 0;
        Shelf shelf = formatShelf(dir);
        MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
        try
        {
            while (appendedBytes < 4 * journalBytes)
            {
                final int groupSize = 1 + random.nextInt(40);
                for (int i = 0; i < groupSize; i++)
                {
                    final int type = randomType(random);
                    final byte[] payload = randomPayload(random, randomLength(random), false);
                    scratch.putBytes(0, payload);
                    long lsn = journal.append(type, scratch, 0, payload.length);
                    if (lsn == IoStatus.NO_SPACE)
                    {
                        // checkpoint somewhere in the last stretch, then everything if still full
                        final long lastLsn = journal.lastLsn();
                        final long at = Math.max(journal.checkpointLsn(), lastLsn - random.nextInt(50));
                        assertEquals(IoStatus.OK, journal.checkpoint(at, scratch, 0, random.nextInt(64)));
                        checkpoints++;
                        lsn = journal.append(type, scratch, 0, payload.length);
                        if (lsn == IoStatus.NO_SPACE)
                        {
                            assertEquals(IoStatus.OK, journal.checkpoint(lastLsn, scratch, 0, 0));
                            checkpoints++;
                            lsn = journal.append(type, scratch, 0, payload.length);
                        }
                    }
                    assertTrue(lsn > 0, "append after checkpoint: " + lsn);
                    assertEquals(all.size() + 1, lsn, "consecutive lsn");
                    all.add(new Rec(lsn, type, payload));
                    appendedBytes += payload.length + MetadataJournal.HEADER_BYTES;
                }
                assertEquals(journal.lastLsn(), journal.commit());
                if (random.nextInt(15) == 0)
                {
                    final long checkpointLsn = journal.checkpointLsn();
                    journal.close();
                    shelf.close();
                    shelf = Shelf.open(dir);
                    journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
                    assertEquals(checkpointLsn, journal.checkpointLsn());
                    final Collector collector = new Collector();
                    final ReplayResult result = journal.replay(collector);
                    assertRecords(since(all, checkpointLsn), collector.records);
                    assertEquals(all.size(), result.lastLsn(), result.toString());
                    assertEquals(all.size(), journal.lastLsn());
                    reopens++;
                }
            }
            final long checkpointLsn = journal.checkpointLsn();
            journal.close();
            shelf.close();
            shelf = Shelf.open(dir);
            journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            assertRecords(since(all, checkpointLsn), collector.records);
            assertEquals(all.size(), result.lastLsn());
            assertTrue(checkpoints >= 3, "wrapped several times: " + checkpoints + " checkpoints");
            System.out.println("[afasim] records=" + all.size() + " checkpoints=" + checkpoints + " reopens=" + reopens +
                " last stop: " + result.stopReason());
        }
        finally
        {
            journal.close();
            shelf.close();
        }
    }

    @Test
    void tornLastRecordAtEveryByteOffsetStopsBeforeIt() throws Exception
    {
        final Random random = new Random(Seeds.seed("tornLastRecordAtEveryByteOffsetStopsBeforeIt"));
        final List<Rec> good = new ArrayList<>();
        final long lastStart;
        final int lastLength = 300;
        final long journalOffset;
        try (Shelf shelf = formatShelf(dir))
        {
            journalOffset = shelf.layout().journalOffsetBytes();
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            for (int i = 0; i < 40; i++)
            {
                good.add(append(journal, randomType(random), randomPayload(random, random.nextInt(600), false)));
                if (random.nextInt(5) == 0)
                {
                    journal.commit();
                }
            }
            journal.commit();
            lastStart = journal.appendOffsetBytes();
            append(journal, RedoRecordTypes.SEGMENT_ALLOCATED, randomPayload(random, lastLength, true));
            journal.close();
        }
        final long lastEnd = lastStart + MetadataJournal.HEADER_BYTES + lastLength;
        final Path drive0 = Shelf.drivePath(dir, 0);
        final byte[] original = new byte[2 * Drive.BLOCK_SIZE_BYTES];
        try (RandomAccessFile file = new RandomAccessFile(drive0.toFile(), "r"))
        {
            file.seek(journalOffset + lastStart);
            file.readFully(original);
        }

        for (final boolean garbage : new boolean[] { false, true })
        {
            for (long k = lastStart; k < lastEnd; k++)
            {
                final byte[] damage = new byte[(int)(lastEnd - k)];
                if (garbage)
                {
                    random.nextBytes(damage);
                    final int lastIndex = (int)(lastEnd - 1 - lastStart);
                    damage[damage.length - 1] = (byte)(original[lastIndex] ^ (1 + random.nextInt(255)));
                }
                try (RandomAccessFile file = new RandomAccessFile(drive0.toFile(), "rw"))
                {
                    file.seek(journalOffset + lastStart);
                    file.write(original);
                    file.seek(journalOffset + k);
                    file.write(damage);
                }
                final String where = (garbage ? "garbage" : "zeros") + " from byte " + (k - lastStart);
                final Rec added;
                try (Shelf shelf = Shelf.open(dir))
                {
                    final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
                    final Collector collector = new Collector();
                    final ReplayResult result = journal.replay(collector);
                    assertRecords(good, collector.records);
                    assertEquals(lastStart, result.stopOffsetBytes(), where + ": " + result);
                    assertTrue(result.stopReason().contains("offset " + lastStart), where + ": " + result.stopReason());
                    added = append(journal, 77, randomPayload(random, 1 + random.nextInt(200), false));
                    assertEquals(good.size() + 1, added.lsn());
                    assertEquals(added.lsn(), journal.commit());
                    journal.close();
                }
                try (Shelf shelf = Shelf.open(dir))
                {
                    final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
                    final Collector collector = new Collector();
                    journal.replay(collector);
                    final List<Rec> expected = new ArrayList<>(good);
                    expected.add(added);
                    assertRecords(expected, collector.records);
                }
            }
        }
    }

    @Test
    void corruptMiddleRecordStopsReplayThereAndAppendsResumeMidBlock() throws Exception
    {
        final Random random = new Random(Seeds.seed("corruptMiddleRecordStopsReplayThereAndAppendsResumeMidBlock"));
        final List<Rec> all = new ArrayList<>();
        final long[] offsets = new long[30];
        final long journalOffset;
        try (Shelf shelf = formatShelf(dir))
        {
            journalOffset = shelf.layout().journalOffsetBytes();
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            long position = journal.appendOffsetBytes();
            for (int i = 0; i < offsets.length; i++)
            {
                final int length = 8 + random.nextInt(200);
                offsets[i] = position;
                all.add(append(journal, randomType(random), randomPayload(random, length, false)));
                position += (MetadataJournal.HEADER_BYTES + length + 7) & -8;
                if (i % 10 == 9)
                {
                    journal.commit();
                    position = journal.appendOffsetBytes();
                }
            }
            journal.close();
        }
        final int victim = 14;
        assertTrue(offsets[victim] % Drive.BLOCK_SIZE_BYTES != 0, "victim starts mid-block");
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            final long at = journalOffset + offsets[victim] + MetadataJournal.HEADER_BYTES + 3;
            file.seek(at);
            final int value = file.read();
            file.seek(at);
            file.write(value ^ 0x40);
        }
        final Rec added;
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            assertRecords(all.subList(0, victim), collector.records);
            assertEquals(offsets[victim], result.stopOffsetBytes());
            assertEquals("torn record at offset " + offsets[victim] + ": checksum mismatch", result.stopReason());
            added = append(journal, 99, randomPayload(random, 50, false));
            assertEquals(victim + 1, added.lsn());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            final List<Rec> expected = new ArrayList<>(all.subList(0, victim));
            expected.add(added);
            // records 16.. of the old commit follow in the next blocks with valid checksums but a broken chain
            assertRecords(expected, collector.records);
            assertTrue(result.stopReason().contains("stale record") || result.stopReason().contains("end of log"),
                result.stopReason());
        }
    }

    @Test
    void regionFullReturnsNoSpaceUntilCheckpoint()
    {
        try (Shelf shelf = formatShelf(dir))
        {
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            final long journalBytes = shelf.layout().journalSizeBytes();
            assertEquals(journalBytes, journal.freeBytes());
            final int length = 60 << 10;
            long lsn;
            int count = 0;
            while ((lsn = journal.append(20, scratch, 0, length)) > 0)
            {
                count++;
                assertTrue(count < 1000, "region never filled");
            }
            assertEquals(IoStatus.NO_SPACE, lsn);
            assertEquals(count, journal.lastLsn(), "a refused append takes no lsn");
            assertTrue(journal.freeBytes() < length + MetadataJournal.HEADER_BYTES + Drive.BLOCK_SIZE_BYTES,
                "free " + journal.freeBytes());
            assertEquals(IoStatus.NO_SPACE, journal.append(20, scratch, 0, length), "still full");
            assertEquals(count, journal.commit());

            // a checkpoint of half the records frees about half the region
            assertEquals(IoStatus.OK, journal.checkpoint(count / 2, scratch, 0, 0));
            assertTrue(journal.freeBytes() > journalBytes / 3, "free " + journal.freeBytes());
            assertEquals(count + 1, journal.append(20, scratch, 0, length));
            assertEquals(IoStatus.OK, journal.checkpoint(journal.lastLsn(), scratch, 0, 0));
            assertEquals(journalBytes, journal.freeBytes());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            assertEquals(0, collector.records.size(), result.toString());
            assertEquals(journal.checkpointLsn(), result.lastLsn());
            assertEquals(journal.checkpointLsn() + 1, journal.append(20, scratch, 0, 10));
        }
    }

    @Test
    void damagedNewestSuperblockFallsBackToTheOlderOne() throws Exception
    {
        final Random random = new Random(Seeds.seed("damagedNewestSuperblockFallsBackToTheOlderOne"));
        final List<Rec> all = new ArrayList<>();
        final UnsafeBuffer descriptorA = new UnsafeBuffer("image A".getBytes());
        final UnsafeBuffer descriptorB = new UnsafeBuffer("image B, newer".getBytes());
        final int segmentBeforeA;
        final int segmentBeforeB;
        final long newestSlotOffset;
        try (Shelf shelf = formatShelf(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final MetadataJournal journal = MetadataJournal.format(shelf, allocator, new JournalContext());
            for (int i = 0; i < 10; i++)
            {
                all.add(append(journal, randomType(random), randomPayload(random, random.nextInt(300), false)));
            }
            segmentBeforeA = allocator.allocate();
            assertEquals(IoStatus.OK, journal.checkpoint(5, descriptorA, 0, descriptorA.capacity()));
            for (int i = 0; i < 10; i++)
            {
                all.add(append(journal, randomType(random), randomPayload(random, random.nextInt(300), false)));
            }
            segmentBeforeB = allocator.allocate();
            assertEquals(IoStatus.OK, journal.checkpoint(15, descriptorB, 0, descriptorB.capacity()));
            assertEquals(3, journal.superblockGeneration());
            newestSlotOffset = shelf.layout().superblockOffsetBytes(1);
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final MetadataJournal journal = MetadataJournal.open(shelf, allocator, new JournalContext());
            assertEquals(15, journal.checkpointLsn());
            assertTrue(allocator.isAllocated(segmentBeforeB));
        }
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            file.seek(newestSlotOffset + 30);
            final int value = file.read();
            file.seek(newestSlotOffset + 30);
            file.write(value ^ 1);
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final MetadataJournal journal = MetadataJournal.open(shelf, allocator, new JournalContext());
            assertEquals(5, journal.checkpointLsn());
            final UnsafeBuffer descriptor = new UnsafeBuffer(new byte[MetadataJournal.DESCRIPTOR_BYTES_MAX]);
            final int length = journal.checkpointDescriptor(descriptor, 0);
            assertEquals("image A", descriptor.getStringWithoutLengthAscii(0, length));
            assertTrue(allocator.isAllocated(segmentBeforeA));
            assertTrue(!allocator.isAllocated(segmentBeforeB), "bitmap of the older generation");
            final Collector collector = new Collector();
            journal.replay(collector);
            assertRecords(all.subList(5, 20), collector.records);
        }
        // both slots damaged: refuse to open
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            final long slot0 = newestSlotOffset - Drive.BLOCK_SIZE_BYTES;
            file.seek(slot0 + 30);
            final int value = file.read();
            file.seek(slot0 + 30);
            file.write(value ^ 1);
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final ShelfException ex = assertThrows(ShelfException.class,
                () -> MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext()));
            assertTrue(ex.getMessage().contains("no usable superblock"), ex.getMessage());
        }
    }

    @Test
    void tailOfATornCommitIsNotResurrectedAfterTheLogMovesOn() throws Exception
    {
        final Random random = new Random(Seeds.seed("tailOfATornCommitIsNotResurrectedAfterTheLogMovesOn"));
        final List<Rec> all = new ArrayList<>();
        final long commitStart;
        final long journalOffset;
        try (Shelf shelf = formatShelf(dir))
        {
            journalOffset = shelf.layout().journalOffsetBytes();
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            for (int i = 0; i < 3; i++)
            {
                all.add(append(journal, randomType(random), randomPayload(random, 100, false)));
            }
            journal.commit();
            // one commit of three records, each filling exactly one block: record 5 starts the second block
            commitStart = journal.appendOffsetBytes();
            for (int i = 0; i < 3; i++)
            {
                all.add(append(journal, randomType(random),
                    randomPayload(random, Drive.BLOCK_SIZE_BYTES - MetadataJournal.HEADER_BYTES, false)));
            }
            journal.commit();
            journal.close();
        }
        // the first block of that commit never reached the media
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            file.seek(journalOffset + commitStart);
            file.write(new byte[Drive.BLOCK_SIZE_BYTES]);
        }
        final Rec replacement;
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            assertRecords(all.subList(0, 3), collector.records);
            assertEquals("end of log at offset " + commitStart + ": zero fill", result.stopReason());
            replacement = append(journal, 50, randomPayload(random, 10, false));
            assertEquals(4, replacement.lsn());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            final List<Rec> expected = new ArrayList<>(all.subList(0, 3));
            expected.add(replacement);
            // the old record 5 follows with the expected lsn and a valid checksum, but chains to the old record 4
            assertRecords(expected, collector.records);
            assertEquals("stale record at offset " + (commitStart + Drive.BLOCK_SIZE_BYTES) +
                " (lsn 5 does not chain to its predecessor)", result.stopReason());
        }
    }

    @Test
    void damageBeforeTheCheckpointLsnRestartsTheLogAfterIt() throws Exception
    {
        final Random random = new Random(Seeds.seed("damageBeforeTheCheckpointLsnRestartsTheLogAfterIt"));
        final long[] offsets = new long[10];
        final long journalOffset;
        try (Shelf shelf = formatShelf(dir))
        {
            journalOffset = shelf.layout().journalOffsetBytes();
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            long position = journal.appendOffsetBytes();
            for (int i = 0; i < offsets.length; i++)
            {
                offsets[i] = position;
                append(journal, randomType(random), randomPayload(random, 64, false));
                position += MetadataJournal.HEADER_BYTES + 64;
            }
            // one commit holds records 1..10, so replay starts at record 1 and skips 1..5
            assertEquals(IoStatus.OK, journal.checkpoint(5, scratch, 0, 0));
            journal.close();
        }
        try (RandomAccessFile file = new RandomAccessFile(Shelf.drivePath(dir, 0).toFile(), "rw"))
        {
            // flip bits of the payload's first byte (read, then write the same byte: the read moves the position)
            final long at = journalOffset + offsets[2] + MetadataJournal.HEADER_BYTES;
            file.seek(at);
            final int original = file.read();
            file.seek(at);
            file.write(0x55 ^ original);
        }
        final Rec added;
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            final ReplayResult result = journal.replay(collector);
            assertEquals(0, collector.records.size());
            assertEquals(5, result.lastLsn());
            assertTrue(result.stopReason().startsWith("torn record at offset " + offsets[2]), result.stopReason());
            assertTrue(result.stopReason().contains("new superblock written"), result.stopReason());
            added = append(journal, 60, randomPayload(random, 20, false));
            assertEquals(6, added.lsn());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            assertEquals(5, journal.checkpointLsn());
            final Collector collector = new Collector();
            journal.replay(collector);
            assertRecords(List.of(added), collector.records);
        }
    }

    @Test
    void groupCommitMakesABatchDurableWithOneSync()
    {
        final long[] now = { 0 };
        final JournalContext ctx = new JournalContext().nanoClock(() -> now[0]).batchDelayNsMax(1_000_000)
            .batchBytesMax(64 << 10);
        try (Shelf shelf = formatShelf(dir))
        {
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), ctx);
            final Drive drive = shelf.metadataDrive();
            assertEquals(0, journal.doWork(now[0]), "nothing pending");
            final long syncsBefore = drive.syncCount();
            for (int i = 0; i < 50; i++)
            {
                now[0] += 10_000;
                journal.append(30, scratch, 0, 64);
            }
            // the first record was appended at 10 us: the window closes at 1010 us
            assertEquals(0, journal.doWork(1_009_999));
            assertEquals(0, journal.durableLsn());
            assertEquals(syncsBefore, drive.syncCount());
            assertEquals(1, journal.doWork(1_010_000));
            assertEquals(50, journal.durableLsn());
            assertEquals(syncsBefore + 1, drive.syncCount(), "one fdatasync for the whole batch");
            assertEquals(1, journal.commitCount());

            // size trigger: 64 KiB pending commits at once, without waiting for the window
            now[0] = 5_000_000;
            while (journal.lastLsn() - 50 < 64)
            {
                journal.append(31, scratch, 0, 1000);
            }
            assertEquals(1, journal.doWork(now[0]));
            assertEquals(journal.lastLsn(), journal.durableLsn());
            assertEquals(syncsBefore + 2, drive.syncCount());
            assertEquals(0, journal.doWork(now[0] + 10_000_000), "nothing pending");
        }
    }

    @Test
    void badRequestsAreRefused()
    {
        try (Shelf shelf = formatShelf(dir))
        {
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            assertThrows(IllegalArgumentException.class,
                () -> journal.append(20, scratch, 0, MetadataJournal.PAYLOAD_BYTES_MAX + 1));
            assertThrows(IllegalArgumentException.class, () -> journal.append(MetadataJournal.TYPE_PAD, scratch, 0, 4));
            assertThrows(IllegalArgumentException.class, () -> journal.checkpoint(1, scratch, 0, 0));
            assertThrows(IllegalArgumentException.class,
                () -> journal.checkpoint(0, scratch, 0, MetadataJournal.DESCRIPTOR_BYTES_MAX + 1));
            final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> new JournalContext().batchBytesMax(100).conclude());
            assertTrue(ex.getMessage().contains("batchBytesMax=100"), ex.getMessage());
        }
    }

    @Test
    void mediaErrorOnCommitIsAStatusAndTheRetryWritesTheSameRecords()
    {
        try (Shelf shelf = formatShelf(dir))
        {
            final MetadataJournal journal = MetadataJournal.format(shelf, newAllocator(shelf), new JournalContext());
            scratch.putInt(0, 42);
            journal.append(40, scratch, 0, 4);
            shelf.metadataDrive().faults().failNextWrites(1);
            assertEquals(IoStatus.MEDIA_ERROR, journal.commit());
            assertEquals(0, journal.durableLsn());
            assertEquals(1, journal.commitErrorCount());
            journal.append(40, scratch, 0, 4);
            assertEquals(2, journal.commit());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, newAllocator(shelf), new JournalContext());
            final Collector collector = new Collector();
            journal.replay(collector);
            assertEquals(2, collector.records.size());
        }
    }
}
