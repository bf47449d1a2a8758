package io.afasim.dedup;

import org.agrona.DirectBuffer;

/**
 * Fingerprint index of one volume: SHA-256 of a block -&gt; its PBA, in one {@link FingerprintBTree}
 * keyed by the whole fingerprint (never split by LBA). A block that loses its last reference must
 * leave the index; its fingerprint is found from the 8-byte prefix kept in the {@link BlockTable}:
 * the entry whose value is the block's PBA in the (almost always one-entry) run of keys that start
 * with it, removed or repointed in the same descent ({@link FingerprintBTree#removeByPrefixAndValue}).
 * Owned by the volume's single writer thread.
 */
final class FingerprintIndex
{
    static final long MISSING = FingerprintBTree.MISSING;

    private final FingerprintBTree tree;

    FingerprintIndex(final PagePool pool)
    {
        this.tree = new FingerprintBTree(pool);
    }

    long get(final DirectBuffer fingerprint, final int offset)
    {
        return tree.get(fingerprint, offset);
    }

    void put(final DirectBuffer fingerprint, final int offset, final long pba)
    {
        final long previous = tree.put(fingerprint, offset, pba);
        if (previous != MISSING)
        {
            throw new IllegalStateException("fingerprint already indexed at pba " + previous + ", new pba " + pba);
        }
    }

    /** Removes the entry of {@code pba}, whose fingerprint starts with {@code prefix}. */
    void remove(final long prefix, final long pba)
    {
        if (tree.removeByPrefixAndValue(prefix, pba) == MISSING)
        {
            throw noEntry(prefix, pba);
        }
    }

    /** Points the entry of {@code oldPba} (fingerprint starting with {@code prefix}) at {@code newPba}. */
    void repoint(final long prefix, final long oldPba, final long newPba)
    {
        if (tree.replaceValueByPrefixAndValue(prefix, oldPba, newPba) == MISSING)
        {
            throw noEntry(prefix, oldPba);
        }
    }

    long size()
    {
        return tree.size();
    }

    void forEach(final FingerprintBTree.FingerprintConsumer consumer)
    {
        tree.scan(null, 0, null, 0, consumer);
    }

    void check()
    {
        tree.check();
    }

    void clear()
    {
        tree.clear();
    }

    private static IllegalStateException noEntry(final long prefix, final long pba)
    {
        return new IllegalStateException("no fingerprint entry with prefix 0x" + Long.toHexString(prefix) +
            " for pba " + pba);
    }
}
