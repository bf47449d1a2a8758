package io.afasim.journal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Redo journal throughput in records per second on a shelf under /tmp (ext4, O_DIRECT): group commit
 * ({@link #RECORDS_PER_COMMIT} records of {@link #PAYLOAD_BYTES} bytes per fdatasync) against one fdatasync
 * per record. The journal region is written once before measuring (see {@link #preallocateJournalRegion()}).
 * When the region fills, the benchmark checkpoints at the last LSN (one extra bitmap and
 * superblock write, a few times per run).
 *
 * <pre>
 * java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.base/java.util.zip=ALL-UNNAMED \
 *   -cp tiering-journal/target/test-classes:tiering-journal/target/classes:$(cat /tmp/journal-cp.txt) \
 *   org.openjdk.jmh.Main JournalBenchmark -f 1 -wi 2 -i 3 -w 2s -r 3s
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class JournalBenchmark
{
    static final int RECORDS_PER_COMMIT = 64;
    static final int PAYLOAD_BYTES = 64;
    static final ShelfConfig CONFIG = new ShelfConfig(1, 256L << 20, 4 << 20, 128L << 20);

    private final UnsafeBuffer payload = new UnsafeBuffer(new byte[PAYLOAD_BYTES]);
    private Path dir;
    private Shelf shelf;
    private MetadataJournal journal;

    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        dir = Files.createTempDirectory(Path.of("/tmp"), "afasim-journal-bench");
        shelf = Shelf.format(dir, UUID.randomUUID(), CONFIG);
        preallocateJournalRegion();
        journal = MetadataJournal.format(shelf, new ExtentAllocator(shelf.layout().segmentCount()), new JournalContext());
        for (int i = 0; i < PAYLOAD_BYTES; i++)
        {
            payload.putByte(i, (byte)i);
        }
    }

    /**
     * Writes the whole journal region once: a sparse file makes every first-lap fdatasync also commit
     * ext4 extent allocation, which a real SSD does not pay.
     */
    private void preallocateJournalRegion()
    {
        final ShelfLayout layout = shelf.layout();
        final Drive drive = shelf.metadataDrive();
        final int chunkBytes = 1 << 20;
        final java.nio.ByteBuffer zeros = Drive.allocateAligned(chunkBytes);
        for (long at = 0; at < layout.journalSizeBytes(); at += chunkBytes)
        {
            if (drive.write(layout.journalOffsetBytes() + at, zeros, 0, chunkBytes) != IoStatus.OK)
            {
                throw new IllegalStateException("preallocation failed");
            }
        }
        if (drive.sync() != IoStatus.OK)
        {
            throw new IllegalStateException("preallocation sync failed");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        journal.close();
        shelf.close();
        for (int i = 0; i < CONFIG.driveCount(); i++)
        {
            Files.deleteIfExists(Shelf.drivePath(dir, i));
        }
        Files.deleteIfExists(dir);
    }

    private void append()
    {
        long lsn = journal.append(RedoRecordTypes.DEDUP_FIRST, payload, 0, PAYLOAD_BYTES);
        if (lsn == IoStatus.NO_SPACE)
        {
            if (journal.checkpoint(journal.lastLsn(), payload, 0, 0) != IoStatus.OK)
            {
                throw new IllegalStateException("checkpoint failed");
            }
            lsn = journal.append(RedoRecordTypes.DEDUP_FIRST, payload, 0, PAYLOAD_BYTES);
        }
        if (lsn < 0)
        {
            throw new IllegalStateException("append: " + IoStatus.name(lsn));
        }
    }

    private void commit()
    {
        if (journal.commit() < 0)
        {
            throw new IllegalStateException("commit failed");
        }
    }

    /** Records per second with 64 records made durable by one fdatasync. */
    @Benchmark
    @OperationsPerInvocation(RECORDS_PER_COMMIT)
    public void groupCommit()
    {
        for (int i = 0; i < RECORDS_PER_COMMIT; i++)
        {
            append();
        }
        commit();
    }

    /** Records per second with one fdatasync per record. */
    @Benchmark
    public void commitPerRecord()
    {
        append();
        commit();
    }
}
