package io.afasim.harness;

import io.afasim.journal.Seeds;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The issue-5 scenarios of a linked pair ({@link PairScenarios}): after each, every acknowledged write reads back
 * through both controllers (through the survivor while the peer is down), and no host saw an error except on a
 * connection to a controller that was killed.
 */
class PairScenariosSystemTest
{
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void writesThroughTheNonOwnerAreForwarded() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.writesThroughTheNonOwner(pair, Seeds.seed("writesThroughTheNonOwner"));
        }
    }

    @Test
    void volumeMovesToThePeerUnderLoadOnBothControllers() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.volumeMoveUnderLoad(pair, Seeds.seed("volumeMoveUnderLoad"));
        }
    }

    @Test
    void volumeMovesThereAndBackUnderLoad() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.volumeMoveThereAndBackUnderLoad(pair, Seeds.seed("volumeMoveThereAndBackUnderLoad"));
            assertEquals(pair.a().context().sharedThreading() ? "shared" : "volume",
                pair.a().status().get("nbdPlacement"), "the default placement of this threading");
        }
    }

    /**
     * The same with every NBD connection on the network thread ({@code afasim.nbd.placement=network}): the default
     * serves a connection on its volume's thread and hands it back to the network thread when the volume leaves.
     */
    @Test
    void volumeMovesThereAndBackUnderLoadWithNbdOnTheNetworkThread() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            pair.a().context().threading("dedicated").nbdPlacement("network"); // whatever -Dafasim.threading says
            pair.b().context().threading("dedicated").nbdPlacement("network");
            PairScenarios.volumeMoveThereAndBackUnderLoad(pair,
                Seeds.seed("volumeMoveThereAndBackUnderLoad-network"));
            assertEquals("network", pair.a().status().get("nbdPlacement"));
            assertEquals("network", pair.b().status().get("nbdPlacement"));
        }
    }

    @Test
    void survivorsVolumeStaysWritableWhenThePeerIsKilledUnderLoad() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.peerKillUnderLoad(pair, Seeds.seed("peerKillUnderLoad"));
        }
    }

    @Test
    void peerRestartUnderLoadReturnsBothVolumesToWb() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.peerRestartReturnsToWb(pair, Seeds.seed("peerRestartReturnsToWb"));
        }
    }
}
