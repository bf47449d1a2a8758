package io.afasim.journal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.agrona.DirectBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Shared pieces of the journal tests. */
final class JournalTestSupport
{
    /** Small shelf: 2 drives of 32 MiB, 1 MiB segments, 4 MiB journal. */
    static final ShelfConfig CONFIG = new ShelfConfig(2, 32L << 20, 1 << 20, 4L << 20);

    private JournalTestSupport()
    {
    }

    record Rec(long lsn, int type, byte[] payload)
    {
    }

    /** Collects replayed records (copies the payload). */
    static final class Collector implements RedoHandler
    {
        final List<Rec> records = new ArrayList<>();

        @Override
        public void onRecord(final long lsn, final int type, final DirectBuffer payload, final int offset, final int length)
        {
            final byte[] bytes = new byte[length];
            payload.getBytes(offset, bytes);
            records.add(new Rec(lsn, type, bytes));
        }
    }

    static Shelf formatShelf(final Path dir)
    {
        return Shelf.format(dir, UUID.randomUUID(), CONFIG);
    }

    static ExtentAllocator newAllocator(final Shelf shelf)
    {
        return new ExtentAllocator(shelf.layout().segmentCount());
    }

    static void assertRecords(final List<Rec> expected, final List<Rec> actual)
    {
        assertEquals(expected.size(), actual.size(), "record count");
        for (int i = 0; i < expected.size(); i++)
        {
            final Rec e = expected.get(i);
            final Rec a = actual.get(i);
            assertEquals(e.lsn(), a.lsn(), "lsn of record " + i);
            assertEquals(e.type(), a.type(), "type of lsn " + e.lsn());
            assertArrayEquals(e.payload(), a.payload(), "payload of lsn " + e.lsn());
        }
    }
}
