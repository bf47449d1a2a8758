package io.afasim.harness;

import io.afasim.journal.Seeds;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The link between the controllers cut under load, both ways and one way ({@link PairScenarios#linkFaultUnderLoad}),
 * with {@code afactl fault link}: both sides keep serving their own volumes in 1WB, and return to WB when it heals.
 */
class LinkPartitionSystemTest
{
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void aFullPartitionUnderLoadDegradesBothSidesAndHealsBackToWb() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.linkFaultUnderLoad(pair, Seeds.seed("linkPartitionUnderLoad"), "partition");
        }
    }

    @Test
    void aOneWayLossUnderLoadDegradesBothSidesAndHealsBackToWb() throws Exception
    {
        try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
        {
            PairScenarios.linkFaultUnderLoad(pair, Seeds.seed("linkDeafUnderLoad"), "deaf");
        }
    }
}
