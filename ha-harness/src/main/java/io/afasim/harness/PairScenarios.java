package io.afasim.harness;

import java.io.IOException;

/**
 * The issue-5 scenarios of a linked pair: forwarding, volume move, peer loss, return to WB, failover. Each is one
 * method here, so that its system test is three lines ({@code PairScenariosSystemTest}):
 * <pre>
 *   &#64;Test
 *   void writesThroughTheNonOwnerAreForwarded() throws Exception
 *   {
 *       try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
 *       {
 *           PairScenarios.writesThroughTheNonOwner(pair, Seeds.seed("writesThroughTheNonOwner"));
 *       }
 *   }
 * </pre>
 * One has no test yet because the controller fails it: {@link #peerKillFailsItsVolumesOver} (no takeover of a dead
 * peer's volumes: writes forwarded to it fail with errno 108). What the scenarios use from the controller: admin {@code status} field
 * {@code peerState} (up, suspect, down, alone), {@code volume show} fields {@code owner} and {@code runningMode} (wb,
 * 1wb, wt), the peer's volumes exported over NBD by the non-owner. After each scenario every acknowledged write reads
 * back through both controllers (through the survivor alone while the peer is down).
 */
public final class PairScenarios
{
    public static final long VOLUME_BYTES = 8L << 20;
    public static final int QUEUE_DEPTH = 16;
    public static final long ACKS_PER_PHASE = 1_500;

    private PairScenarios()
    {
    }

