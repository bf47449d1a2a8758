package io.afasim.harness;

import io.afasim.controller.NbdClient;
import io.afasim.journal.Seeds;
import java.nio.file.Path;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger against a real controller: two connections to one volume (multi-conn, each writing its own stripe of
 * blocks) read back consistent; then blocks changed behind the ledger's back (an acknowledged write rolled back to
 * an older version, one zeroed, one torn, one overwritten with another block's data) are each reported, so a
 * scenario that loses an acknowledged write fails.
 */
class LedgerSystemTest
{
    static final long VOLUME_BYTES = 8L << 20;
    static final int QUEUE_DEPTH = 8;
    static final long ACKS = 2_000;
    static final int BLOCK = LedgerBlock.BLOCK_SIZE_BYTES;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void verifyAcceptsWhatWasAcknowledgedAndReportsEveryLostTornOrMisdirectedBlock() throws Exception
    {
        final long seed = Seeds.seed("LedgerSystemTest");
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            final Scenario scenario = Scenario.on(pair);
            final Supplier<String> logs = scenario.diagnostics();
            pair.a().context().controllers(1);
            pair.a().startAndAwaitUp();
            scenario.createVolume(pair.a(), "v", VOLUME_BYTES, "1wb");
            final Ledger ledger = new Ledger("v", VOLUME_BYTES, seed);
            try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.a()))
            {
                load.awaitAcknowledged(ACKS, Scenario.AWAIT_TIMEOUT_MS, logs);
                load.stop(logs).assertNoHostErrors(logs);
                assertEquals(2, load.uris().size());
            }
            final LedgerReport clean = scenario.verifyFrom(ledger, pair.a()).get(0);
            assertEquals(ledger.acknowledgedBlocks(), clean.acknowledgedExact(), clean.summary());
            assertEquals(ledger.blockCount() - ledger.acknowledgedBlocks(), clean.unwrittenZero(), clean.summary());

            final int rolledBack = firstBlockAcknowledged(ledger, 2, -1);
            final int zeroed = firstBlockAcknowledged(ledger, 1, rolledBack);
            final int torn = firstBlockAcknowledged(ledger, 1, Math.max(rolledBack, zeroed));
            final int misdirected = firstBlockAcknowledged(ledger, 1, Math.max(rolledBack, torn));
            final NbdUri uri = NbdUri.parse(pair.a().nbdUri("v"));
            try (NbdClient host = NbdClient.connect(uri.host(), uri.port(), uri.export()))
            {
                final byte[] block = new byte[BLOCK];
                fill(block, ledger, rolledBack, ledger.acknowledgedVersion(rolledBack) - 1);
                host.write((long)rolledBack * BLOCK, block, 0, BLOCK, 0);
                host.writeZeroes((long)zeroed * BLOCK, BLOCK, 0);
                fill(block, ledger, torn, ledger.acknowledgedVersion(torn));
                block[BLOCK - 100] ^= 0x40;
                host.write((long)torn * BLOCK, block, 0, BLOCK, 0);
                fill(block, ledger, misdirected + 1, 1);
                host.write((long)misdirected * BLOCK, block, 0, BLOCK, 0);
                host.flush();
            }
            final LedgerReport damaged = ledger.verify(pair.a().nbdUri("v"));
            System.out.println("[harness] after changing 4 blocks behind the ledger: " + damaged.summary() + "\n  " +
                String.join("\n  ", damaged.mismatches()));
            assertEquals(2, damaged.lost(), damaged.mismatches().toString());
            assertEquals(1, damaged.torn(), damaged.mismatches().toString());
            assertEquals(1, damaged.misdirected(), damaged.mismatches().toString());
            assertEquals(4, damaged.mismatchCount());
            assertTrue(damaged.mismatches().contains("LOST lba " + rolledBack + ": reads version " +
                (ledger.acknowledgedVersion(rolledBack) - 1) + ", older than the acknowledged version " +
                ledger.acknowledgedVersion(rolledBack)), damaged.mismatches().toString());
            assertThrows(AssertionError.class, () -> damaged.assertConsistent(() -> ""));
        }
    }

    private static void fill(final byte[] block, final Ledger ledger, final int lba, final long version)
    {
        LedgerBlock.fill(block, 0, ledger.volumeTag(), lba, version, ledger.seed());
    }

    /** The first block after {@code after} acknowledged at least {@code versions} times. */
    private static int firstBlockAcknowledged(final Ledger ledger, final long versions, final int after)
    {
        for (int lba = after + 1; lba < ledger.blockCount(); lba++)
        {
            if (ledger.acknowledgedVersion(lba) >= versions)
            {
                return lba;
            }
        }
        throw new AssertionError("no block after " + after + " was acknowledged " + versions + " times (seed " +
            ledger.seed() + ")");
    }
}
