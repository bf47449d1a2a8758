package io.afasim.journal;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.UUID;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Child process of {@link JournalCrashTest}: formats (or opens and replays) the shelf named on the command
 * line and appends records whose content is derived from their LSN, committing in groups of random size
 * and printing {@code durable <lsn>} after each commit returns. Runs until killed or for at most the given
 * number of seconds. When the region is full it checkpoints at the last LSN (no image: the test only
 * checks the log).
 *
 * <p>Usage: {@code JournalWriterProcess <shelfDir> <seed> <secondsMax>}
 */
public final class JournalWriterProcess
{
    static final int GROUP_RECORDS_MAX = 16;
    static final int PAYLOAD_BYTES_MAX = 3000;
    static final int EXIT_MEDIA_ERROR = 2;
    static final int EXIT_BAD_REPLAY = 3;

    private JournalWriterProcess()
    {
    }

    static int typeFor(final long lsn)
    {
        return MetadataJournal.TYPE_USER_MIN + (int)(lsn % 1000);
    }

    static int lengthFor(final long lsn)
    {
        return (int)(((lsn * 2654435761L) >>> 7) % PAYLOAD_BYTES_MAX);
    }

    static byte byteFor(final long lsn, final int index)
    {
        return (byte)(lsn * 131 + index * 7 + (index >> 8));
    }

    static void fill(final MutableDirectBuffer buffer, final long lsn)
    {
        final int length = lengthFor(lsn);
        for (int i = 0; i < length; i++)
        {
            buffer.putByte(i, byteFor(lsn, i));
        }
    }

    /** Null when the record has the content its LSN implies, else what differs. */
    static String check(final long lsn, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        if (type != typeFor(lsn))
        {
            return "lsn " + lsn + ": type " + type + ", expected " + typeFor(lsn);
        }
        if (length != lengthFor(lsn))
        {
            return "lsn " + lsn + ": length " + length + ", expected " + lengthFor(lsn);
        }
        for (int i = 0; i < length; i++)
        {
            if (payload.getByte(offset + i) != byteFor(lsn, i))
            {
                return "lsn " + lsn + ": byte " + i + " differs";
            }
        }
        return null;
    }

    public static void main(final String[] args)
    {
        final Path dir = Path.of(args[0]);
        final Random random = new Random(Long.parseLong(args[1]));
        final long deadlineNs = System.nanoTime() + Long.parseLong(args[2]) * 1_000_000_000L;
        final PrintStream out = System.out;
        final boolean exists = Files.exists(Shelf.drivePath(dir, 0));
        try (Shelf shelf = exists ? Shelf.open(dir) : Shelf.format(dir, UUID.randomUUID(), JournalTestSupport.CONFIG))
        {
            final ExtentAllocator allocator = new ExtentAllocator(shelf.layout().segmentCount());
            final MetadataJournal journal;
            if (exists)
            {
                journal = MetadataJournal.open(shelf, allocator, new JournalContext());
                final ReplayResult result = journal.replay((lsn, type, payload, offset, length) ->
                {
                    final String problem = check(lsn, type, payload, offset, length);
                    if (problem != null)
                    {
                        System.err.println("replay: " + problem);
                        System.exit(EXIT_BAD_REPLAY);
                    }
                });
                System.err.println("replayed: " + result);
            }
            else
            {
                journal = MetadataJournal.format(shelf, allocator, new JournalContext());
            }
            out.println("ready " + journal.lastLsn());
            out.flush();
            final UnsafeBuffer payload = new UnsafeBuffer(new byte[PAYLOAD_BYTES_MAX]);
            while (System.nanoTime() - deadlineNs < 0)
            {
                final int group = 1 + random.nextInt(GROUP_RECORDS_MAX);
                for (int i = 0; i < group; i++)
                {
                    final long lsn = journal.lastLsn() + 1;
                    fill(payload, lsn);
                    long result = journal.append(typeFor(lsn), payload, 0, lengthFor(lsn));
                    if (result == IoStatus.NO_SPACE)
                    {
                        final int status = journal.checkpoint(journal.lastLsn(), payload, 0, 0);
                        if (status != IoStatus.OK)
                        {
                            System.err.println("checkpoint: " + IoStatus.name(status));
                            System.exit(EXIT_MEDIA_ERROR);
                        }
                        result = journal.append(typeFor(lsn), payload, 0, lengthFor(lsn));
                    }
                    if (result != lsn)
                    {
                        System.err.println("append returned " + result + ", expected lsn " + lsn);
                        System.exit(EXIT_MEDIA_ERROR);
                    }
                }
                final long durable = journal.commit();
                if (durable < 0)
                {
                    System.err.println("commit: " + IoStatus.name(durable));
                    System.exit(EXIT_MEDIA_ERROR);
                }
                out.println("durable " + durable);
                out.flush();
            }
            System.err.println("deadline reached at lsn " + journal.lastLsn());
        }
    }
}
