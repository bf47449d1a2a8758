package io.afasim.dedup;

import java.nio.ByteOrder;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Fingerprint index of one volume: SHA-256 of a block -&gt; its PBA, in one {@link FingerprintBTree}
 * keyed by the whole fingerprint (never split by LBA). A block that loses its last reference must
 * leave the index; its fingerprint is found from the 8-byte prefix kept in the {@link BlockTable}
 * by scanning the (almost always one-entry) run of keys that start with it for the entry whose value
 * is the block's PBA. Owned by the volume's single writer thread.
 */
final class FingerprintIndex
{
    static final long MISSING = FingerprintBTree.MISSING;

    private final FingerprintBTree tree;
    private final UnsafeBuffer searchKey = new UnsafeBuffer(new byte[Fingerprinter.FINGERPRINT_BYTES]);
    private final UnsafeBuffer foundKey = new UnsafeBuffer(new byte[Fingerprinter.FINGERPRINT_BYTES]);
    private final FingerprintBTree.FingerprintPredicate prefixMatcher = this::matchPrefix;
    private long searchPrefix;
    private long searchPba;
    private boolean found;

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
        find(prefix, pba);
        tree.remove(foundKey, 0);
    }

    /** Points the entry of {@code oldPba} (fingerprint starting with {@code prefix}) at {@code newPba}. */
    void repoint(final long prefix, final long oldPba, final long newPba)
    {
        find(prefix, oldPba);
        tree.replaceValue(foundKey, 0, newPba);
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

    private void find(final long prefix, final long pba)
    {
        searchKey.setMemory(0, Fingerprinter.FINGERPRINT_BYTES, (byte)0);
        searchKey.putLong(0, prefix, ByteOrder.BIG_ENDIAN);
        searchPrefix = prefix;
        searchPba = pba;
        found = false;
        tree.scanWhile(searchKey, 0, null, 0, prefixMatcher);
        if (!found)
        {
            throw new IllegalStateException("no fingerprint entry with prefix 0x" + Long.toHexString(prefix) +
                " for pba " + pba);
        }
    }

    private boolean matchPrefix(final DirectBuffer key, final int keyOffset, final long value)
    {
        if (key.getLong(keyOffset, ByteOrder.BIG_ENDIAN) != searchPrefix)
        {
            return false;
        }
        if (value == searchPba)
        {
            foundKey.putBytes(0, key, keyOffset, Fingerprinter.FINGERPRINT_BYTES);
            found = true;
            return false;
        }
        return true;
    }
}
