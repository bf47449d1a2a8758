package io.afasim.utmd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Append-only journal of task progress, on the controller's boot drive. The {@link TaskManager} appends a
 * record (and forces it to the device) before each step, after each step and at every change of a task's
 * fate, so that after a crash {@link TaskManager#recover(long)} knows exactly where every task was.
 * <p>
 * File layout (little-endian):
 * <pre>
 *   file header, 32 bytes
 *   0        8         10          12         16           24           28     32
 *   +--------+---------+-----------+----------+------------+------------+------+
 *   | magic  | version | minCompat | reserved | taskIdBase | crc32c     | pad  |
 *   |UTMDJRNL| u16     | u16       | u32 = 0  | i64        | of [0, 24) | 0    |
 *   +--------+---------+-----------+----------+------------+------------+------+
 *
 *   records, back to back from offset 32
 *   0        4        8     10      12       16       24              32             40     44    48       50      52
 *   +--------+--------+-----+-------+--------+--------+---------------+--------------+------+-----+--------+-------+------+------+
 *   | length | crc32c | ver | phase | typeId | taskId | correlationId | timestampMs  | step | aux | argsLen|textLen| args | text |
 *   | u32    |        | u16 | u16   | i32    | i64    | i64           | i64 (epoch)  | i32  | i32 | u16    | u16   | ...  | UTF-8|
 *   +--------+--------+-----+-------+--------+--------+---------------+--------------+------+-----+--------+-------+------+------+
 *   length = 52 + argsLen + textLen; crc32c covers bytes [0, 4) and [8, length) of the record.
 * </pre>
 * Records carry their arguments in STARTED records and in the final records written by compaction; text is a
 * human reason (FAILED, ROLLING_BACK, RECOVERED). The header is written once, to a temporary file that is
 * forced and renamed into place, so it is either whole or absent.
 * <p>
 * Torn tail: reading stops at the first record whose length is out of range, runs past the end of the file or
 * fails its checksum; everything from there on is ignored ({@link #ignoredTailBytes()}) and truncated away
 * before the next append, so a new record never follows garbage. (An append-only log cannot tell a torn
 * tail from a corrupted record in the middle; both end the readable journal.)
 * <p>
 * Compaction ({@link #compact(List, long)}): when no task is unfinished, the journal is rewritten with one
 * final record per remembered task into a temporary file, forced and atomically renamed over the journal,
 * and the directory is forced. A crash leaves either the old or the new journal.
 * <p>
 * An I/O error on the boot drive is thrown as {@link UncheckedIOException}: without its journal the
 * controller cannot promise crash safety, so it stops and the peer takes over.
 */
public final class TaskJournal implements AutoCloseable
{
    /** Format version written. */
    public static final short VERSION = 1;
    /** Oldest format version this code reads. */
    public static final short MIN_COMPATIBLE_VERSION = 1;
    public static final byte[] MAGIC = "UTMDJRNL".getBytes(StandardCharsets.US_ASCII);
    public static final int HEADER_LENGTH = 32;
    public static final int RECORD_HEADER_LENGTH = 52;
    /** Bytes of human text in one record; longer text is truncated. */
    public static final int TEXT_BYTES_MAX = 256;
    /** Largest record: header + arguments + text. */
    public static final int RECORD_LENGTH_MAX = RECORD_HEADER_LENGTH + UtmdLimits.TASK_ARGS_BYTES_MAX + TEXT_BYTES_MAX;

    private static final int HEADER_CRC_OFFSET = 24;

    private final Path file;
    private final boolean forceEachRecord;
    private final ByteBuffer recordBuffer = ByteBuffer.allocateDirect(RECORD_LENGTH_MAX).order(ByteOrder.LITTLE_ENDIAN);
    private final CRC32C crc = new CRC32C();
    private FileChannel channel;
    private long taskIdBase;
    private long lengthBytes;
    private long ignoredTailBytes;
    private long recordCount;
    private long appendCount;

    private TaskJournal(final Path file, final boolean forceEachRecord)
    {
        this.file = file;
        this.forceEachRecord = forceEachRecord;
    }

    /**
     * Open a journal, creating it if absent. Scans it, and truncates a torn tail away.
     *
     * @param forceEachRecord force every appended record to the device (production: true).
     * @throws IOException on an I/O error, a bad header or an incompatible version.
     */
    public static TaskJournal open(final Path file, final boolean forceEachRecord) throws IOException
    {
        final TaskJournal journal = new TaskJournal(file, forceEachRecord);
        if (!Files.exists(file))
        {
            writeFresh(file, 1, List.of());
        }
        journal.openAndScan();
        return journal;
    }

    private void openAndScan() throws IOException
    {
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        final long fileLength = channel.size();
        taskIdBase = readHeader(channel, file);
        final long validEnd = scan(channel, null);
        ignoredTailBytes = fileLength - validEnd;
        if (ignoredTailBytes > 0)
        {
            channel.truncate(validEnd);
            channel.force(true);
        }
        lengthBytes = validEnd;
        appendCount = 0;
        Verify.invariant(channel.size() == lengthBytes, "journal length after truncation");
    }

    private static long readHeader(final FileChannel channel, final Path file) throws IOException
    {
        final ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        if (channel.size() < HEADER_LENGTH || readFully(channel, header, 0) < HEADER_LENGTH)
        {
            throw new IOException("task journal " + file + ": shorter than its " + HEADER_LENGTH + " byte header");
        }
        for (int i = 0; i < MAGIC.length; i++)
        {
            if (header.get(i) != MAGIC[i])
            {
                throw new IOException("task journal " + file + ": bad magic");
            }
        }
        final CRC32C headerCrc = new CRC32C();
        headerCrc.update(header.array(), 0, HEADER_CRC_OFFSET);
        if ((int)headerCrc.getValue() != header.getInt(HEADER_CRC_OFFSET))
        {
            throw new IOException("task journal " + file + ": header checksum mismatch");
        }
        final short version = header.getShort(8);
        final short minCompatible = header.getShort(10);
        if (minCompatible > VERSION || version < MIN_COMPATIBLE_VERSION)
        {
            throw new IOException("task journal " + file + ": version " + version + " (min compatible " + minCompatible +
                ") not readable by version " + VERSION);
        }
        return header.getLong(16);
    }

    private static int readFully(final FileChannel channel, final ByteBuffer buffer, final long position) throws IOException
    {
        int total = 0;
        while (buffer.hasRemaining())
        {
            final int read = channel.read(buffer, position + total);
            if (read < 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }

    /**
     * Scan records from the header on; hand each valid one to the visitor (if any).
     *
     * @return the offset just past the last valid record.
     */
    private long scan(final FileChannel source, final Consumer<JournalRecord> visitor) throws IOException
    {
        final long fileLength = source.size();
        final ByteBuffer buffer = ByteBuffer.allocate((int)Math.min(Integer.MAX_VALUE - 8, fileLength))
            .order(ByteOrder.LITTLE_ENDIAN);
        readFully(source, buffer, 0);
        final byte[] bytes = buffer.array();
        final JournalRecord record = new JournalRecord();
        final CRC32C check = new CRC32C();
        long count = 0;
        int offset = HEADER_LENGTH;
        while (true)
        {
            final int remaining = bytes.length - offset;
            if (remaining < RECORD_HEADER_LENGTH)
            {
                break;
            }
            final int length = buffer.getInt(offset);
            if (length < RECORD_HEADER_LENGTH || length > RECORD_LENGTH_MAX || length > remaining)
            {
                break;
            }
            check.reset();
            check.update(bytes, offset, 4);
            check.update(bytes, offset + 8, length - 8);
            if ((int)check.getValue() != buffer.getInt(offset + 4))
            {
                break;
            }
            final int argsLength = buffer.getShort(offset + 48) & 0xFFFF;
            final int textLength = buffer.getShort(offset + 50) & 0xFFFF;
            final TaskPhase phase = TaskPhase.fromCode(buffer.getShort(offset + 10));
            final short version = buffer.getShort(offset + 8);
            if (RECORD_HEADER_LENGTH + argsLength + textLength != length || null == phase ||
                version < MIN_COMPATIBLE_VERSION)
            {
                // Checksummed but inconsistent: written by a bug or an incompatible writer. Stop here as well.
                break;
            }
            if (null != visitor)
            {
                final byte[] args = new byte[argsLength];
                System.arraycopy(bytes, offset + RECORD_HEADER_LENGTH, args, 0, argsLength);
                final String text = new String(bytes, offset + RECORD_HEADER_LENGTH + argsLength, textLength,
                    StandardCharsets.UTF_8);
                record.set(phase, buffer.getInt(offset + 12), buffer.getLong(offset + 16), buffer.getLong(offset + 24),
                    buffer.getLong(offset + 32), buffer.getInt(offset + 40), buffer.getInt(offset + 44), args, text);
                record.fileOffset = offset;
                visitor.accept(record);
            }
            count++;
            offset += length;
        }
        recordCount = count;
        return offset;
    }

    /**
     * Hand every valid record, oldest first, to the visitor. The record object is reused between calls.
     */
    public void replay(final Consumer<JournalRecord> visitor)
    {
        try
        {
            final long end = scan(channel, visitor);
            Verify.invariant(end == lengthBytes, "journal changed under replay");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("task journal " + file + ": replay", ex);
        }
    }

    /**
     * Append one record and (if configured) force it to the device before returning.
     */
    public void append(final JournalRecord record)
    {
        final byte[] text = record.text.isEmpty() ? null : record.textBytes();
        final int argsLength = record.args.length;
        final int textLength = null == text ? 0 : text.length;
        Verify.argument(argsLength <= UtmdLimits.TASK_ARGS_BYTES_MAX, "record args " + argsLength + " bytes");
        final int length = RECORD_HEADER_LENGTH + argsLength + textLength;
        final ByteBuffer buffer = recordBuffer;
        buffer.clear();
        buffer.putInt(0, length);
        buffer.putShort(8, VERSION);
        buffer.putShort(10, (short)record.phase.code());
        buffer.putInt(12, record.typeId);
        buffer.putLong(16, record.taskId);
        buffer.putLong(24, record.correlationId);
        buffer.putLong(32, record.timestampMs);
        buffer.putInt(40, record.step);
        buffer.putInt(44, record.aux);
        buffer.putShort(48, (short)argsLength);
        buffer.putShort(50, (short)textLength);
        buffer.position(RECORD_HEADER_LENGTH);
        buffer.put(record.args, 0, argsLength);
        if (null != text)
        {
            buffer.put(text, 0, textLength);
        }
        buffer.flip();
        crc.reset();
        buffer.limit(4);
        crc.update(buffer);
        buffer.limit(length).position(8);
        crc.update(buffer);
        buffer.putInt(4, (int)crc.getValue());
        buffer.position(0).limit(length);
        try
        {
            long position = lengthBytes;
            while (buffer.hasRemaining())
            {
                position += channel.write(buffer, position);
            }
            if (forceEachRecord)
            {
                channel.force(false);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("task journal " + file + ": append at " + lengthBytes, ex);
        }
        lengthBytes += length;
        recordCount++;
        appendCount++;
    }

    /**
     * Replace the journal by the given records (final records of remembered tasks) with a new task id base.
     * The hook runs just before and just after the atomic rename.
     */
    public void compact(final List<JournalRecord> keep, final long newTaskIdBase, final BoundaryHook hook)
    {
        Verify.argument(newTaskIdBase >= taskIdBase, "task id base going back: " + newTaskIdBase + " < " + taskIdBase);
        try
        {
            final Path temporary = writeFresh(file, newTaskIdBase, keep);
            hook.onBoundary(Boundary.BEFORE_COMPACT_RENAME, 0, -1);
            channel.close();
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            forceDirectory(file);
            hook.onBoundary(Boundary.AFTER_COMPACT_RENAME, 0, -1);
            openAndScan();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("task journal " + file + ": compaction", ex);
        }
        Verify.invariant(recordCount == keep.size(), "compacted journal holds " + recordCount + " of " + keep.size());
    }

    /**
     * Write header + records to a temporary file next to {@code file}, forced; then, if the journal does not
     * exist yet, rename it into place. Returns the temporary path (or the file when created).
     */
    private static Path writeFresh(final Path file, final long taskIdBase, final List<JournalRecord> records)
        throws IOException
    {
        final Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        final ByteBuffer header = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        header.put(MAGIC);
        header.putShort(VERSION);
        header.putShort(MIN_COMPATIBLE_VERSION);
        header.putInt(0);
        header.putLong(taskIdBase);
        final CRC32C headerCrc = new CRC32C();
        headerCrc.update(header.array(), 0, HEADER_CRC_OFFSET);
        header.putInt((int)headerCrc.getValue());
        header.putInt(0);
        header.flip();
        try (FileChannel out = FileChannel.open(temporary, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING))
        {
            while (header.hasRemaining())
            {
                out.write(header);
            }
            out.force(true);
        }
        if (!records.isEmpty())
        {
            final TaskJournal writer = new TaskJournal(temporary, false);
            writer.channel = FileChannel.open(temporary, StandardOpenOption.READ, StandardOpenOption.WRITE);
            writer.lengthBytes = HEADER_LENGTH;
            for (final JournalRecord record : records)
            {
                writer.append(record);
            }
            writer.channel.force(true);
            writer.channel.close();
        }
        if (!Files.exists(file))
        {
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
            forceDirectory(file);
            return file;
        }
        return temporary;
    }

    private static void forceDirectory(final Path file) throws IOException
    {
        final Path directory = file.toAbsolutePath().getParent();
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ))
        {
            dir.force(true);
        }
    }

    public Path file()
    {
        return file;
    }

    public long taskIdBase()
    {
        return taskIdBase;
    }

    public long lengthBytes()
    {
        return lengthBytes;
    }

    /**
     * @return bytes of a torn (or corrupt) tail found and truncated away when the journal was opened.
     */
    public long ignoredTailBytes()
    {
        return ignoredTailBytes;
    }

    public long recordCount()
    {
        return recordCount;
    }

    /**
     * @return records appended since the journal was opened or last compacted.
     */
    public long appendCount()
    {
        return appendCount;
    }

    /**
     * Read every valid record of a journal file without opening it for writing (for tools and tests).
     */
    public static List<JournalRecord> readAll(final Path file) throws IOException
    {
        final List<JournalRecord> records = new ArrayList<>();
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ))
        {
            readHeader(in, file);
            new TaskJournal(file, false).scan(in, record ->
            {
                final JournalRecord copy = new JournalRecord().set(record.phase, record.typeId, record.taskId,
                    record.correlationId, record.timestampMs, record.step, record.aux, record.args, record.text);
                copy.fileOffset = record.fileOffset;
                records.add(copy);
            });
        }
        return records;
    }

    public void close()
    {
        try
        {
            channel.close();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("task journal " + file + ": close", ex);
        }
    }
}
