package io.afasim.dedup;

import io.afasim.journal.JournalContext;
import io.afasim.journal.SegmentLogContext;

/**
 * Settings of the dedup layer, Aeron-style: defaults as constants, system properties read once,
 * {@link #conclude()} validates and names the bad value.
 */
public final class DedupContext
{
    public static final String RANGE_BLOCKS_PROP_NAME = "afasim.dedup.rangeBlocks";
    /** 256k blocks = 1 GiB of LBA space per mapping tree. */
    public static final int RANGE_BLOCKS_DEFAULT = 1 << 18;
    public static final int RANGE_BLOCKS_MIN = 1 << 6;
    public static final int RANGE_COUNT_MAX = 1 << 20;

    public static final String PAGE_COUNT_MAX_PROP_NAME = "afasim.dedup.pageCountMax";
    /** B+ tree pages per volume: 1M pages = 4 GiB of metadata, enough for ~40M unique blocks. */
    public static final int PAGE_COUNT_MAX_DEFAULT = 1 << 20;

    public static final String CLEAN_SEGMENTS_MAX_PROP_NAME = "afasim.dedup.cleanSegmentsMax";
    /** Segments one cleaning pass may move. */
    public static final int CLEAN_SEGMENTS_MAX_DEFAULT = 4;

    public static final String REDO_BATCH_BYTES_PROP_NAME = "afasim.dedup.redoBatchBytes";
    /** Redo records a volume gathers between commits; a full batch forces a commit. */
    public static final int REDO_BATCH_BYTES_DEFAULT = 1 << 20;
    public static final int REDO_BATCH_BYTES_MIN = 64 << 10;

    /**
     * How a new pool's drive files are made: {@code sparse} (the default: quick, and only written blocks take host
     * disk space) or {@code zeroed} (written with zeros at format: no write pays the host filesystem's block
     * allocation; see {@code Shelf.format}).
     */
    public static final String SHELF_PROVISION_PROP_NAME = "afasim.shelf.provision";
    public static final String SHELF_PROVISION_DEFAULT = "sparse";

    private int redoBatchBytes = Integer.getInteger(REDO_BATCH_BYTES_PROP_NAME, REDO_BATCH_BYTES_DEFAULT);
    private String shelfProvision = System.getProperty(SHELF_PROVISION_PROP_NAME, SHELF_PROVISION_DEFAULT);
    private int rangeBlocks = Integer.getInteger(RANGE_BLOCKS_PROP_NAME, RANGE_BLOCKS_DEFAULT);
    private int pageCountMax = Integer.getInteger(PAGE_COUNT_MAX_PROP_NAME, PAGE_COUNT_MAX_DEFAULT);
    private int cleanSegmentsMax = Integer.getInteger(CLEAN_SEGMENTS_MAX_PROP_NAME, CLEAN_SEGMENTS_MAX_DEFAULT);
    private JournalContext journalContext = new JournalContext();
    private SegmentLogContext segmentLogContext = new SegmentLogContext();
    private boolean concluded;

    public DedupContext conclude()
    {
        if (concluded)
        {
            return this;
        }
        if (rangeBlocks < RANGE_BLOCKS_MIN || Integer.bitCount(rangeBlocks) != 1)
        {
            throw new IllegalArgumentException(RANGE_BLOCKS_PROP_NAME + "=" + rangeBlocks +
                " must be a power of two >= " + RANGE_BLOCKS_MIN);
        }
        if (pageCountMax < 16)
        {
            throw new IllegalArgumentException(PAGE_COUNT_MAX_PROP_NAME + "=" + pageCountMax + " must be >= 16");
        }
        if (cleanSegmentsMax < 1)
        {
            throw new IllegalArgumentException(CLEAN_SEGMENTS_MAX_PROP_NAME + "=" + cleanSegmentsMax + " must be >= 1");
        }
        if (redoBatchBytes < REDO_BATCH_BYTES_MIN)
        {
            throw new IllegalArgumentException(REDO_BATCH_BYTES_PROP_NAME + "=" + redoBatchBytes + " must be >= " +
                REDO_BATCH_BYTES_MIN);
        }
        if (!"sparse".equals(shelfProvision) && !"zeroed".equals(shelfProvision))
        {
            throw new IllegalArgumentException(SHELF_PROVISION_PROP_NAME + "=" + shelfProvision +
                " must be sparse or zeroed");
        }
        journalContext.conclude();
        segmentLogContext.conclude();
        concluded = true;
        return this;
    }

    /** {@code sparse} or {@code zeroed} (see {@link #SHELF_PROVISION_PROP_NAME}). */
    public String shelfProvision()
    {
        return shelfProvision;
    }

    public DedupContext shelfProvision(final String shelfProvision)
    {
        this.shelfProvision = shelfProvision;
        return this;
    }

    public int rangeBlocks()
    {
        return rangeBlocks;
    }

    public DedupContext rangeBlocks(final int rangeBlocks)
    {
        this.rangeBlocks = rangeBlocks;
        return this;
    }

    public int redoBatchBytes()
    {
        return redoBatchBytes;
    }

    public DedupContext redoBatchBytes(final int redoBatchBytes)
    {
        this.redoBatchBytes = redoBatchBytes;
        return this;
    }

    public int pageCountMax()
    {
        return pageCountMax;
    }

    public DedupContext pageCountMax(final int pageCountMax)
    {
        this.pageCountMax = pageCountMax;
        return this;
    }

    public int cleanSegmentsMax()
    {
        return cleanSegmentsMax;
    }

    public DedupContext cleanSegmentsMax(final int cleanSegmentsMax)
    {
        this.cleanSegmentsMax = cleanSegmentsMax;
        return this;
    }

    public JournalContext journalContext()
    {
        return journalContext;
    }

    public DedupContext journalContext(final JournalContext journalContext)
    {
        this.journalContext = journalContext;
        return this;
    }

    public SegmentLogContext segmentLogContext()
    {
        return segmentLogContext;
    }

    public DedupContext segmentLogContext(final SegmentLogContext segmentLogContext)
    {
        this.segmentLogContext = segmentLogContext;
        return this;
    }
}
