package io.afasim.harness;

import io.afasim.journal.Seeds;
import java.nio.file.Path;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two controllers, a volume owned by each, a ledger writer on each. B is SIGKILLed under load: A declares its peer
 * down and its volume keeps serving writes and reads with no host error while B is down and while B comes back;
 * B's host sees its connection drop (the only host error); after B's warm restart (T1) every acknowledged write of
 * both volumes reads back, B's from B and A's from A. B runs with destage held off until the kill (a test seam), so
 * its acknowledged writes are all in its NVMe memory at the kill and the restart must recover them from there.
 */
class PeerCrashSystemTest
{
    static final long VOLUME_BYTES = 8L << 20;
    static final int QUEUE_DEPTH = 16;
    /** Per phase and volume; B's volume stays below its NVMe cap (25 % of 32 MiB) with destage held off. */
    static final long ACKS_PER_PHASE = 1_500;
    static final long TIMEOUT_MS = Scenario.AWAIT_TIMEOUT_MS;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void survivorKeepsServingWhileThePeerIsDownAndEveryAcknowledgedWriteOfBothVolumesReadsBack() throws Exception
    {
        final long seed = Seeds.seed("PeerCrashSystemTest");
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            final Scenario scenario = Scenario.on(pair);
            final Supplier<String> logs = scenario.diagnostics();
            pair.b().context().testDestagePaused(true);
            pair.start();
            scenario.note("A and B up");
            scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
            scenario.createVolume(pair.b(), "vb", VOLUME_BYTES);
            assertEquals("A", pair.a().volume("va").get("owner"));
            assertEquals("B", pair.b().volume("vb").get("owner"));
            final Ledger ledgerA = new Ledger("va", VOLUME_BYTES, seed);
            final Ledger ledgerB = new Ledger("vb", VOLUME_BYTES, seed + 1);

            try (LedgerWriter loadA = scenario.writeThrough(ledgerA, QUEUE_DEPTH, pair.a());
                 LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.b()))
            {
                scenario.progress(ACKS_PER_PHASE, loadA, loadB);
                final String victim = pair.b().nbdAddress();
                pair.b().kill();
                scenario.note("B killed after " + loadA.acknowledged() + " + " + loadB.acknowledged() +
                    " acknowledged writes");
                loadB.awaitEnded(TIMEOUT_MS, logs);
                scenario.assertOnlyVictimPathsFailed(loadB, victim); // B's host sees its connection drop, nothing else
                assertEquals(1, loadB.connectionDrops(), loadB.describe());

                scenario.awaitPeerState(pair.a(), "down"); // A has noticed the loss (no disk heartbeat, no link)
                scenario.note("A reports peer B down");
                scenario.progress(ACKS_PER_PHASE, loadA); // and serves while B is down
                assertFalse(pair.b().isAlive());
                scenario.stopCleanly(loadA);
            }
            scenario.verifyFrom(ledgerA, pair.a()); // reads too, while B is down

            pair.b().context().testDestagePaused(false);
            try (LedgerWriter loadA = scenario.writeThrough(ledgerA, QUEUE_DEPTH, pair.a()))
            {
                scenario.progress(ACKS_PER_PHASE / 3, loadA);
                pair.b().restart(); // T1, while A is under load
                scenario.note("B up again");
                scenario.progress(ACKS_PER_PHASE, loadA);
                scenario.stopCleanly(loadA);
            }
            assertTrue(pair.b().logSinceLastStart().contains("acknowledged changes from NVMe memory"),
                "B was killed with its acknowledged writes in NVMe memory; its restart must adopt them:\n" +
                pair.logTails());

            final LedgerReport reportB = scenario.verifyFrom(ledgerB, pair.b()).get(0);
            final LedgerReport reportA = scenario.verifyFrom(ledgerA, pair.a()).get(0);
            assertTrue(reportB.acknowledgedExact() > 0 && reportA.acknowledgedExact() > 0);
            System.out.println("[harness] peer crash: " + ledgerA.acknowledgedBlocks() + " blocks of va and " +
                ledgerB.acknowledgedBlocks() + " of vb acknowledged; B killed and restarted, A never saw a host error");
        }
    }
}
