package io.afasim.harness;

import java.util.zip.CRC32C;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger's verdict per block, without a controller: every way a block can break the acknowledgement contract is
 * reported, and every outcome the contract allows is accepted.
 */
class LedgerTest
{
    static final long SEED = 42;
    static final int BLOCK = LedgerBlock.BLOCK_SIZE_BYTES;

    private final Ledger ledger = new Ledger("v1", 16 * BLOCK, SEED);
    private final CRC32C crc = new CRC32C();
    private final byte[] expected = new byte[BLOCK];

    /** lba 1: versions 1, 2 acknowledged, 3 sent and never answered. */
    private void history()
    {
        ledger.onAcknowledged(1, ledger.beginWrite(1));
        ledger.onAcknowledged(1, ledger.beginWrite(1));
        ledger.beginWrite(1);
        ledger.onInDoubt(1);
    }

    private LedgerReport check(final int lba, final byte[] block)
    {
        final LedgerReport report = new LedgerReport("v1", "nbd://test/v1", SEED);
        ledger.check(lba, block, 0, report, crc, expected);
        return report;
    }

    private static byte[] block(final String volume, final long lba, final long version, final long seed)
    {
        final byte[] block = new byte[BLOCK];
        LedgerBlock.fill(block, 0, LedgerBlock.volumeTag(volume), lba, version, seed);
        return block;
    }

    @Test
    void acceptsTheLastAcknowledgedVersionOrALaterUnacknowledgedOne()
    {
        history();
        assertEquals(1, check(1, block("v1", 1, 2, SEED)).acknowledgedExact());
        assertEquals(1, check(1, block("v1", 1, 3, SEED)).newerUnacknowledged());
        assertEquals(1, check(0, new byte[BLOCK]).unwrittenZero());
        ledger.beginWrite(2);
        ledger.onInDoubt(2);
        assertEquals(1, check(2, new byte[BLOCK]).inDoubtZero(), "a write never acknowledged may not have landed");
        assertEquals(1, check(2, block("v1", 2, 1, SEED)).newerUnacknowledged(), "or may have");
    }

    @Test
    void reportsALostAcknowledgedWrite()
    {
        history();
        final LedgerReport stale = check(1, block("v1", 1, 1, SEED));
        assertEquals(1, stale.lost());
        assertFalse(stale.isConsistent());
        assertTrue(stale.mismatches().get(0).startsWith("LOST lba 1: reads version 1, older than the acknowledged"),
            stale.mismatches().toString());
        assertEquals(1, check(1, new byte[BLOCK]).lost(), "zeroes where version 2 was acknowledged");
    }

    @Test
    void reportsTornDamagedMisdirectedAndUnsentBlocks()
    {
        history();
        final byte[] torn = block("v1", 1, 2, SEED);
        System.arraycopy(new byte[BLOCK / 2], 0, torn, BLOCK / 2, BLOCK / 2); // second half never written
        assertEquals(1, check(1, torn).torn());
        final byte[] flipped = block("v1", 1, 2, SEED);
        flipped[100] ^= 1;
        assertEquals(1, check(1, flipped).torn());
        assertEquals(1, check(1, block("v1", 2, 2, SEED)).misdirected(), "another block's data");
        assertEquals(1, check(1, block("v2", 1, 2, SEED)).misdirected(), "another volume's data");
        assertEquals(1, check(1, block("v1", 1, 2, SEED + 1)).misdirected(), "another run's data");
        assertEquals(1, check(1, block("v1", 1, 4, SEED)).unexpected(), "a version never sent");
    }

    @Test
    void aBlockHasAtMostOneWriteInFlightAndAcknowledgementsMatchIt()
    {
        ledger.beginWrite(3);
        assertThrows(IllegalStateException.class, () -> ledger.beginWrite(3));
        assertThrows(IllegalStateException.class, () -> ledger.onAcknowledged(3, 2));
        ledger.onAcknowledged(3, 1);
        assertThrows(IllegalStateException.class, () -> ledger.onAcknowledged(3, 1));
    }

    @Test
    void aLedgerWithARunningWriterCannotBeVerifiedOrWrittenTwice()
    {
        ledger.claim();
        assertThrows(IllegalStateException.class, ledger::claim);
        assertThrows(IllegalStateException.class, () -> ledger.verify("nbd://127.0.0.1:1/v1"));
        ledger.release();
        assertEquals(0, ledger.acknowledgedBlocks());
    }

    @Test
    void nbdUrisParse()
    {
        final NbdUri uri = NbdUri.parse("nbd://127.0.0.1:10809/vol-1");
        assertEquals(new NbdUri("127.0.0.1", 10809, "vol-1"), uri);
        assertEquals("nbd://127.0.0.1:10809/vol-1", uri.toString());
        assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd://127.0.0.1:10809/"));
        assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("nbd://127.0.0.1/vol"));
        assertThrows(IllegalArgumentException.class, () -> NbdUri.parse("http://127.0.0.1:1/vol"));
    }
}
