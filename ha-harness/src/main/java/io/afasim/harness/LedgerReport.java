package io.afasim.harness;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The outcome of {@link Ledger#verify(String)}: how many blocks were checked, how many read their last acknowledged
 * version, a later unacknowledged one or zeroes (all fine), and every block that breaks the ledger's rule, by kind:
 * lost (an acknowledged write is gone: zeroes or an older version), torn (crc or content wrong), misdirected (another
 * block's or volume's data), unexpected (a version never sent). The first {@link #MISMATCHES_KEPT_MAX} are named.
 */
public final class LedgerReport
{
    public static final int MISMATCHES_KEPT_MAX = 20;

    private final String volume;
    private final String uri;
    private final long seed;
    private final List<String> mismatches = new ArrayList<>();
    private int checkedBlocks;
    private int acknowledgedExact;
    private int newerUnacknowledged;
    private int unwrittenZero;
    private int inDoubtZero;
    private int lost;
    private int torn;
    private int misdirected;
    private int unexpected;

    LedgerReport(final String volume, final String uri, final long seed)
    {
        this.volume = volume;
        this.uri = uri;
        this.seed = seed;
    }

    void consistent(final boolean newerThanAcknowledged)
    {
        checkedBlocks++;
        if (newerThanAcknowledged)
        {
            newerUnacknowledged++;
        }
        else
        {
            acknowledgedExact++;
        }
    }

    void unwritten(final boolean sentButNeverAcknowledged)
    {
        checkedBlocks++;
        if (sentButNeverAcknowledged)
        {
            inDoubtZero++;
        }
        else
        {
            unwrittenZero++;
        }
    }

    void lost(final int lba, final String what)
    {
        lost++;
        mismatch(lba, "LOST", what);
    }

    void torn(final int lba, final String what)
    {
        torn++;
        mismatch(lba, "TORN", what);
    }

    void misdirected(final int lba, final String what)
    {
        misdirected++;
        mismatch(lba, "MISDIRECTED", what);
    }

    void unexpected(final int lba, final String what)
    {
        unexpected++;
        mismatch(lba, "UNEXPECTED", what);
    }

    private void mismatch(final int lba, final String kind, final String what)
    {
        checkedBlocks++;
        if (mismatches.size() < MISMATCHES_KEPT_MAX)
        {
            mismatches.add(kind + " lba " + lba + ": " + what);
        }
    }

    public boolean isConsistent()
    {
        return mismatchCount() == 0;
    }

    public int mismatchCount()
    {
        return lost + torn + misdirected + unexpected;
    }

    public int checkedBlocks()
    {
        return checkedBlocks;
    }

    /** Blocks reading exactly their last acknowledged version. */
    public int acknowledgedExact()
    {
        return acknowledgedExact;
    }

    /** Blocks reading a version sent after the last acknowledged one and never acknowledged (allowed). */
    public int newerUnacknowledged()
    {
        return newerUnacknowledged;
    }

    /** Blocks never written that read zeroes. */
    public int unwrittenZero()
    {
        return unwrittenZero;
    }

    /** Blocks whose only writes were never acknowledged and that read zeroes (allowed). */
    public int inDoubtZero()
    {
        return inDoubtZero;
    }

    public int lost()
    {
        return lost;
    }

    public int torn()
    {
        return torn;
    }

    public int misdirected()
    {
        return misdirected;
    }

    public int unexpected()
    {
        return unexpected;
    }

    /** The first mismatches, one line each: {@code KIND lba N: what}. */
    public List<String> mismatches()
    {
        return List.copyOf(mismatches);
    }

    /** Throws an {@link AssertionError} naming the mismatches, the seed and the diagnostics unless consistent. */
    public LedgerReport assertConsistent(final Supplier<String> diagnostics)
    {
        if (!isConsistent())
        {
            throw new AssertionError(summary() + "\n  " + String.join("\n  ", mismatches) +
                (mismatchCount() > mismatches.size() ? "\n  ..." : "") + "\n" + diagnostics.get());
        }
        return this;
    }

    public String summary()
    {
        return "volume " + volume + " read from " + uri + ": " + checkedBlocks + " blocks, " +
            (isConsistent() ? "consistent with the ledger" : mismatchCount() + " INCONSISTENT (lost " + lost +
                ", torn " + torn + ", misdirected " + misdirected + ", unexpected " + unexpected + ")") +
            "; " + acknowledgedExact + " last acknowledged, " + newerUnacknowledged + " newer unacknowledged, " +
            inDoubtZero + " unacknowledged still zero, " + unwrittenZero + " never written (seed " + seed +
            ", replay with -Dafasim.seed=" + seed + ")";
    }

    @Override
    public String toString()
    {
        return summary();
    }
}