    /** Host writes through the owner and through the non-owner (forwarded) to one volume. */
    public static void writesThroughTheNonOwner(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) -> { });
    }

    /**
     * {@code afactl volume move va --to B} under load on connections to both controllers: no host error, B reports
     * itself the owner, every acknowledged write reads back through both.
     */
    public static void volumeMoveUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) ->
        {
            scenario.moveVolume(pair.a(), "va", "B");
            scenario.note("va moved to B");
            scenario.progress(ACKS_PER_PHASE, load);
        });
    }

    /** {@link #volumeMoveUnderLoad}, then {@code --to A} sent to the new owner B, still under load on both. */
    public static void volumeMoveThereAndBackUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) ->
        {
            scenario.moveVolume(pair.a(), "va", "B");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.moveVolume(pair.b(), "va", "A");
            scenario.progress(ACKS_PER_PHASE, load);
        });
    }

    /** What a scenario does while its load runs (after a first phase of acknowledged writes). */
    private interface Steps
    {
        void run(Scenario scenario, LedgerWriter load) throws IOException;
    }

    /**
     * Volume va on A, written through A and through B (forwarded) for a phase, then {@code steps}, then stopped
     * cleanly: every acknowledged write reads back through both controllers.
     */
    private static void underLoadOnBoth(final ControllerPair pair, final long seed, final Steps steps)
        throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
        final Ledger ledger = new Ledger("va", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            steps.run(scenario, load);
            scenario.stopCleanly(load);
        }
        scenario.verifyFrom(ledger, pair.a(), pair.b());
    }

    /** A peer-loss scenario's state: its steps, the survivor A's volume's ledger and the lost peer B's volume's. */
    public record PeerLoss(Scenario scenario, Ledger survivorVolume, Ledger peerVolume)
    {
    }

    /**
     * SIGKILL of B under load: va (owned by A, WB) is written through A and through B (forwarded), vb (owned by B)
     * through B. A reports its peer down; va stays writable through A with no host error (it runs 1-way-WB); the
     * connections through B only dropped. Every acknowledged write of va reads back through A.
     */
    public static PeerLoss peerKillUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
        scenario.createVolume(pair.b(), "vb", VOLUME_BYTES);
        scenario.awaitRunningMode(pair.a(), "va", "wb");
        scenario.awaitRunningMode(pair.b(), "vb", "wb");
        final Ledger ledgerA = new Ledger("va", VOLUME_BYTES, seed);
        final Ledger ledgerB = new Ledger("vb", VOLUME_BYTES, seed + 1);
        try (LedgerWriter loadA = scenario.writeThrough(ledgerA, QUEUE_DEPTH, pair.a(), pair.b());
             LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            final String victim = pair.b().nbdAddress();
            pair.b().kill();
            scenario.note("B killed");
            scenario.awaitPeerState(pair.a(), "down");
            scenario.awaitRunningMode(pair.a(), "va", "1wb");
            scenario.progress(ACKS_PER_PHASE, loadA);
            loadA.stop(scenario.diagnostics());
            loadB.awaitEnded(Scenario.AWAIT_TIMEOUT_MS, scenario.diagnostics());
            scenario.assertOnlyVictimPathsFailed(loadA, victim);
            scenario.assertOnlyVictimPathsFailed(loadB, victim);
        }
        scenario.verifyFrom(ledgerA, pair.a());
        return new PeerLoss(scenario, ledgerA, ledgerB);
    }

    /**
     * {@link #peerKillUnderLoad}, then B restarts (T1) while va is written through A: both report the peer up, va
     * and vb run WB again; then both volumes are written through both controllers with no host error, and every
     * acknowledged write of both reads back through A and through B.
     */
    public static void peerRestartReturnsToWb(final ControllerPair pair, final long seed) throws IOException
    {
        final PeerLoss loss = peerKillUnderLoad(pair, seed);
        final Scenario scenario = loss.scenario();
        try (LedgerWriter loadA = scenario.writeThrough(loss.survivorVolume(), QUEUE_DEPTH, pair.a()))
        {
            scenario.progress(ACKS_PER_PHASE / 3, loadA);
            pair.b().restart();
            scenario.note("B up again");
            scenario.awaitPeerState(pair.a(), "up");
            scenario.awaitPeerState(pair.b(), "up");
            scenario.awaitRunningMode(pair.a(), "va", "wb");
            scenario.awaitRunningMode(pair.b(), "vb", "wb");
            scenario.note("both volumes back in WB");
            scenario.progress(ACKS_PER_PHASE / 3, loadA);
            scenario.stopCleanly(loadA);
        }
        try (LedgerWriter loadA = scenario.writeThrough(loss.survivorVolume(), QUEUE_DEPTH, pair.a(), pair.b());
             LedgerWriter loadB = scenario.writeThrough(loss.peerVolume(), QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.stopCleanly(loadA, loadB);
        }
        scenario.verifyFrom(loss.survivorVolume(), pair.a(), pair.b());
        scenario.verifyFrom(loss.peerVolume(), pair.a(), pair.b());
    }

    /**
     * Failover (DESIGN §7): vb (owned by B) written through A and through B; SIGKILL of B: A takes vb over and the
     * connection through A keeps working with no host error (only B's connection drops); vb reads back through A.
     */
    public static void peerKillFailsItsVolumesOver(final ControllerPair pair, final long seed) throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.b(), "vb", VOLUME_BYTES);
        scenario.awaitRunningMode(pair.b(), "vb", "wb");
        final Ledger ledger = new Ledger("vb", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            final String victim = pair.b().nbdAddress();
            pair.b().kill();
            scenario.awaitPeerState(pair.a(), "down");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.awaitVolume(pair.a(), "vb", "owner", "A");
            load.stop(scenario.diagnostics());
            scenario.assertOnlyVictimPathsFailed(load, victim);
        }
        scenario.verifyFrom(ledger, pair.a());
    }

    /** Starts both controllers and waits until each sees the other (link and disk heartbeat). */
    private static Scenario startLinked(final ControllerPair pair)
    {
        pair.start();
        final Scenario scenario = Scenario.on(pair);
        scenario.awaitPeerState(pair.a(), "up");
        scenario.awaitPeerState(pair.b(), "up");
        return scenario;
    }
}
