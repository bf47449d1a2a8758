package io.afasim.controller;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A controller's volume table: name, id, size, write mode and online state of every volume it owns, in a
 * text file on the shared shelf ({@code shelf/volumes-A.conf}, {@code volumes-B.conf}: each controller writes
 * only its own, and reads the peer's to know the volumes it forwards to), replaced atomically (write a temporary
 * file, fsync, rename, fsync the directory) and checksummed.
 *
 * <pre>
 * afasim-volumes 1
 * next-id 4
 * volume 2 vol1 4294967296 1wb online 1      (id name sizeBytes mode state generation)
 * volume 4 db 1073741824 wt offline 3
 * crc32c 1a2b3c4d            (crc32c of every byte before this line)
 * </pre>
 *
 * The table is the commit point of volume create and delete: a pool ({@link Pool}) of this node's id set that
 * neither table names was never acknowledged to an operator and is deleted at start.
 */
final class VolumeTable
{
    static final String FILE_PREFIX = "volumes-";
    static final String MAGIC = "afasim-volumes";
    static final int VERSION = 1;

    /**
     * @param generation grows by one each time the volume changes owner: when both tables name a volume (a move
     *                   interrupted between the new owner's write and the old owner's), the higher generation owns it.
     */
    record Entry(int volumeId, String name, long sizeBytes, WriteModeSetting mode, boolean online, long generation)
    {
        Entry(final int volumeId, final String name, final long sizeBytes, final WriteModeSetting mode,
            final boolean online)
        {
            this(volumeId, name, sizeBytes, mode, online, 1);
        }

        Entry withMode(final WriteModeSetting newMode)
        {
            return new Entry(volumeId, name, sizeBytes, newMode, online, generation);
        }

        Entry withOnline(final boolean newOnline)
        {
            return new Entry(volumeId, name, sizeBytes, mode, newOnline, generation);
        }
    }

    private VolumeTable()
    {
    }

    record Contents(int nextVolumeId, List<Entry> entries)
    {
    }

    /** The table of the volumes {@code node} owns: {@code volumes-<node>.conf}. */
    static String fileName(final String node)
    {
        return FILE_PREFIX + node + ".conf";
    }

    /**
     * Volume ids are allocated per node from disjoint sets (A even from 2, B odd from 1), so the two
     * controllers never hand out the same id without talking to each other.
     */
    static int firstVolumeId(final String node)
    {
        return "A".equals(node) ? 2 : 1;
    }

    static Contents read(final Path directory, final String node) throws IOException
    {
        final Path file = directory.resolve(fileName(node));
        if (!Files.exists(file))
        {
            return new Contents(firstVolumeId(node), List.of());
        }
        final String text = Files.readString(file, StandardCharsets.UTF_8);
        final int crcAt = text.lastIndexOf("crc32c ");
        if (crcAt < 0)
        {
            throw new IOException(file + ": no crc32c line (truncated?)");
        }
        final String body = text.substring(0, crcAt);
        final String stored = text.substring(crcAt + "crc32c ".length()).trim();
        final String computed = checksum(body);
        if (!stored.equals(computed))
        {
            throw new IOException(file + ": checksum mismatch (stored " + stored + ", computed " + computed + ")");
        }
        final String[] lines = body.split("\n");
        if (lines.length < 2 || !lines[0].equals(MAGIC + " " + VERSION) || !lines[1].startsWith("next-id "))
        {
            throw new IOException(file + ": not an afasim volume table of version " + VERSION);
        }
        final int nextId = Integer.parseInt(lines[1].substring("next-id ".length()).trim());
        final List<Entry> entries = new ArrayList<>();
        for (int i = 2; i < lines.length; i++)
        {
            final String[] fields = lines[i].split(" ");
            if (fields.length != 7 || !fields[0].equals("volume"))
            {
                throw new IOException(file + ": line " + (i + 1) + " is not a volume entry: " + lines[i]);
            }
            entries.add(new Entry(
                Integer.parseInt(fields[1]), fields[2], Long.parseLong(fields[3]),
                WriteModeSetting.parse(fields[4]), fields[5].equals("online"), Long.parseLong(fields[6])));
        }
        return new Contents(nextId, entries);
    }

    static void write(final Path directory, final String node, final Contents contents) throws IOException
    {
        final StringBuilder body = new StringBuilder();
        body.append(MAGIC).append(' ').append(VERSION).append('\n');
        body.append("next-id ").append(contents.nextVolumeId()).append('\n');
        for (final Entry entry : contents.entries())
        {
            body.append("volume ").append(entry.volumeId()).append(' ').append(entry.name()).append(' ')
                .append(entry.sizeBytes()).append(' ').append(entry.mode().label()).append(' ')
                .append(entry.online() ? "online" : "offline").append(' ').append(entry.generation()).append('\n');
        }
        final String text = body + "crc32c " + checksum(body.toString()) + "\n";
        final Path temporary = directory.resolve(fileName(node) + ".tmp");
        try (FileChannel channel = FileChannel.open(temporary,
            StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING))
        {
            channel.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            channel.force(true);
        }
        Files.move(temporary, directory.resolve(fileName(node)), StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ))
        {
            dir.force(true);
        }
    }

    private static String checksum(final String body)
    {
        final CRC32C crc = new CRC32C();
        crc.update(body.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }
}
