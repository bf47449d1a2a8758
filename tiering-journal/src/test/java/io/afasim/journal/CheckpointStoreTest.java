package io.afasim.journal;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static io.afasim.journal.JournalTestSupport.formatShelf;
import static io.afasim.journal.JournalTestSupport.newAllocator;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointStoreTest
{
    @TempDir
    Path dir;

    private final UnsafeBuffer descriptor = new UnsafeBuffer(new byte[MetadataJournal.DESCRIPTOR_BYTES_MAX]);

    private static int writeImage(final CheckpointWriter writer, final byte[] image, final Random random)
    {
        final UnsafeBuffer src = new UnsafeBuffer(image);
        int done = 0;
        while (done < image.length)
        {
            final int chunk = Math.min(image.length - done, 1 + random.nextInt(300_000));
            final int status = writer.write(src, done, chunk);
            if (status != IoStatus.OK)
            {
                return status;
            }
            done += chunk;
        }
        return IoStatus.OK;
    }

    /** Reads the whole image; returns the bytes, or throws with the status. */
    private static int readImage(final CheckpointReader reader, final byte[] out, final Random random)
    {
        final UnsafeBuffer dst = new UnsafeBuffer(out);
        int done = 0;
        while (true)
        {
            final int n = reader.read(dst, done, Math.min(out.length - done, 1 + random.nextInt(200_000)));
            if (n <= 0)
            {
                return n < 0 ? n : done;
            }
            done += n;
        }
    }

    @Test
    void imageOfSeveralSegmentsReadsBackIdentical()
    {
        final Random random = new Random(Seeds.seed("imageOfSeveralSegmentsReadsBackIdentical"));
        try (Shelf shelf = formatShelf(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final CheckpointStore store = new CheckpointStore(shelf, allocator);
            final int dataBytes = shelf.layout().dataBlocksPerSegment() * Drive.BLOCK_SIZE_BYTES;
            final byte[] image = new byte[3 * dataBytes + 12345];
            random.nextBytes(image);

            final CheckpointWriter writer = store.begin();
            assertEquals(IoStatus.OK, writeImage(writer, image, random));
            final int length = writer.finish(descriptor, 0);
            assertEquals(CheckpointStore.DESCRIPTOR_HEADER_BYTES + 4 * Integer.BYTES, length);
            assertEquals(4, allocator.allocatedCount());
            assertEquals(image.length, CheckpointStore.imageLengthBytes(descriptor, 0));

            final List<Integer> segments = new ArrayList<>();
            CheckpointStore.forEachSegment(descriptor, 0, length, segments::add);
            assertEquals(4, segments.size());
            for (final int segmentId : segments)
            {
                assertTrue(allocator.isAllocated(segmentId));
                final ByteBuffer block = Drive.allocateAligned(Drive.BLOCK_SIZE_BYTES);
                assertEquals(IoStatus.OK, shelf.drive(shelf.layout().segmentDrive(segmentId))
                    .read(shelf.layout().summaryOffsetBytes(segmentId), block, 0, Drive.BLOCK_SIZE_BYTES));
                assertTrue(CheckpointStore.isImageSegmentHeader(new UnsafeBuffer(block)), "summary of " + segmentId);
            }

            final CheckpointReader reader = store.open(descriptor, 0, length);
            assertEquals(image.length, reader.lengthBytes());
            final byte[] back = new byte[image.length];
            assertEquals(image.length, readImage(reader, back, random));
            assertArrayEquals(image, back);
            assertEquals(0, reader.read(new UnsafeBuffer(new byte[10]), 0, 10), "end of image");
        }
    }

    @Test
    void flippedByteIsReportedAsChecksumMismatch() throws Exception
    {
        final Random random = new Random(Seeds.seed("flippedByteIsReportedAsChecksumMismatch"));
        final int length;
        final byte[] image;
        final int dataBytes;
        try (Shelf shelf = formatShelf(dir))
        {
            final CheckpointStore store = new CheckpointStore(shelf, newAllocator(shelf));
            dataBytes = shelf.layout().dataBlocksPerSegment() * Drive.BLOCK_SIZE_BYTES;
            image = new byte[2 * dataBytes + 999];
            random.nextBytes(image);
            final CheckpointWriter writer = store.begin();
            assertEquals(IoStatus.OK, writeImage(writer, image, random));
            length = writer.finish(descriptor, 0);
            assertTrue(length > 0);
        }
        // flip one byte in the second segment's data
        final int[] second = new int[1];
        final int[] index = { 0 };
        CheckpointStore.forEachSegment(descriptor, 0, length, id ->
        {
            if (index[0]++ == 1)
            {
                second[0] = id;
            }
        });
        final ShelfLayout layout = new ShelfLayout(JournalTestSupport.CONFIG);
        final int byteInSegment = random.nextInt(dataBytes);
        try (RandomAccessFile file = new RandomAccessFile(
            Shelf.drivePath(dir, layout.segmentDrive(second[0])).toFile(), "rw"))
        {
            final long at = layout.segmentOffsetBytes(second[0]) + byteInSegment;
            file.seek(at);
            final int value = file.read();
            file.seek(at);
            file.write(value ^ 0x08);
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final CheckpointStore store = new CheckpointStore(shelf, newAllocator(shelf));
            final CheckpointReader reader = store.open(descriptor, 0, length);
            final byte[] back = new byte[image.length];
            final UnsafeBuffer dst = new UnsafeBuffer(back);
            int done = 0;
            int status;
            while ((status = reader.read(dst, done, back.length - done)) > 0)
            {
                done += status;
            }
            assertEquals(IoStatus.CHECKSUM_MISMATCH, status);
            assertEquals(dataBytes, done, "the first segment is delivered, nothing of the damaged one");
            assertEquals(IoStatus.CHECKSUM_MISMATCH, reader.read(dst, 0, 10), "stays failed");
        }
    }

    @Test
    void releaseFreesSegmentsThroughTheJournalAndReplays()
    {
        final Random random = new Random(Seeds.seed("releaseFreesSegmentsThroughTheJournalAndReplays"));
        final int length;
        try (Shelf shelf = formatShelf(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final MetadataJournal journal = MetadataJournal.format(shelf, allocator, new JournalContext());
            final CheckpointStore store = new CheckpointStore(shelf, allocator);
            final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
            // a data segment allocated through the journal (segment id, owner id)
            final int dataSegment = allocator.allocate();
            payload.putInt(0, dataSegment);
            payload.putInt(4, 3);
            assertTrue(journal.append(RedoRecordTypes.SEGMENT_ALLOCATED, payload, 0, 8) > 0);

            // the checkpoint procedure
            final long lsn = journal.lastLsn();
            final byte[] image = new byte[(int)(2.5 * shelf.layout().dataBlocksPerSegment() * Drive.BLOCK_SIZE_BYTES)];
            random.nextBytes(image);
            final CheckpointWriter writer = store.begin();
            assertEquals(IoStatus.OK, writeImage(writer, image, random));
            length = writer.finish(descriptor, 0);
            assertEquals(IoStatus.OK, journal.checkpoint(lsn, descriptor, 0, length));
            assertEquals(4, allocator.allocatedCount());

            // a newer (empty) image replaces it; the old one is released
            final CheckpointWriter empty = store.begin();
            final UnsafeBuffer emptyDescriptor = new UnsafeBuffer(new byte[MetadataJournal.DESCRIPTOR_BYTES_MAX]);
            final int emptyLength = empty.finish(emptyDescriptor, 0);
            assertEquals(IoStatus.OK, journal.checkpoint(journal.lastLsn(), emptyDescriptor, 0, emptyLength));
            assertEquals(IoStatus.OK, store.release(descriptor, 0, length, journal));
            assertTrue(journal.commit() > 0);
            assertEquals(1, allocator.allocatedCount(), "only the data segment stays");

            // an aborted image gives its segments back
            final CheckpointWriter aborted = store.begin();
            assertEquals(IoStatus.OK, writeImage(aborted, image, random));
            assertTrue(allocator.allocatedCount() > 1);
            aborted.abort();
            assertEquals(1, allocator.allocatedCount());
            journal.close();
        }
        try (Shelf shelf = Shelf.open(dir))
        {
            final ExtentAllocator allocator = newAllocator(shelf);
            final MetadataJournal journal = MetadataJournal.open(shelf, allocator, new JournalContext());
            assertEquals(4, allocator.allocatedCount(), "bitmap of the last checkpoint still holds the old image");
            final int[] applied = { 0 };
            journal.replay((lsn, type, buffer, offset, len) ->
            {
                assertTrue(AllocatorRedo.apply(allocator, type, buffer, offset, len));
                applied[0]++;
            });
            assertEquals(3, applied[0], "three SEGMENT_FREED records");
            assertEquals(1, allocator.allocatedCount());
            CheckpointStore.forEachSegment(descriptor, 0, length, id -> assertFalse(allocator.isAllocated(id)));
            final UnsafeBuffer stored = new UnsafeBuffer(new byte[MetadataJournal.DESCRIPTOR_BYTES_MAX]);
            final int storedLength = journal.checkpointDescriptor(stored, 0);
            assertEquals(CheckpointStore.DESCRIPTOR_HEADER_BYTES, storedLength);
            final CheckpointReader reader = new CheckpointStore(shelf, allocator).open(stored, 0, storedLength);
            assertEquals(0, reader.lengthBytes());
            assertEquals(0, reader.read(stored, 0, 10));
        }
    }

    @Test
    void allocatorRedoIgnoresOtherTypes()
    {
        final ExtentAllocator allocator = new ExtentAllocator(10);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[8]);
        payload.putInt(0, 7);
        payload.putInt(4, 3);
        assertTrue(AllocatorRedo.apply(allocator, RedoRecordTypes.SEGMENT_ALLOCATED, payload, 0, 8));
        assertTrue(allocator.isAllocated(7));
        assertFalse(AllocatorRedo.apply(allocator, RedoRecordTypes.DEDUP_FIRST, payload, 0, 4));
        assertThrows(IllegalStateException.class,
            () -> AllocatorRedo.apply(allocator, RedoRecordTypes.SEGMENT_ALLOCATED, payload, 0, 4));
        assertTrue(AllocatorRedo.apply(allocator, RedoRecordTypes.SEGMENT_FREED, payload, 0, 4));
        assertFalse(allocator.isAllocated(7));
    }
}
