package io.afasim.journal;

/**
 * Where everything lives on a shelf, computed from its {@link ShelfConfig}.
 *
 * <pre>
 * every drive:
 *   0        4 KiB                       1 MiB
 *   +--------+---------------------------+---------------------------------------------+
 *   | header | reserved (quorum area)    | drive 0: metadata area, then segments       |
 *   |        |                           | others:  segments                           |
 *   +--------+---------------------------+---------------------------------------------+
 *
 * drive 0 metadata area (from 1 MiB):
 *   +--------------+--------------+---------------+---------------+------------------------+
 *   | superblock 0 | superblock 1 | bitmap slot 0 | bitmap slot 1 | redo journal region    |
 *   | 4 KiB        | 4 KiB        | bitmapBytes   | bitmapBytes   | journalSizeBytes       |
 *   +--------------+--------------+---------------+---------------+------------------------+
 *   segments start at the next segment-size boundary.
 *
 * a segment (blocksPerSegment 4 KiB blocks):
 *   +--------------------------------------------+-------------------------------+
 *   | data blocks 0 .. dataBlocksPerSegment-1    | summary (summaryBlocks)       |
 *   +--------------------------------------------+-------------------------------+
 * </pre>
 *
 * Segments are numbered round-robin across drives (segment 0 on the first slot of drive 0, segment 1 on
 * the first slot of drive 1, ...) so consecutive segments spread over the shelf. A physical block
 * address (PBA) is {@code segmentId * blocksPerSegment + blockInSegment}; PBA 0 is never handed out
 * so that 0 can mean "no block".
 */
public final class ShelfLayout
{
    public static final int BLOCK_SIZE_BYTES = Drive.BLOCK_SIZE_BYTES;
    public static final int BLOCK_SHIFT = 12;
    public static final long HEADER_OFFSET_BYTES = 0;
    /** Header block plus the reserved quorum area at the start of every drive. */
    public static final long RESERVED_BYTES = 1 << 20;
    public static final int SUPERBLOCK_SLOT_COUNT = 2;
    /** Per block of a segment summary: owner (4) + crc32c (4) + LBA (8). */
    public static final int SUMMARY_ENTRY_BYTES = 16;
    /** Summary header: magic, version, segment id, owner, sequence, block count, sealed time, crc. */
    public static final int SUMMARY_HEADER_BYTES = 64;

    private final ShelfConfig config;
    private final int blocksPerSegment;
    private final int summaryBlocksPerSegment;
    private final int dataBlocksPerSegment;
    private final long superblockOffsetBytes;
    private final int bitmapSlotBytes;
    private final long bitmapOffsetBytes;
    private final long journalOffsetBytes;
    private final int segmentCount;
    private final int[] segmentDrive;
    private final long[] segmentOffsetBytes;

    public ShelfLayout(final ShelfConfig config)
    {
        this.config = config;
        blocksPerSegment = config.segmentSizeBytes() / BLOCK_SIZE_BYTES;
        summaryBlocksPerSegment = summaryBlocks(blocksPerSegment);
        dataBlocksPerSegment = blocksPerSegment - summaryBlocksPerSegment;

        final long segmentsUpperBound = (long)config.driveCount() * (config.driveSizeBytes() / config.segmentSizeBytes());
        if (segmentsUpperBound > Integer.MAX_VALUE / 2)
        {
            throw new IllegalArgumentException("shelf too large: " + segmentsUpperBound + " segments");
        }
        bitmapSlotBytes = (int)roundUp(ExtentAllocator.HEADER_BYTES + (segmentsUpperBound + 7) / 8, BLOCK_SIZE_BYTES);
        superblockOffsetBytes = RESERVED_BYTES;
        bitmapOffsetBytes = superblockOffsetBytes + (long)SUPERBLOCK_SLOT_COUNT * BLOCK_SIZE_BYTES;
        journalOffsetBytes = bitmapOffsetBytes + 2L * bitmapSlotBytes;
        final long metadataEndBytes = journalOffsetBytes + config.journalSizeBytes();

        final int driveCount = config.driveCount();
        final long[] firstSegmentOffset = new long[driveCount];
        final long[] slotsPerDrive = new long[driveCount];
        long slotsMax = 0;
        for (int d = 0; d < driveCount; d++)
        {
            final long areaEnd = d == 0 ? metadataEndBytes : RESERVED_BYTES;
            firstSegmentOffset[d] = roundUp(areaEnd, config.segmentSizeBytes());
            slotsPerDrive[d] = Math.max(0, (config.driveSizeBytes() - firstSegmentOffset[d]) / config.segmentSizeBytes());
            slotsMax = Math.max(slotsMax, slotsPerDrive[d]);
        }

        int count = 0;
        for (int d = 0; d < driveCount; d++)
        {
            count += (int)slotsPerDrive[d];
        }
        if (count < 2)
        {
            throw new IllegalArgumentException("shelf has room for " + count + " segments; make drives larger " +
                "(driveSizeBytes=" + config.driveSizeBytes() + ", journalSizeBytes=" + config.journalSizeBytes() + ")");
        }
        segmentCount = count;
        segmentDrive = new int[count];
        segmentOffsetBytes = new long[count];
        int id = 0;
        for (long slot = 0; slot < slotsMax; slot++)
        {
            for (int d = 0; d < driveCount; d++)
            {
                if (slot < slotsPerDrive[d])
                {
                    segmentDrive[id] = d;
                    segmentOffsetBytes[id] = firstSegmentOffset[d] + slot * config.segmentSizeBytes();
                    id++;
                }
            }
        }
    }

