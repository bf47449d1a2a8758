package io.afasim.harness;

import io.afasim.journal.Seeds;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hung controller ({@link PairScenarios#peerHungUnderLoad}): B is frozen with SIGSTOP for twice the peer timeout
 * under load on volumes owned by both controllers, then continued with SIGCONT. A serves its volume in 1-way-WB
 * meanwhile with no host error, the pair comes back in a new link epoch with both volumes in WB, and every
 * acknowledged write reads back through both controllers. A hang of 12 s ({@link PairScenarios#peerLongHangUnderLoad})
 * outlasts the link's Aeron client, which closes itself: the link relaunches driver and client and the pair still
 * comes back.
 */
class HungControllerSystemTest
{
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void survivorServesWhileThePeerIsFrozenAndThePairReturnsToWbWhenItContinues() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.peerHungUnderLoad(pair, Seeds.seed("peerHungUnderLoad"));
        }
    }

    @Test
    void aHangLongerThanTheLinksAeronClientToleratesStillEndsWithThePairBackInWb() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.peerLongHangUnderLoad(pair, Seeds.seed("peerLongHangUnderLoad"));
        }
    }
}
