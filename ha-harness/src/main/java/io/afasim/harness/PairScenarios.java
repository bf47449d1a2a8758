package io.afasim.harness;

import java.io.IOException;

/**
 * The issue-5 scenarios that need the inter-controller link: forwarding, volume move, failover and failback. Each
 * is written here against the harness so that, once the link is wired, its system test is three lines:
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
 * Until then they fail (with the link down a write through the non-owner gets EIO and {@code volume move} is
 * refused), so no test runs them yet. What they rely on from the controller: admin {@code status} field
 * {@code peerState} (up once the link and the disk heartbeat are both seen, down after a peer loss), {@code volume
 * show} fields {@code owner} and {@code runningMode} (wb, 1wb), peer volumes exported over NBD by the non-owner, and
 * failback handing a volume back to its restarted owner. After each scenario every acknowledged write reads back
 * through both controllers (through the survivor alone while the peer is down).
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
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
        final Ledger ledger = new Ledger("va", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.stopCleanly(load);
        }
        scenario.verifyFrom(ledger, pair.a(), pair.b());
    }

    /**
     * {@code afactl volume move va --to B} and back to A, under load on connections to both controllers: no host
     * error, every acknowledged write readable through both.
     */
    public static void volumeMoveUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
        final Ledger ledger = new Ledger("va", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.moveVolume(pair.a(), "va", "B");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.moveVolume(pair.b(), "va", "A");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.stopCleanly(load);
        }
        scenario.verifyFrom(ledger, pair.a(), pair.b());
    }

    /** The ledgers of a peer-loss scenario: A's own volume and the volume A took over from B. */
    public record PeerLoss(Ledger survivorVolume, Ledger peerVolume)
    {
    }

    /**
     * SIGKILL of B while both volumes (va owned by A, vb by B, both WB) are written through both controllers: the
     * connections through B drop (a multipath host's other path is A), the connections through A see no host error
     * (va goes on in 1-way-WB, vb is taken over by A and the same connection keeps working); every acknowledged write
     * of both reads back through A.
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
             LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            final String victim = pair.b().nbdAddress();
            pair.b().kill();
            scenario.awaitPeerState(pair.a(), "down");
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.awaitRunningMode(pair.a(), "va", "1wb");
            scenario.awaitVolume(pair.a(), "vb", "owner", "A");
            loadA.stop(scenario.diagnostics());
            loadB.stop(scenario.diagnostics());
            scenario.assertOnlyVictimPathsFailed(loadA, victim);
            scenario.assertOnlyVictimPathsFailed(loadB, victim);
        }
        scenario.verifyFrom(ledgerA, pair.a());
        scenario.verifyFrom(ledgerB, pair.a());
        return new PeerLoss(ledgerA, ledgerB);
    }

    /**
     * {@link #peerKillUnderLoad}, then B restarts while both volumes are written through A: the pair is whole again
     * (peer up on both), vb is handed back to B, both volumes run WB; no host error; every acknowledged write of both
     * reads back through both controllers.
     */
    public static void peerRestartReturnsToWb(final ControllerPair pair, final long seed) throws IOException
    {
        final PeerLoss loss = peerKillUnderLoad(pair, seed);
        final Scenario scenario = Scenario.on(pair);
        try (LedgerWriter loadA = scenario.writeThrough(loss.survivorVolume(), QUEUE_DEPTH, pair.a());
             LedgerWriter loadB = scenario.writeThrough(loss.peerVolume(), QUEUE_DEPTH, pair.a()))
        {
            scenario.progress(ACKS_PER_PHASE / 3, loadA, loadB);
            pair.b().restart();
            scenario.awaitPeerState(pair.a(), "up");
            scenario.awaitPeerState(pair.b(), "up");
            scenario.awaitVolume(pair.b(), "vb", "owner", "B");
            scenario.awaitRunningMode(pair.b(), "vb", "wb");
            scenario.awaitRunningMode(pair.a(), "va", "wb");
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.stopCleanly(loadA, loadB);
        }
        scenario.verifyFrom(loss.survivorVolume(), pair.a(), pair.b());
        scenario.verifyFrom(loss.peerVolume(), pair.a(), pair.b());
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
