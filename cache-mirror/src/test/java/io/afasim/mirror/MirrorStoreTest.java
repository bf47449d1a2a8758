package io.afasim.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer's mirror copies follow the owner's write cache through the {@link MirrorSink} seam. */
class MirrorStoreTest
{
    @TempDir
    Path dir;

    private NvmeCache owner;
    private MirrorStore mirror;
    private WriteCache cache;
    private final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private final DestageConsumer nothing = new DestageConsumer()
    {
        public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer page,
            final int offset)
        {
        }

        public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
            final boolean zeroes)
        {
        }

        public void onCorruptPage(final int volumeId, final long lba, final long sequence)
        {
        }
    };

    @BeforeEach
    void open()
    {
        owner = NvmeCache.openOrCreate(TestSupport.smallContext(dir.resolve("owner")).conclude());
        mirror = new MirrorStore(TestSupport.smallContext(dir.resolve("peer")).nodeId(1).conclude());
        cache = owner.newWriteCache(0);
        cache.mirrorSink(new MirrorSink()
        {
            public void onPageWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset, final DirectBuffer page, final int pageOffset)
            {
                assertTrue(mirror.putPage(volumeId, sequence, entry, entryOffset, page, pageOffset));
            }

            public void onRecordWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset)
            {
                assertTrue(mirror.putRecord(volumeId, sequence, entry, entryOffset));
            }

            public void onReleased(final int volumeId, final long sequence)
            {
                mirror.invalidate(volumeId, sequence);
            }
        });
    }

    @AfterEach
    void close()
    {
        mirror.close();
        owner.close();
    }

    /** LBAs 0..19, then LBA 3 again (its older copy is superseded and invalidated), then a trim of 40..43. */
    private void writeTwentyPagesRewriteOneAndTrim()
    {
        for (int lba = 0; lba < 20; lba++)
        {
            TestSupport.fill(block, 0, 0, lba, 1);
            assertEquals(CacheStatus.OK, cache.write(lba, block, 0));
        }
        TestSupport.fill(block, 0, 0, 3, 2);
        assertEquals(CacheStatus.OK, cache.write(3, block, 0));
        assertEquals(CacheStatus.OK, cache.trim(40, 4));
    }

    @Test
    void theMirrorHoldsExactlyTheOwnersUndestagedChanges()
    {
        writeTwentyPagesRewriteOneAndTrim();
        assertEquals(20, mirror.pageCount(), "one copy per cached page");
        assertEquals(1, mirror.recordCount());

        final long batch = cache.destageBatch(8, nothing);
        cache.onDestaged(batch);
        assertEquals(20 - 8, mirror.pageCount(), "destaged changes are dropped by the peer");

        assertEquals(12 + 1, mirror.discardVolume(0));
        assertEquals(0, mirror.pageCount());
        assertEquals(0, mirror.recordCount());
        assertEquals(0, mirror.overflowCount());
    }

    @Test
    void aResyncReplaysEveryCachedChangeOnceAndNoSupersededPage()
    {
        writeTwentyPagesRewriteOneAndTrim();
        cache.destageBatch(8, nothing); // in flight: lba 0, 1, 2, 4..8
        TestSupport.fill(block, 0, 0, 1, 3);
        assertEquals(CacheStatus.OK, cache.write(1, block, 0)); // supersedes a page in flight: it stays cached

        // the link was lost: the peer's copies are stale and dropped, then the owner replays its cache
        mirror.discardVolume(0);
        final List<Long> replayedLbas = new ArrayList<>();
        final int replayed = cache.replayTo(new MirrorSink()
        {
            public void onPageWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset, final DirectBuffer page, final int pageOffset)
            {
                replayedLbas.add(ChangeEntry.lba(entry, entryOffset));
                assertTrue(mirror.putPage(volumeId, sequence, entry, entryOffset, page, pageOffset));
            }

            public void onRecordWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset)
            {
                replayedLbas.add(-ChangeEntry.lba(entry, entryOffset));
                assertTrue(mirror.putRecord(volumeId, sequence, entry, entryOffset));
            }

            public void onReleased(final int volumeId, final long sequence)
            {
                throw new AssertionError("a replay releases nothing");
            }
        });
        assertEquals(21, replayed, "the 20 newest pages and the trim record: " + replayedLbas);
        assertEquals(20, mirror.pageCount());
        assertEquals(1, mirror.recordCount());
        assertEquals(21, new HashSet<>(replayedLbas).size(), "no LBA twice: " + replayedLbas);
        assertEquals(List.of(3L, -40L, 1L), replayedLbas.subList(18, 21), "sequence order: " + replayedLbas);
        assertEquals(0, mirror.overflowCount());
    }
}
