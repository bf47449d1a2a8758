package io.afasim.journal;

import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * Configuration of a {@link MetadataJournal} (Aeron {@code Context} style): defaults come from
 * {@code *_PROP_NAME} system properties or the {@code *_DEFAULT} constants, setters return {@code this},
 * and {@link #conclude()} validates every value once, naming the bad one.
 */
public final class JournalContext
{
    /** Commit once this many bytes are pending (group commit size trigger). */
    public static final String BATCH_BYTES_MAX_PROP_NAME = "afasim.journal.batch.bytes.max";
    public static final int BATCH_BYTES_MAX_DEFAULT = 256 << 10;
    /** Smallest allowed batch: one block. */
    public static final int BATCH_BYTES_MAX_MIN = Drive.BLOCK_SIZE_BYTES;
    /** Largest allowed batch: keeps the write buffer (batch + two largest records) bounded. */
    public static final int BATCH_BYTES_MAX_LIMIT = 16 << 20;

    /** Commit once the oldest pending record has waited this long (group commit time trigger). */
    public static final String BATCH_DELAY_NS_MAX_PROP_NAME = "afasim.journal.batch.delay.ns.max";
    public static final long BATCH_DELAY_NS_MAX_DEFAULT = 1_000_000L;
    /** One second: a longer delay would hold acknowledgements hostage. */
    public static final long BATCH_DELAY_NS_MAX_LIMIT = 1_000_000_000L;

    private int batchBytesMax = Integer.getInteger(BATCH_BYTES_MAX_PROP_NAME, BATCH_BYTES_MAX_DEFAULT);
    private long batchDelayNsMax = Long.getLong(BATCH_DELAY_NS_MAX_PROP_NAME, BATCH_DELAY_NS_MAX_DEFAULT);
    private NanoClock nanoClock = SystemNanoClock.INSTANCE;
    private boolean concluded;

    /**
     * Validates the values; idempotent.
     *
     * @throws IllegalArgumentException naming the first bad value.
     */
    public JournalContext conclude()
    {
        if (batchBytesMax < BATCH_BYTES_MAX_MIN || batchBytesMax > BATCH_BYTES_MAX_LIMIT)
        {
            throw new IllegalArgumentException("batchBytesMax=" + batchBytesMax + " not in [" + BATCH_BYTES_MAX_MIN +
                ", " + BATCH_BYTES_MAX_LIMIT + "]");
        }
        if (batchDelayNsMax < 0 || batchDelayNsMax > BATCH_DELAY_NS_MAX_LIMIT)
        {
            throw new IllegalArgumentException("batchDelayNsMax=" + batchDelayNsMax + " not in [0, " +
                BATCH_DELAY_NS_MAX_LIMIT + "]");
        }
        if (nanoClock == null)
        {
            throw new IllegalArgumentException("nanoClock=null");
        }
        concluded = true;
        return this;
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    public int batchBytesMax()
    {
        return batchBytesMax;
    }

    public JournalContext batchBytesMax(final int batchBytesMax)
    {
        this.batchBytesMax = batchBytesMax;
        return this;
    }

    public long batchDelayNsMax()
    {
        return batchDelayNsMax;
    }

    public JournalContext batchDelayNsMax(final long batchDelayNsMax)
    {
        this.batchDelayNsMax = batchDelayNsMax;
        return this;
    }

    public NanoClock nanoClock()
    {
        return nanoClock;
    }

    public JournalContext nanoClock(final NanoClock nanoClock)
    {
        this.nanoClock = nanoClock;
        return this;
    }

    /** The values as {@code -D} arguments, so a test can start a child JVM with the same settings. */
    public String[] toSystemPropertyArguments()
    {
        return new String[] {
            "-D" + BATCH_BYTES_MAX_PROP_NAME + "=" + batchBytesMax,
            "-D" + BATCH_DELAY_NS_MAX_PROP_NAME + "=" + batchDelayNsMax,
        };
    }

    @Override
    public String toString()
    {
        return "JournalContext{batchBytesMax=" + batchBytesMax + ", batchDelayNsMax=" + batchDelayNsMax + '}';
    }
}
