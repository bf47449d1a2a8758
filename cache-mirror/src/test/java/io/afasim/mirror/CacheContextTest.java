package io.afasim.mirror;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CacheContextTest
{
    @Test
    void defaultsConcludeWithDerivedLimits()
    {
        final CacheContext ctx = new CacheContext().conclude();
        assertEquals(CacheContext.REGION_SIZE_BYTES_DEFAULT, ctx.regionSizeBytes());
        assertEquals(NvmeRegion.slotCountFor(ctx.regionSizeBytes(), ctx.recordCount()), ctx.slotCount());
        assertTrue(ctx.slotCount() > 64_000, "256 MiB holds ~64k slots: " + ctx.slotCount());
        assertTrue(ctx.globalLowSlots() < ctx.globalHighSlots());
        assertTrue(ctx.volumeLowSlots() < ctx.volumeSlotsMax());
        assertTrue((long)ctx.globalHighSlots() + (long)ctx.volumeCountMax() * (ctx.volumeFairSlots() + 1) <=
            ctx.slotCount(), "fair shares fit above the global high watermark");
    }

    @Test
    void concludeNamesTheBadValue()
    {
        assertBad("regionSizeBytes=1000000 is not a multiple", c -> c.regionSizeBytes(1_000_000));
        assertBad("regionSizeBytes=4294967296 not in", c -> c.regionSizeBytes(4L << 30));
        assertBad("nodeId=2 not in [0, 1]", c -> c.nodeId(2));
        assertBad("globalLowWatermarkPercent=80 not in [1, 79]", c -> c.globalLowWatermarkPercent(80));
        assertBad("recordCount=100 < volumeCountMax=64 x volumeRecordsMax=64", c -> c.recordCount(100));
        assertBad("leaves no fair share", c -> c.regionSizeBytes(1L << 20).recordCount(64).volumeRecordsMax(1));
        assertBad("volumeDirtyPercentMax=1 gives volumeSlotsMax", c -> c.volumeCountMax(2).volumeDirtyPercentMax(1));
        assertBad("destageBatchMax=0 not in", c -> c.destageBatchMax(0));
        final IllegalArgumentException uuid = assertThrows(IllegalArgumentException.class,
            () -> withProperty(CacheContext.ARRAY_ID_PROP_NAME, "not-a-uuid", () -> new CacheContext().conclude()));
        assertTrue(uuid.getMessage().contains("arrayId=not-a-uuid is not a UUID"), uuid.getMessage());
    }

    @Test
    void systemPropertyArgumentsRecreateTheSameContext()
    {
        final CacheContext original = new CacheContext()
            .regionPath(Path.of("/dev/shm/afasim/a1/node-1/nvme"))
            .regionSizeBytes(8L << 20)
            .recordCount(512)
            .arrayId(UUID.randomUUID())
            .nodeId(1)
            .volumeCountMax(8)
            .globalHighWatermarkPercent(70)
            .globalLowWatermarkPercent(50)
            .volumeDirtyPercentMax(30)
            .volumeLowWatermarkPercent(40)
            .volumeRecordsMax(16)
            .destageBatchMax(128)
            .forceOnFua(false)
            .conclude();
        final Map<String, String> properties = new HashMap<>();
        for (final String argument : original.toSystemPropertyArguments())
        {
            assertTrue(argument.startsWith("-D"), argument);
            final int equals = argument.indexOf('=');
            properties.put(argument.substring(2, equals), argument.substring(equals + 1));
        }
        final Map<String, String> saved = new HashMap<>();
        properties.keySet().forEach(key -> saved.put(key, System.getProperty(key)));
        try
        {
            properties.forEach(System::setProperty);
            final CacheContext copy = new CacheContext().conclude();
            assertEquals(original.toString(), copy.toString());
            assertEquals(original.slotCount(), copy.slotCount());
        }
        finally
        {
            saved.forEach((key, value) ->
            {
                if (value == null)
                {
                    System.clearProperty(key);
                }
                else
                {
                    System.setProperty(key, value);
                }
            });
        }
    }

    private static void assertBad(final String expected, final Consumer<CacheContext> change)
    {
        final CacheContext ctx = new CacheContext();
        change.accept(ctx);
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, ctx::conclude);
        assertTrue(ex.getMessage().contains(expected), "'" + ex.getMessage() + "' should contain '" + expected + "'");
    }

    private static void withProperty(final String key, final String value, final Runnable action)
    {
        final String saved = System.getProperty(key);
        System.setProperty(key, value);
        try
        {
            action.run();
        }
        finally
        {
            if (saved == null)
            {
                System.clearProperty(key);
            }
            else
            {
                System.setProperty(key, saved);
            }
        }
    }
}
