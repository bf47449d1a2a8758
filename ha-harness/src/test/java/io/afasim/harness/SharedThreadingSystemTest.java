package io.afasim.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.afasim.journal.Seeds;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pair with {@code afasim.threading=shared}: each controller runs its NBD server, its link and its volume agents
 * on one I/O thread. The scenarios that cross what that thread merges: forwarding (NBD and link on one thread on
 * both sides), an ownership move under load (agents added to and removed from a running I/O thread), and a peer
 * killed and restarted under load (the survivor's I/O thread carries on in 1WB, then back to WB). After each, every
 * acknowledged write reads back through both controllers.
 */
class SharedThreadingSystemTest
{
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void writesThroughTheNonOwnerAreForwarded() throws Exception
    {
        try (ControllerPair pair = sharedPair())
        {
            PairScenarios.writesThroughTheNonOwner(pair, Seeds.seed("shared-writesThroughTheNonOwner"));
            assertRunsShared(pair.a());
            assertRunsShared(pair.b());
        }
    }

    @Test
    void volumeMovesThereAndBackUnderLoad() throws Exception
    {
        try (ControllerPair pair = sharedPair())
        {
            PairScenarios.volumeMoveThereAndBackUnderLoad(pair, Seeds.seed("shared-volumeMoveThereAndBackUnderLoad"));
            assertRunsShared(pair.a());
        }
    }

    @Test
    void peerRestartUnderLoadReturnsBothVolumesToWb() throws Exception
    {
        try (ControllerPair pair = sharedPair())
        {
            PairScenarios.peerRestartReturnsToWb(pair, Seeds.seed("shared-peerRestartReturnsToWb"));
            assertRunsShared(pair.b());
        }
    }

    /**
     * After B's restart A replays va's whole dirty cache to it (A's destage is held off, so that is about 5,700 pages,
     * 22 MiB) through the link's 16 MiB outbound queue. The replay runs on A's I/O thread, which also runs the link
     * that drains that queue: it must drive the link while it waits for room, or it waits out the resync's timeout
     * with NBD and the link stalled, and va never returns to WB.
     */
    @Test
    void aResyncLargerThanTheLinkQueueReturnsToWb() throws Exception
    {
        final long volumeBytes = 32L << 20;
        try (ControllerPair pair = sharedPair())
        {
            for (final ControllerNode node : pair.nodes())
            {
                node.context().nvmeSizeBytes(256L << 20); // a quarter per volume: twice va, so its writes never wait
            }
            pair.a().context().testDestagePaused(true);
            final Scenario scenario = Scenario.on(pair.start());
            scenario.awaitPeerState(pair.a(), "up");
            scenario.createVolume(pair.a(), "va", volumeBytes);
            scenario.awaitRunningMode(pair.a(), "va", "wb");
            final Ledger ledger = new Ledger("va", volumeBytes, Seeds.seed("shared-resyncLargerThanTheLinkQueue"));
            try (LedgerWriter load = scenario.writeThrough(ledger, 32, pair.a()))
            {
                pair.b().kill();
                scenario.note("B killed");
                scenario.awaitRunningMode(pair.a(), "va", "1wb");
                scenario.progress(10_000, load);
                scenario.stopCleanly(load);
            }
            pair.b().restart();
            scenario.note("B up again");
            scenario.awaitPeerState(pair.a(), "up");
            scenario.awaitRunningMode(pair.a(), "va", "wb");
            scenario.note("va back in WB");
            try (LedgerWriter load = scenario.writeThrough(ledger, 32, pair.a(), pair.b()))
            {
                scenario.progress(1_000, load);
                scenario.stopCleanly(load);
            }
            scenario.verifyFrom(ledger, pair.a(), pair.b());
        }
    }

    private ControllerPair sharedPair()
    {
        final ControllerPair pair = ControllerPair.create(dir.resolve("array"));
        pair.a().context().threading("shared");
        pair.b().context().threading("shared");
        return pair;
    }

    /**
     * What a shared controller reports ({@code afactl status}: threading=shared) and what jstack shows of it: its I/O
     * thread, and no NBD, link or volume thread of their own.
     */
    private static void assertRunsShared(final ControllerNode node) throws java.io.IOException
    {
        assertEquals("shared", node.status().get("threading"), () -> "afactl status of " + node.name());
        final String dump = node.threadDump();
        assertTrue(dump.contains("\"io-" + node.name() + "\""), () -> "no I/O thread in " + node.name() + ":\n" + dump);
        assertFalse(dump.contains("\"afasim-nbd\""), () -> "an NBD thread of its own in " + node.name() + ":\n" + dump);
        assertFalse(dump.contains("\"link-" + node.name() + "\""),
            () -> "a link thread in " + node.name() + ":\n" + dump);
        assertFalse(dump.contains("\"volume-"), () -> "a volume thread in " + node.name() + ":\n" + dump);
    }
}
