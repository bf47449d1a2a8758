package io.afasim.controller;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.UUID;

import io.afasim.dedup.DedupContext;
import io.afasim.dedup.DedupStore;
import io.afasim.journal.ShelfConfig;
import io.afasim.journal.SegmentWriter;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;

/**
 * One volume's disk group on the shared shelf: its own drive files ({@code shelf/pool-<volumeId>/ssd-NN},
 * sparse, so thin), superblocks, allocator, redo journal, checkpoints and segments ({@link DedupStore}), and
 * the {@link JournalAgent} that is the only thread touching them. The pool is the unit of ownership: exactly
 * one controller opens it at a time, and moving a volume to the peer means closing its pool here and opening
 * (recovering) it there, as dual-controller arrays relocate an aggregate. Its dedup domain is the volume.
 *
 * <pre>
 *   shelf/
 *     array.id               the array's UUID (written once, by the first controller to start)
 *     volumes-A.conf         volumes owned by controller A ({@link VolumeTable}); volumes-B.conf likewise
 *     quorum                 disk heartbeats of both controllers ({@link QuorumArea})
 *     pool-0002/ssd-00 ..    one disk group per volume
 * </pre>
 */
final class Pool implements AutoCloseable
{
    static final String DIRECTORY_PREFIX = "pool-";

    private final int volumeId;
    private final Path directory;
    private final DedupStore store;
    private final JournalAgent journal;
    private AgentRunner runner;

    private Pool(final int volumeId, final Path directory, final DedupStore store, final VolumeAgentSource volumes,
        final ErrorHandler errorHandler)
    {
        this.volumeId = volumeId;
        this.directory = directory;
        this.store = store;
        this.journal = new JournalAgent(store, () -> volumes.agentsOfPool(volumeId), errorHandler, volumeId);
    }

    /** What the journal agent pauses for a checkpoint: the pool's volume agent, once it exists. */
    interface VolumeAgentSource
    {
        java.util.Collection<VolumeAgent> agentsOfPool(int volumeId);
    }

    static Path directory(final Path shelfDir, final int volumeId)
    {
        return shelfDir.resolve(String.format("%s%04d", DIRECTORY_PREFIX, volumeId));
    }

    /** The volume id a pool directory name stands for, or -1 when the name is not a pool's. */
    static int volumeIdOf(final Path poolDir)
    {
        final String name = poolDir.getFileName().toString();
        if (!name.startsWith(DIRECTORY_PREFIX))
        {
            return -1;
        }
        try
        {
            return Integer.parseInt(name.substring(DIRECTORY_PREFIX.length()));
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    /**
     * Pool geometry for a volume of {@code sizeBytes}: the configured drives, each grown (they are sparse files)
     * so the pool holds the whole volume written with unique data plus cleaning headroom and the journal.
     */
    static ShelfConfig geometry(final ControllerContext ctx, final long sizeBytes)
    {
        final long segment = ctx.segmentSizeBytes();
        final long data = sizeBytes + sizeBytes / 4 + 8 * segment; // 25 % + 8 segments for cleaning and images
        long perDrive = (data + ctx.driveCount() - 1) / ctx.driveCount() + ctx.journalSizeBytes() + (2L << 20);
        perDrive = Math.max(perDrive, ctx.driveSizeBytes());
        perDrive = (perDrive + segment - 1) / segment * segment;
        return new ShelfConfig(ctx.driveCount(), perDrive, ctx.segmentSizeBytes(), ctx.journalSizeBytes());
    }

    /** Set to false to have volume agents write full segment staging buffers themselves (the A/B of the change). */
    static final String WRITE_BEHIND_PROP_NAME = "afasim.segment.writeBehind";

    /**
     * The pool's storage engine settings: full segment staging buffers are written behind by the process's
     * {@link SegmentWriter} thread, so a volume agent keeps serving host requests during the 256 KiB O_DIRECT writes.
     */
    private static DedupContext dedupContext()
    {
        final DedupContext ctx = new DedupContext();
        if (Boolean.parseBoolean(System.getProperty(WRITE_BEHIND_PROP_NAME, "true")))
        {
            ctx.segmentLogContext().writer(SegmentWriter.shared());
        }
        return ctx;
    }

    /** Formats a new disk group in {@code directory} and creates the volume in it (committed). */
    static Pool format(
        final Path directory, final UUID arrayId, final ShelfConfig geometry, final int volumeId, final long blockCount,
        final VolumeAgentSource volumes, final ErrorHandler errorHandler)
    {
        final DedupStore store = DedupStore.format(directory, arrayId, geometry, dedupContext());
        try
        {
            store.createVolume(volumeId, blockCount);
            final long durable = store.commitVolume(volumeId);
            if (durable < 0)
            {
                throw new IllegalStateException("pool " + directory + ": commit of the new volume failed (" + durable + ")");
            }
            return new Pool(volumeId, directory, store, volumes, errorHandler);
        }
        catch (final RuntimeException ex)
        {
            store.close();
            throw ex;
        }
    }

    /** Opens an existing disk group and recovers it to its last committed record. */
    static Pool open(final Path directory, final int volumeId, final VolumeAgentSource volumes,
        final ErrorHandler errorHandler)
    {
        final DedupStore store = DedupStore.open(directory, dedupContext());
        if (store.volume(volumeId) == null)
        {
            store.close();
            throw new IllegalStateException("pool " + directory + " does not hold volume id " + volumeId);
        }
        return new Pool(volumeId, directory, store, volumes, errorHandler);
    }

    void start(final IdleStrategy idleStrategy, final ErrorHandler errorHandler)
    {
        if (idleStrategy instanceof DoorbellIdleStrategy)
        {
            journal.doorbell(((DoorbellIdleStrategy)idleStrategy).doorbell()); // volume agents' batches wake it
        }
        runner = new AgentRunner(idleStrategy, errorHandler, null, journal);
        AgentRunner.startOnThread(runner);
    }

    /**
     * Stops the journal agent, leaving the store open and untouched: the pool is idle so the peer may open it
     * (a move); {@link #start} again if the move is undone.
     */
    void stopJournal()
    {
        CloseHelper.quietClose(runner);
        runner = null;
    }

    int volumeId()
    {
        return volumeId;
    }

    Path directory()
    {
        return directory;
    }

    DedupStore store()
    {
        return store;
    }

    JournalAgent journal()
    {
        return journal;
    }

    /** Stops the journal agent (joins its thread) and closes the drives. Committed state stays on the shelf. */
    @Override
    public void close()
    {
        CloseHelper.quietClose(runner);
        runner = null;
        CloseHelper.quietClose(store);
    }

    /** Removes a closed pool's drive files (volume delete, or a pool orphaned by a crash mid-create). */
    static void deleteFiles(final Path directory) throws IOException
    {
        if (!Files.exists(directory))
        {
            return;
        }
        Files.walkFileTree(directory, new SimpleFileVisitor<>()
        {
            @Override
            public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs) throws IOException
            {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(final Path dir, final IOException ex) throws IOException
            {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
