package io.afasim.journal;

import java.util.function.LongSupplier;

/**
 * Settings of a {@link SegmentLog}, Aeron-context style: defaults as {@code *_DEFAULT} constants (overridable
 * with the {@code *_PROP_NAME} system properties), setters that return {@code this}, and {@link #conclude()}
 * that validates every value once and names the bad one.
 */
public final class SegmentLogContext
{
    /** Data blocks gathered in memory before one pwrite (4 KiB each). */
    public static final String STAGING_BLOCKS_PROP_NAME = "afasim.segment.staging.blocks";
    public static final int STAGING_BLOCKS_DEFAULT = 64;
    public static final int STAGING_BLOCKS_MIN = 1;
    /** 4 MiB of staging: one segment of the default size, and a transfer any drive accepts. */
    public static final int STAGING_BLOCKS_MAX = 1024;

    /**
     * Free segments host writes leave to the cleaner: a host append that needs a new segment gets
     * {@link IoStatus#NO_SPACE} when the allocator has this many or fewer free segments, so relocation always
     * has somewhere to go. Relocations may use the reserve.
     */
    public static final String CLEANER_RESERVE_SEGMENTS_PROP_NAME = "afasim.segment.cleaner.reserve.segments";
    public static final int CLEANER_RESERVE_SEGMENTS_DEFAULT = 1;
    public static final int CLEANER_RESERVE_SEGMENTS_MAX = 64;

    /**
     * Whether {@link SegmentLog#release(int)} gives the segment back to the allocator itself (true: the redo
     * sink is the journal, so the SEGMENT_FREED record is already in journal order), or leaves that to whoever
     * moves its redo records into the journal (false: a per-volume {@link RedoBatch}, whose drain frees the
     * segment when its record is journaled, so no other volume can reuse it before the free is in the log).
     */
    private boolean releaseFreesSegment = true;
    private int stagingBlocks = Integer.getInteger(STAGING_BLOCKS_PROP_NAME, STAGING_BLOCKS_DEFAULT);
    private int cleanerReserveSegments =
        Integer.getInteger(CLEANER_RESERVE_SEGMENTS_PROP_NAME, CLEANER_RESERVE_SEGMENTS_DEFAULT);
    private LongSupplier clock = System::currentTimeMillis;
    private SegmentWriter writer;
    private boolean concluded;

    /**
     * Validates the values; idempotent.
     *
     * @return this.
     * @throws IllegalArgumentException naming the first bad value.
     */
    public SegmentLogContext conclude()
    {
        if (stagingBlocks < STAGING_BLOCKS_MIN || stagingBlocks > STAGING_BLOCKS_MAX)
        {
            throw new IllegalArgumentException("stagingBlocks=" + stagingBlocks + " not in [" + STAGING_BLOCKS_MIN +
                ", " + STAGING_BLOCKS_MAX + "]");
        }
        if (cleanerReserveSegments < 0 || cleanerReserveSegments > CLEANER_RESERVE_SEGMENTS_MAX)
        {
            throw new IllegalArgumentException("cleanerReserveSegments=" + cleanerReserveSegments + " not in [0, " +
                CLEANER_RESERVE_SEGMENTS_MAX + "]");
        }
        if (clock == null)
        {
            throw new IllegalArgumentException("clock=null: a clock (epoch ms) is required");
        }
        concluded = true;
        return this;
    }

    public boolean releaseFreesSegment()
    {
        return releaseFreesSegment;
    }

    /** Full staging buffers are written behind by this writer's thread; null (the default): by the owner thread. */
    public SegmentWriter writer()
    {
        return writer;
    }

    public SegmentLogContext writer(final SegmentWriter writer)
    {
        this.writer = writer;
        return this;
    }

    public SegmentLogContext releaseFreesSegment(final boolean releaseFreesSegment)
    {
        this.releaseFreesSegment = releaseFreesSegment;
        return this;
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    public int stagingBlocks()
    {
        return stagingBlocks;
    }

    public SegmentLogContext stagingBlocks(final int stagingBlocks)
    {
        this.stagingBlocks = stagingBlocks;
        return this;
    }

    public int cleanerReserveSegments()
    {
        return cleanerReserveSegments;
    }

    public SegmentLogContext cleanerReserveSegments(final int cleanerReserveSegments)
    {
        this.cleanerReserveSegments = cleanerReserveSegments;
        return this;
    }

    /** Wall clock in epoch milliseconds: seal times in segment summaries. */
    public LongSupplier clock()
    {
        return clock;
    }

    public SegmentLogContext clock(final LongSupplier clock)
    {
        this.clock = clock;
        return this;
    }

    @Override
    public String toString()
    {
        return "SegmentLogContext{stagingBlocks=" + stagingBlocks + ", cleanerReserveSegments=" +
            cleanerReserveSegments + '}';
    }
}
