package io.afasim.dedup;

import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * Bytes of B+ tree pages per entry for 1M random keys in each tree, and the per-unique-block total of the dedup
 * metadata: mapping (LongBTree, random LBA) + fingerprint index (FingerprintBTree, random SHA-256) + reference
 * count (a LongBTree PBA -> count, or packed into the fingerprint value).
 * <p>
 * Run: {@code java -cp dedup/target/test-classes:dedup/target/classes:$(cat /tmp/btree-cp.txt)
 * --add-opens java.base/jdk.internal.misc=ALL-UNNAMED io.afasim.dedup.BTreeMemory [entryCount]}
 */
public final class BTreeMemory
{
    static final int ENTRY_COUNT_DEFAULT = 1_000_000;
    static final long SEED = 42;
    /** Per unique block, the array's metadata budget. */
    static final int BYTES_PER_BLOCK_TARGET = 128;

    private BTreeMemory()
    {
    }

    public static void main(final String[] args)
    {
        final int entryCount = args.length > 0 ? Integer.parseInt(args[0]) : ENTRY_COUNT_DEFAULT;
        final SplittableRandom random = new SplittableRandom(SEED);
        final PagePool pool = new PagePool(1 << 20);

        final LongBTree mapping = new LongBTree(pool);
        final FingerprintBTree fingerprints = new FingerprintBTree(pool);
        final LongBTree refcounts = new LongBTree(pool);
        final LongBTree sequential = new LongBTree(pool);
        final UnsafeBuffer key = new UnsafeBuffer(new byte[FingerprintBTree.KEY_WIDTH_BYTES]);

        for (int i = 0; i < entryCount; i++)
        {
            final long pba = i;
            mapping.put(random.nextLong() >>> 16, pba);
            for (int word = 0; word < 4; word++)
            {
                key.putLong(word * 8, random.nextLong(), ByteOrder.BIG_ENDIAN);
            }
            fingerprints.put(key, 0, pba);
            refcounts.put(random.nextLong() >>> 16, 1);
            sequential.put(i, pba);
        }
        mapping.check();
        fingerprints.check();
        refcounts.check();
        sequential.check();

        report("LongBTree random keys (mapping LBA->PBA)", mapping);
        report("FingerprintBTree random keys (fp->PBA)", fingerprints);
        report("LongBTree random keys (refcount PBA->n)", refcounts);
        report("LongBTree ascending keys (append split)", sequential);

        final double packed = mapping.bytesPerEntry() + fingerprints.bytesPerEntry();
        final double separate = packed + refcounts.bytesPerEntry();
        System.out.printf("per unique block: mapping + fingerprint index (refcount packed in its value) = %.1f bytes%n",
            packed);
        System.out.printf("per unique block: mapping + fingerprint index + refcount tree = %.1f bytes (target <= %d)%n",
            separate, BYTES_PER_BLOCK_TARGET);
        System.out.printf("pool: pagesInUse=%d bytesReserved=%d%n", pool.pagesInUse(), pool.bytesReserved());
    }

    private static void report(final String name, final BPlusTree tree)
    {
        final double leafFill = (double)tree.size() /
            ((double)countLeaves(tree) * tree.leafCapacity());
        System.out.printf("%-44s entries=%d height=%d pages=%d bytesPerEntry=%.1f leafFill=%.1f%%%n",
            name, tree.size(), tree.height(), tree.pagesInUse(), tree.bytesPerEntry(), 100 * leafFill);
    }

    private static long countLeaves(final BPlusTree tree)
    {
        int pageId = tree.rootPageId;
        for (int level = tree.height() - 1; level > 0; level--)
        {
            pageId = tree.child(pageId, 0);
        }
        long leafCount = 0;
        while (pageId != PagePool.NULL_PAGE_ID)
        {
            leafCount++;
            pageId = tree.next(pageId);
        }
        return leafCount;
    }
}
