package io.afasim.dedup;

import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;

/**
 * LBA -&gt; PBA mapping of one volume, split into one {@link LongBTree} per LBA range of
 * {@code rangeBlocks} blocks. A range's tree is created on its first write and released when it
 * becomes empty, so a thin volume costs nothing for ranges never written, each tree stays shallow,
 * and each range is encoded as its own section of a checkpoint image.
 * Owned by the volume's single writer thread.
 */
final class VolumeMap
{
    static final long MISSING = LongBTree.MISSING;

    private final PagePool pool;
    private final long sizeBlocks;
    private final int rangeBlocks;
    private final LongBTree[] ranges;
    private final LongArrayList scratchKeys = new LongArrayList();
    private final LongArrayList scratchValues = new LongArrayList();
    private final LongBTree.LongLongConsumer collector = this::onCollect;
    private Long2LongHashMap remapping;
    private final LongBTree.LongLongConsumer remapper = this::onRemap;
    private LongArrayList collectLbas;
    private LongArrayList collectPbas;
    private long mappedCount;

    VolumeMap(final PagePool pool, final long sizeBlocks, final int rangeBlocks)
    {
        if (sizeBlocks <= 0 || rangeBlocks <= 0)
        {
            throw new IllegalArgumentException("sizeBlocks=" + sizeBlocks + " rangeBlocks=" + rangeBlocks);
        }
        final long rangeCount = (sizeBlocks + rangeBlocks - 1) / rangeBlocks;
        if (rangeCount > DedupContext.RANGE_COUNT_MAX)
        {
            throw new IllegalArgumentException("sizeBlocks=" + sizeBlocks + " needs " + rangeCount +
                " ranges of " + rangeBlocks + " blocks; at most " + DedupContext.RANGE_COUNT_MAX);
        }
        this.pool = pool;
        this.sizeBlocks = sizeBlocks;
        this.rangeBlocks = rangeBlocks;
        this.ranges = new LongBTree[(int)rangeCount];
    }

    long sizeBlocks()
    {
        return sizeBlocks;
    }

    int rangeBlocks()
    {
        return rangeBlocks;
    }

    int rangeCount()
    {
        return ranges.length;
    }

    long mappedCount()
    {
        return mappedCount;
    }

    long get(final long lba)
    {
        final LongBTree tree = ranges[rangeOf(lba)];
        return tree == null ? MISSING : tree.get(lba);
    }

    /** Maps an LBA; returns the PBA it mapped before, or {@link #MISSING}. */
    long put(final long lba, final long pba)
    {
        final int range = rangeOf(lba);
        LongBTree tree = ranges[range];
        if (tree == null)
        {
            tree = new LongBTree(pool);
            ranges[range] = tree;
        }
        final long old = tree.put(lba, pba);
        if (old == MISSING)
        {
            mappedCount++;
        }
        return old;
    }

    /** Unmaps an LBA; returns the PBA it mapped, or {@link #MISSING}. */
    long remove(final long lba)
    {
        final int range = rangeOf(lba);
        final LongBTree tree = ranges[range];
        if (tree == null)
        {
            return MISSING;
        }
        final long old = tree.remove(lba);
        if (old != MISSING)
        {
            mappedCount--;
            releaseIfEmpty(range);
        }
        return old;
    }

    /**
     * Collects the mapped (lba, pba) pairs in [fromLba, fromLba + blockCount) into the given lists,
     * in LBA order. Used by trim, which then removes them one by one.
     */
    void collect(final long fromLba, final long blockCount, final LongArrayList lbas, final LongArrayList pbas)
    {
        lbas.clear();
        pbas.clear();
        collectLbas = lbas;
        collectPbas = pbas;
        final long toLba = fromLba + blockCount;
        for (int range = rangeOf(fromLba); range < ranges.length && (long)range * rangeBlocks < toLba; range++)
        {
            final LongBTree tree = ranges[range];
            if (tree != null)
            {
                tree.scan(fromLba, toLba, collector);
            }
        }
    }

    /** Points every LBA that maps an old PBA of {@code relocations} at its new PBA. */
    void remap(final Long2LongHashMap relocations)
    {
        for (final LongBTree tree : ranges)
        {
            if (tree == null)
            {
                continue;
            }
            scratchKeys.clear();
            scratchValues.clear();
            remapping = relocations;
            tree.forEach(remapper);
            for (int i = 0; i < scratchKeys.size(); i++)
            {
                tree.replaceValue(scratchKeys.getLong(i), scratchValues.getLong(i));
            }
        }
    }

    private void onCollect(final long lba, final long pba)
    {
        collectLbas.addLong(lba);
        collectPbas.addLong(pba);
    }

    private void onRemap(final long lba, final long pba)
    {
        final long newPba = remapping.get(pba);
        if (newPba != remapping.missingValue())
        {
            scratchKeys.addLong(lba);
            scratchValues.addLong(newPba);
        }
    }

    /** Visits every mapping in LBA order. */
    void forEach(final LongBTree.LongLongConsumer consumer)
    {
        for (final LongBTree tree : ranges)
        {
            if (tree != null)
            {
                tree.forEach(consumer);
            }
        }
    }

    /** The tree of one range, or null when the range has never been written or is empty. */
    LongBTree range(final int range)
    {
        return ranges[range];
    }

    /** Checks every range tree's invariants and that each holds only its own LBAs. */
    void check()
    {
        long count = 0;
        for (int range = 0; range < ranges.length; range++)
        {
            final LongBTree tree = ranges[range];
            if (tree == null)
            {
                continue;
            }
            tree.check();
            if (tree.size() == 0)
            {
                throw new IllegalStateException("range " + range + " has an empty tree that was not released");
            }
            final long first = (long)range * rangeBlocks;
            final int checkedRange = range;
            tree.forEach((lba, pba) ->
            {
                if (lba < first || lba >= first + rangeBlocks)
                {
                    throw new IllegalStateException("lba " + lba + " in the tree of range " + checkedRange);
                }
            });
            count += tree.size();
        }
        if (count != mappedCount)
        {
            throw new IllegalStateException("mappedCount=" + mappedCount + " but trees hold " + count);
        }
    }

    void clear()
    {
        for (int range = 0; range < ranges.length; range++)
        {
            if (ranges[range] != null)
            {
                ranges[range].clear();
                ranges[range] = null;
            }
        }
        mappedCount = 0;
    }

    private void releaseIfEmpty(final int range)
    {
        final LongBTree tree = ranges[range];
        if (tree.size() == 0)
        {
            tree.clear();
            ranges[range] = null;
        }
    }

    private int rangeOf(final long lba)
    {
        if (lba < 0 || lba >= sizeBlocks)
        {
            throw new IllegalArgumentException("lba " + lba + " outside volume of " + sizeBlocks + " blocks");
        }
        return (int)(lba / rangeBlocks);
    }
}
