package io.afasim.dedup;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Remove and repoint by (prefix, pba), including fingerprints that share their prefix, and the miss that throws. */
class FingerprintIndexTest
{
    private static final long PREFIX = 0x8000_0000_0000_0001L;

    private final PagePool pool = new PagePool(64);
    private final FingerprintIndex index = new FingerprintIndex(pool);
    private final UnsafeBuffer fingerprint = new UnsafeBuffer(new byte[Fingerprinter.FINGERPRINT_BYTES]);

    @AfterEach
    void tearDown()
    {
        index.clear();
        assertEquals(0, pool.pagesInUse(), "pages leaked");
    }

    @Test
    void removesAndRepointsTheEntryOfThePbaAmongFingerprintsSharingThePrefix()
    {
        for (int i = 0; i < 3; i++)
        {
            index.put(fingerprint(PREFIX, i), 0, 100 + i);
        }
        index.put(fingerprint(PREFIX - 1, -1L), 0, 200);
        index.put(fingerprint(PREFIX + 1, 0), 0, 201);

        index.repoint(PREFIX, 101, 111);
        assertEquals(111, index.get(fingerprint(PREFIX, 1), 0));
        index.remove(PREFIX, 111);
        assertEquals(FingerprintIndex.MISSING, index.get(fingerprint(PREFIX, 1), 0));
        assertEquals(100, index.get(fingerprint(PREFIX, 0), 0));
        assertEquals(102, index.get(fingerprint(PREFIX, 2), 0));
        assertEquals(4, index.size());
        index.check();
    }

    @Test
    void missingEntryThrowsAndChangesNothing()
    {
        final IllegalStateException emptyMiss =
            assertThrows(IllegalStateException.class, () -> index.remove(PREFIX, 100));
        assertEquals("no fingerprint entry with prefix 0x8000000000000001 for pba 100", emptyMiss.getMessage());

        index.put(fingerprint(PREFIX, 0), 0, 100);
        index.put(fingerprint(PREFIX + 1, 0), 0, 101);
        final IllegalStateException otherPrefix =
            assertThrows(IllegalStateException.class, () -> index.remove(PREFIX, 101));
        assertEquals("no fingerprint entry with prefix 0x8000000000000001 for pba 101", otherPrefix.getMessage());
        final IllegalStateException repointMiss =
            assertThrows(IllegalStateException.class, () -> index.repoint(PREFIX, 102, 103));
        assertEquals("no fingerprint entry with prefix 0x8000000000000001 for pba 102", repointMiss.getMessage());

        assertEquals(2, index.size());
        assertEquals(100, index.get(fingerprint(PREFIX, 0), 0));
        assertEquals(101, index.get(fingerprint(PREFIX + 1, 0), 0));
        index.check();
    }

    /** A fingerprint starting with {@code prefix}, the rest zero but the last word. */
    private UnsafeBuffer fingerprint(final long prefix, final long last)
    {
        fingerprint.setMemory(0, Fingerprinter.FINGERPRINT_BYTES, (byte)0);
        fingerprint.putLong(0, prefix, ByteOrder.BIG_ENDIAN);
        fingerprint.putLong(Fingerprinter.FINGERPRINT_BYTES - Long.BYTES, last, ByteOrder.BIG_ENDIAN);
        return fingerprint;
    }
}
