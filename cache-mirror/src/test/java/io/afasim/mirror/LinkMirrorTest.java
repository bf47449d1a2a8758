package io.afasim.mirror;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.afasim.mirror.LinkTestSupport.LinkPair;
import io.afasim.mirror.LinkTestSupport.RecordingHandler;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mirroring seam end to end over a real link: node A's {@link WriteCache} hands its changes to a
 * {@link MirrorSink} that publishes them; node B's handler stores entry + page verbatim in its own NVMe region;
 * B's region then scans to the same changes as A's and serves them after a "failover" (reopen and adopt).
 */
class LinkMirrorTest
{
    private Path dir;
    private LinkPair pair;
    private NvmeCache nvme;
    private NvmeCache peer;
    private final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[TestSupport.BLOCK]);

    @BeforeEach
    void open() throws Exception
    {
        dir = TestSupport.shmDirectory();
    }

    @AfterEach
    void close()
    {
        if (pair != null)
        {
            pair.close();
        }
        if (nvme != null)
        {
            nvme.close();
        }
        if (peer != null)
        {
            peer.close();
        }
        TestSupport.deleteRecursively(dir);
    }

    /** Node B: applies mirrored changes to its region (cache sequence -> slot, or -1 - record). */
    private static final class MirrorApplier extends RecordingHandler
    {
        private final NvmeCache peer;
        private final Map<Long, Integer> indexByCacheSequence = new HashMap<>();

        MirrorApplier(final NvmeCache peer)
        {
            this.peer = peer;
        }

        @Override
        public boolean onMirrorPage(
            final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset,
            final int pageOffset)
        {
            final int slot = peer.takeSlot();
            peer.region().writeSlot(slot, buffer, entryOffset, buffer, pageOffset);
            indexByCacheSequence.put(cacheSequence, slot);
            return true;
        }

        @Override
        public boolean onMirrorRecord(
            final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset)
        {
            final int record = peer.takeRecord();
            peer.region().writeRecord(record, buffer, entryOffset);
            indexByCacheSequence.put(cacheSequence, -1 - record);
            return true;
        }

        @Override
        public boolean onMirrorInvalidate(final int volumeId, final long cacheSequence)
        {
            final int index = indexByCacheSequence.remove(cacheSequence);
            if (index >= 0)
            {
                peer.releaseSlot(index);
            }
            else
            {
                peer.releaseRecord(-1 - index);
            }
            return true;
        }
    }

    @Test
    void writesMirroredOverTheLinkApplyOnThePeerRegionAndServeAFailover()
    {
        nvme = NvmeCache.openOrCreate(TestSupport.smallContext(dir.resolve("a")).conclude());
        final CacheContext peerCtx = TestSupport.smallContext(dir.resolve("b")).nodeId(1).conclude();
        peer = NvmeCache.openOrCreate(peerCtx);
        pair = new LinkPair(dir, ctx -> { }, new RecordingHandler(), new MirrorApplier(peer));
        pair.driveUntilUp();

        final LinkPublisher publisher = pair.a.newPublisher();
        final List<Long> tickets = new ArrayList<>();
        final WriteCache cache = nvme.newWriteCache(0);
        cache.mirrorSink(new MirrorSink()
        {
            public void onPageWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset, final DirectBuffer page, final int pageOffset)
            {
                tickets.add(publisher.mirrorPage(volumeId, sequence, entry, entryOffset, page, pageOffset));
            }

            public void onRecordWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                final int entryOffset)
            {
                tickets.add(publisher.mirrorRecord(volumeId, sequence, entry, entryOffset));
            }

            public void onReleased(final int volumeId, final long sequence)
            {
                tickets.add(publisher.mirrorInvalidate(volumeId, sequence));
            }
        });
        assertEquals(CacheStatus.OK, write(cache, 1, 1));
        assertEquals(CacheStatus.OK, write(cache, 2, 2));
        assertEquals(CacheStatus.OK, write(cache, 1, 3)); // the peer drops its copy of the first write
        assertEquals(CacheStatus.OK, cache.trim(2, 1));   // and of lba 2
        assertEquals(CacheStatus.OK, cache.writeZeroes(10, 4));
        final long last = tickets.get(tickets.size() - 1);
        pair.driveUntil("mirrored", () -> pair.a.isAcked(last));
        for (final long ticket : tickets)
        {
            assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(ticket));
        }

        final NvmeScan local = NvmeRecovery.scan(nvme.region());
        final NvmeScan mirror = NvmeRecovery.scan(peer.region());
        assertEquals(sequencesAndLbas(local.volume(0)), sequencesAndLbas(mirror.volume(0)));
        assertEquals(0, mirror.tornDescriptorCount() + mirror.corruptPageCount() + mirror.tornRecordCount());

        // Failover: B reopens its region, adopts the mirrored volume and serves the latest data.
        peer.close();
        peer = null;
        try (NvmeCache reopened = NvmeCache.openOrCreate(peerCtx))
        {
            final WriteCache adopted = reopened.newWriteCache(0);
            adopted.adopt(reopened.recovered(0));
            assertEquals(CacheStatus.HIT, adopted.read(1, block, 0));
            assertTrue(TestSupport.matches(block, 0, 0, 1, 3, scratch));
            assertEquals(CacheStatus.HIT, adopted.read(2, block, 0));
            assertTrue(TestSupport.isZero(block, 0));
            assertEquals(CacheStatus.HIT, adopted.read(12, block, 0));
            assertTrue(TestSupport.isZero(block, 0));
        }
    }

    private int write(final WriteCache target, final long lba, final long token)
    {
        TestSupport.fill(block, 0, target.volumeId(), lba, token);
        return target.write(lba, block, 0);
    }

    private static List<String> sequencesAndLbas(final RecoveredVolume volume)
    {
        final List<String> result = new ArrayList<>();
        for (final RecoveredChange change : volume.changes())
        {
            result.add(change.sequence() + ":" + ChangeEntry.kindName(change.kind()) + ":" + change.lba());
        }
        return result;
    }
}