    static int summaryBlocks(final int blocksPerSegment)
    {
        // smallest s with (blocksPerSegment - s) * entry + header <= s * block
        final int perBlock = BLOCK_SIZE_BYTES + SUMMARY_ENTRY_BYTES;
        return (blocksPerSegment * SUMMARY_ENTRY_BYTES + SUMMARY_HEADER_BYTES + perBlock - 1) / perBlock;
    }

    static long roundUp(final long value, final long alignment)
    {
        return (value + alignment - 1) / alignment * alignment;
    }

    public ShelfConfig config()
    {
        return config;
    }

    public int segmentCount()
    {
        return segmentCount;
    }

    public int blocksPerSegment()
    {
        return blocksPerSegment;
    }

    public int dataBlocksPerSegment()
    {
        return dataBlocksPerSegment;
    }

    public int summaryBlocksPerSegment()
    {
        return summaryBlocksPerSegment;
    }

    public int segmentDrive(final int segmentId)
    {
        return segmentDrive[segmentId];
    }

    public long segmentOffsetBytes(final int segmentId)
    {
        return segmentOffsetBytes[segmentId];
    }

    /** Byte offset on its drive of the summary of a segment. */
    public long summaryOffsetBytes(final int segmentId)
    {
        return segmentOffsetBytes[segmentId] + (long)dataBlocksPerSegment * BLOCK_SIZE_BYTES;
    }

    public long pba(final int segmentId, final int blockInSegment)
    {
        return (long)segmentId * blocksPerSegment + blockInSegment;
    }

    public int segmentOf(final long pba)
    {
        return (int)(pba / blocksPerSegment);
    }

    public int blockInSegment(final long pba)
    {
        return (int)(pba % blocksPerSegment);
    }

    /** Drive index holding a PBA. */
    public int driveOf(final long pba)
    {
        return segmentDrive[segmentOf(pba)];
    }

    /** Byte offset on its drive of a PBA. */
    public long offsetOf(final long pba)
    {
        return segmentOffsetBytes[segmentOf(pba)] + (long)blockInSegment(pba) * BLOCK_SIZE_BYTES;
    }

    /** True when the PBA addresses a data block (not a summary block) of an existing segment. */
    public boolean isDataPba(final long pba)
    {
        return pba > 0 && pba < (long)segmentCount * blocksPerSegment && blockInSegment(pba) < dataBlocksPerSegment;
    }

    /** Superblock slots, bitmap slots and the journal region live on drive 0. */
    public int metadataDrive()
    {
        return 0;
    }

    public long superblockOffsetBytes(final int slot)
    {
        return superblockOffsetBytes + (long)slot * BLOCK_SIZE_BYTES;
    }

    public int bitmapSlotBytes()
    {
        return bitmapSlotBytes;
    }

    public long bitmapOffsetBytes(final int slot)
    {
        return bitmapOffsetBytes + (long)slot * bitmapSlotBytes;
    }

    public long journalOffsetBytes()
    {
        return journalOffsetBytes;
    }

    public long journalSizeBytes()
    {
        return config.journalSizeBytes();
    }
}
