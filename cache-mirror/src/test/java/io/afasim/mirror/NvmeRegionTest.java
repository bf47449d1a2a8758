package io.afasim.mirror;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The region header: identity, geometry, two copies, versions; recovery refuses what is not ours. */
class NvmeRegionTest
{
    @TempDir
    Path dir;

    @Test
    void createThenOpenKeepsGeometryAndBumpsGeneration()
    {
        final CacheContext ctx = TestSupport.smallContext(dir).conclude();
        final int slotCount;
        try (NvmeRegion region = NvmeRegion.create(ctx))
        {
            slotCount = region.slotCount();
            assertEquals(ctx.slotCount(), slotCount);
            assertEquals(1, region.generation());
            assertTrue(region.pageOffset(slotCount - 1) + NvmeRegion.BLOCK_SIZE_BYTES <= region.regionSizeBytes());
            assertTrue(region.recordOffset(region.recordCount() - 1) + ChangeEntry.LENGTH_BYTES <=
                region.pageOffset(0));
            assertEquals(0, region.pageOffset(0) % NvmeRegion.BLOCK_SIZE_BYTES, "pages are block-aligned");
        }
        for (long generation = 2; generation < 5; generation++)
        {
            try (NvmeRegion region = NvmeRegion.open(ctx))
            {
                assertEquals(generation, region.generation());
                assertEquals(slotCount, region.slotCount());
                assertEquals(ctx.arrayId(), region.arrayId());
            }
        }
    }

    @Test
    void refusesRegionOfAnotherArrayOrNode()
    {
        final CacheContext ctx = TestSupport.smallContext(dir).conclude();
        NvmeRegion.create(ctx).close();
        final UUID otherArray = new UUID(7, 7);
        final NvmeRegionException array = assertThrows(NvmeRegionException.class,
            () -> NvmeCache.openOrCreate(TestSupport.smallContext(dir).arrayId(otherArray)));
        assertTrue(array.getMessage().contains("belongs to array " + ctx.arrayId() + " node 0, expected array " +
            otherArray + " node 0"), array.getMessage());
        final NvmeRegionException node = assertThrows(NvmeRegionException.class,
            () -> NvmeRegion.open(TestSupport.smallContext(dir).nodeId(1)));
        assertTrue(node.getMessage().contains("refusing a foreign region"), node.getMessage());
        try (NvmeRegion region = NvmeRegion.open(ctx))
        {
            assertEquals(2, region.generation(), "refusals did not touch the header");
        }
    }

    @Test
    void refusesAnotherGeometry()
    {
        NvmeRegion.create(TestSupport.smallContext(dir)).close();
        final NvmeRegionException size = assertThrows(NvmeRegionException.class,
            () -> NvmeRegion.open(TestSupport.smallContext(dir).regionSizeBytes(2L << 20)));
        assertTrue(size.getMessage().contains("expected regionSizeBytes=2097152"), size.getMessage());
        final NvmeRegionException records = assertThrows(NvmeRegionException.class,
            () -> NvmeRegion.open(TestSupport.smallContext(dir).recordCount(128)));
        assertTrue(records.getMessage().contains("recordCount=64") &&
            records.getMessage().contains("refusing another geometry"), records.getMessage());
    }

    @Test
    void refusesDamagedHeaderButSurvivesOneDamagedCopy() throws IOException
    {
        final CacheContext ctx = TestSupport.smallContext(dir).conclude();
        NvmeRegion.create(ctx).close();
        NvmeRegion.open(ctx).close(); // generation 2 in copy 0, generation 1 in copy 1
        flipByte(ctx.regionPath(), 40); // copy 0 (the newest) damaged: open continues from copy 1
        try (NvmeRegion region = NvmeRegion.open(ctx))
        {
            assertEquals(2, region.generation(), "continued from the intact copy (generation 1)");
        }
        flipByte(ctx.regionPath(), 41); // copy 0 (rewritten with generation 2) damaged again
        flipByte(ctx.regionPath(), NvmeRegion.BLOCK_SIZE_BYTES + 40); // and copy 1
        final NvmeRegionException damaged = assertThrows(NvmeRegionException.class,
            () -> NvmeCache.openOrCreate(TestSupport.smallContext(dir)));
        assertTrue(damaged.getMessage().contains("damaged header"), damaged.getMessage());
    }

    @Test
    void refusesSomethingElseAndNewerFormats() throws IOException
    {
        final CacheContext ctx = TestSupport.smallContext(dir).conclude();
        Files.write(ctx.regionPath(), new byte[(int)ctx.regionSizeBytes()]);
        final NvmeRegionException foreign = assertThrows(NvmeRegionException.class, () -> NvmeRegion.open(ctx));
        assertTrue(foreign.getMessage().contains("not an afasim NVMe region"), foreign.getMessage());

        NvmeRegion.create(ctx).close();
        final byte[] bytes = Files.readAllBytes(ctx.regionPath());
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        for (int copy = 0; copy < NvmeRegion.HEADER_COPY_COUNT; copy++)
        {
            final int offset = copy * NvmeRegion.BLOCK_SIZE_BYTES;
            buffer.putInt(offset + NvmeRegion.VERSION_OFFSET, NvmeRegion.VERSION + 1);
            buffer.putInt(offset + NvmeRegion.MIN_COMPATIBLE_OFFSET, NvmeRegion.VERSION + 1);
            buffer.putInt(offset + NvmeRegion.HEADER_CHECKSUM_OFFSET, NvmeRegion.headerChecksum(buffer, offset));
        }
        Files.write(ctx.regionPath(), bytes);
        final NvmeRegionException newer = assertThrows(NvmeRegionException.class, () -> NvmeRegion.open(ctx));
        assertTrue(newer.getMessage().contains("needs a reader of version >= 2"), newer.getMessage());
    }

    @Test
    void refusesMissingRegionOnOpen()
    {
        final NvmeRegionException missing = assertThrows(NvmeRegionException.class,
            () -> NvmeRegion.open(TestSupport.smallContext(dir)));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
    }

    private static void flipByte(final Path path, final int offset) throws IOException
    {
        final byte[] bytes = Files.readAllBytes(path);
        bytes[offset] ^= 0x40;
        Files.write(path, bytes);
    }
}
